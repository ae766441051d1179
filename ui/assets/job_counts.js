// The sidebar's job counts (ui/job_counts.py): asks the server for them every few seconds and changes one line of
// text when they change; at once when a live panel on the page sees its run start or end. Plain DOM, nothing to
// build.
const JOBS_CHANGED = "lesson1:jobs-changed";         // sent by live_panel.js
export default function (component) {
  const { data, parentElement } = component;
  if (parentElement.__lesson1Jobs) parentElement.__lesson1Jobs();      // drawn again with new data: one poller
  const root = document.createElement("p");
  root.className = "jobs";
  const name = document.createElement("strong");
  name.textContent = "Jobs:";
  const counts = document.createElement("span");
  counts.textContent = data.line;                 // always text, never markup
  root.append(name, " ", counts);
  for (const old of Array.from(parentElement.children)) {
    if (old.classList.contains("jobs")) old.remove();          // ours only: Streamlit's <style> stays
  }
  parentElement.append(root);

  let closed = false, timer = null, failures = 0, asking = false, again = false;
  async function poll() {
    if (closed) return;
    if (asking) { again = true; return; }          // an answer on its way may be older than the change: ask again
    clearTimeout(timer);
    asking = true;
    let wait = document.hidden ? 5 * data.poll_ms : data.poll_ms;
    try {
      const response = await fetch(`${data.url}?token=${encodeURIComponent(data.token)}`, { cache: "no-store" });
      const body = await response.json();
      if (closed) return;
      if (response.status === 403) return;           // a page from before the server restarted: reloading fixes it
      if (response.ok && body.line !== counts.textContent) counts.textContent = body.line;
      failures = 0;
    } catch (err) {
      failures += 1;                                 // the server is restarting, or the network dropped
      wait = Math.min(30000, data.poll_ms * 2 ** failures);
    }
    asking = false;
    timer = setTimeout(poll, again ? 0 : wait);
    again = false;
  }
  timer = setTimeout(poll, data.poll_ms);
  window.addEventListener(JOBS_CHANGED, poll);

  const close = () => {
    closed = true;
    clearTimeout(timer);
    window.removeEventListener(JOBS_CHANGED, poll);
    delete parentElement.__lesson1Jobs;
  };
  parentElement.__lesson1Jobs = close;
  return close;
}

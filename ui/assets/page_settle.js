// While a page first draws, its lesson sections below the screen are not laid out until scrolled to (ui/frame.py:
// content-visibility), which made switching lessons ~0.1 s faster (0.3 s at worst). Chrome also leaves a skipped
// section out of its accessibility tree: a screen reader could not find a lesson's Train button or later headings.
// So once the page has drawn and the browser is idle, this marks the page settled and every section is drawn for
// good; the next page starts unsettled again.
const SETTLED = "l1Settled";                // <html data-l1-settled>

export default function (component) {
  const { data } = component;
  const now = window.__lesson1Settle;
  if (now && now.page === data.page) return;             // the same page drawn again: already settled or settling
  if (now) now.stop();
  delete document.documentElement.dataset[SETTLED];
  let stopped = false, timer = null;
  const whenIdle = window.requestIdleCallback
    ? (f) => window.requestIdleCallback(f, { timeout: 2000 })
    : (f) => setTimeout(f, 50);
  function check() {
    if (stopped) return;
    const app = document.querySelector("[data-testid='stApp']");
    if (app && app.getAttribute("data-test-script-state") === "notRunning") {
      whenIdle(() => { if (!stopped) document.documentElement.dataset[SETTLED] = ""; });
    } else {
      timer = setTimeout(check, 250);
    }
  }
  timer = setTimeout(check, 250);
  window.__lesson1Settle = { page: data.page, stop: () => { stopped = true; clearTimeout(timer); } };
}

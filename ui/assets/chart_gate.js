// A chart's stand-in until the student scrolls near it (ui/charts.py): it holds the chart's height, so nothing
// below it jumps, and says once that it came within a screen of the window; the server then draws the chart here.
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let box = parentElement.querySelector(".chart-gate");
  if (!box) {
    box = document.createElement("div");
    box.className = "chart-gate";
    parentElement.append(box);
  }
  box.style.height = `${data.height}px`;
  if (data.seen) return undefined;

  // The page scrolls inside Streamlit's main area, not the window: watch against it, one screen ahead.
  const host = parentElement.host || parentElement;
  const watch = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) {
      watch.disconnect();
      setStateValue("seen", true);
    }
  }, { root: scroller(host), rootMargin: "100% 0px" });
  watch.observe(box);
  return () => watch.disconnect();
}

function scroller(element) {
  for (let node = element.parentElement; node; node = node.parentElement) {
    const overflow = getComputedStyle(node).overflowY;
    if ((overflow === "auto" || overflow === "scroll") && node.scrollHeight > node.clientHeight) return node;
  }
  return null;                                       // the window itself
}

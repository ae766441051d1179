// A chart's stand-in until the student scrolls near it (ui/charts.py): it holds the chart's height, so nothing
// below it jumps, and says that it came within a screen of the window; the server then draws the chart here.

// Stand-ins speak one at a time: Streamlit sends the widget changes of one moment as one message, which reruns one
// fragment, so two charts side by side coming into view together would otherwise draw only one.
let speaking = Promise.resolve();
function inTurn(say) {
  speaking = speaking.then(() => new Promise((done) => setTimeout(() => { say(); done(); }, 20)));
}

const ASK_AGAIN_MS = 3000;          // the chart has not come: the message or its rerun was lost, say it again

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  if (parentElement.__lesson1Gate) parentElement.__lesson1Gate();      // drawn again: one watcher, one timer
  let box = parentElement.querySelector(".chart-gate");
  if (!box) {
    box = document.createElement("div");
    box.className = "chart-gate";
    parentElement.append(box);
  }
  box.style.height = `${data.height}px`;
  if (data.seen) return undefined;

  let closed = false, timer = null, asked = 0;
  const ask = () => {
    if (closed) return;
    asked += 1;
    setStateValue("seen", asked);                  // a new value each time, so that each one reruns the fragment
    timer = setTimeout(() => inTurn(ask), ASK_AGAIN_MS);
  };
  // The page scrolls inside Streamlit's main area, not the window: watch against it, one screen ahead.
  const watch = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) {
      watch.disconnect();
      inTurn(ask);
    }
  }, { root: scroller(parentElement.host || parentElement), rootMargin: "100% 0px" });
  watch.observe(box);

  const close = () => {
    closed = true;
    watch.disconnect();
    clearTimeout(timer);
    delete parentElement.__lesson1Gate;
  };
  parentElement.__lesson1Gate = close;
  return close;
}

function scroller(element) {
  for (let node = element.parentElement; node; node = node.parentElement) {
    const overflow = getComputedStyle(node).overflowY;
    if (overflow === "auto" || overflow === "scroll") return node;
  }
  return null;                                       // the window itself
}

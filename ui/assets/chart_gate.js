// A chart's stand-in until the student scrolls near it (ui/charts.py): it holds the chart's height, so nothing
// below it jumps, and says that it came within half a screen of the window; the server then draws the chart here.

// Stand-ins speak one at a time, each when the browser is idle. Streamlit's frontend sends the widget changes made
// before its next task as one message, which reruns one fragment (its console: "Multiple different fragmentIds
// detected in a single batch"): two charts coming into view together would draw only one, and a stand-in speaking
// just before the student's own click would take that click's rerun, so the click would seem lost.
const whenIdle = window.requestIdleCallback
  ? (f) => window.requestIdleCallback(f, { timeout: 5000 })
  : (f) => setTimeout(f, 50);
let speaking = Promise.resolve();
function inTurn(say) {
  speaking = speaking.then(() => new Promise((done) => whenIdle(() => {
    try { say(); } finally { setTimeout(done, 20); }      // the next one after this one's message has gone
  })));
}

// The chart has not come: the message or its rerun was lost, say it again, waiting twice as long each time (3, 6,
// 12 s...): a busy class server must not be asked for a rerun faster than it can answer one.
const ASK_AGAIN_MS = 3000;

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
    setStateValue("width", Math.round(box.getBoundingClientRect().width));   // the same message: for a narrow layout
    setStateValue("seen", asked);                  // a new value each time, so that each one reruns the fragment
    timer = setTimeout(() => inTurn(ask), ASK_AGAIN_MS * 2 ** (asked - 1));
  };
  // The page scrolls inside Streamlit's main area, not the window: watch against it, half a screen ahead.
  const watch = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) {
      watch.disconnect();
      inTurn(ask);
    }
  }, { root: scroller(parentElement.host || parentElement), rootMargin: "50% 0px" });
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
  const main = element.closest('[data-testid="stMain"]');          // the app's own scrolling area
  if (main) return main;
  for (let node = element.parentElement; node; node = node.parentElement) {   // elsewhere, the first that scrolls
    const overflow = getComputedStyle(node).overflowY;
    if (overflow === "auto" || overflow === "scroll") return node;
  }
  return null;                                       // the window itself
}

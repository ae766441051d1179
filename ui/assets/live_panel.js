// The live panel of a training run (ui/live_panel.py): asks the server for the run's state every second and draws
// the progress line, the epoch table and the loss chart. Plain DOM and one SVG: no framework, nothing to build.
const SVG = "http://www.w3.org/2000/svg";
const CHART = { height: 360, left: 56, right: 16, top: 16, bottom: 44 };
const JOBS_CHANGED = "lesson1:jobs-changed";         // heard by job_counts.js

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;      // always text, never markup: run titles come from students
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// About six round numbers within [lo, hi], as a chart axis would put them.
function ticks(lo, hi, count = 6) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function label(v) {
  return Math.abs(v) >= 1000 ? v.toLocaleString("en") : String(+v.toPrecision(4));
}

function drawChart(host, curves, colors, width) {
  const { height, left, right, top, bottom } = CHART;
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
                             "aria-label": "Loss as training goes" });
  const steps = curves.step.concat(curves.valid_step);
  const values = curves.raw.concat(curves.smooth, curves.valid).filter((v) => v !== null);
  if (!steps.length || !values.length) {
    host.replaceChildren(el("div", "empty", "The loss appears here after the first batches."));
    return;
  }
  const x0 = Math.min(...steps) - 0.5, x1 = Math.max(x0 + 1, Math.max(...steps) + 0.5);
  let y0 = Math.min(...values), y1 = Math.max(...values);
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  const X = (s) => left + ((s - x0) / (x1 - x0)) * (width - left - right);
  const Y = (v) => top + (1 - (v - y0) / (y1 - y0)) * (height - top - bottom);

  for (const span of curves.phases) {
    const a = X(Math.max(x0, span.from - 0.5)), b = X(Math.min(x1, span.to + 0.5));
    chart.append(svg("rect", { x: a, y: top, width: Math.max(0, b - a), height: height - top - bottom,
                               fill: colors.phases[span.phase] || "none" }));
    const name = svg("text", { x: a + 4, y: top + 14, fill: colors.muted, class: "note" });
    name.textContent = span.phase;
    chart.append(name);
  }
  for (const v of ticks(y0, y1)) {
    chart.append(svg("line", { x1: left, x2: width - right, y1: Y(v), y2: Y(v), class: "grid" }));
    const t = svg("text", { x: left - 6, y: Y(v) + 4, "text-anchor": "end", class: "tick" });
    t.textContent = label(v);
    chart.append(t);
  }
  for (const s of ticks(x0, x1).filter((s) => Number.isInteger(s))) {
    chart.append(svg("line", { x1: X(s), x2: X(s), y1: top, y2: height - bottom, class: "grid" }));
    const t = svg("text", { x: X(s), y: height - bottom + 16, "text-anchor": "middle", class: "tick" });
    t.textContent = label(s);
    chart.append(t);
  }
  const xTitle = svg("text", { x: (left + width - right) / 2, y: height - 6, "text-anchor": "middle", class: "axis" });
  xTitle.textContent = "batches seen (optimizer steps)";
  const yTitle = svg("text", { x: 14, y: (top + height - bottom) / 2, "text-anchor": "middle", class: "axis",
                               transform: `rotate(-90 14 ${(top + height - bottom) / 2})` });
  yTitle.textContent = "loss";
  chart.append(xTitle, yTitle);

  const line = (xs, ys) => xs.map((s, i) => (ys[i] === null ? null : `${X(s).toFixed(1)},${Y(ys[i]).toFixed(1)}`))
    .filter((p) => p !== null).join(" ");
  chart.append(svg("polyline", { points: line(curves.step, curves.raw), fill: "none", stroke: colors.train,
                                 "stroke-width": 1, opacity: 0.25 }));
  chart.append(svg("polyline", { points: line(curves.step, curves.smooth), fill: "none", stroke: colors.train,
                                 "stroke-width": 2 }));
  if (curves.valid_step.length) {
    chart.append(svg("polyline", { points: line(curves.valid_step, curves.valid), fill: "none",
                                   stroke: colors.valid, "stroke-width": 2 }));
    curves.valid_step.forEach((s, i) => {
      if (curves.valid[i] !== null) chart.append(svg("circle", { cx: X(s), cy: Y(curves.valid[i]), r: 4.5,
                                                                 fill: colors.valid }));
    });
  }
  host.replaceChildren(chart);
}

function drawTable(host, table) {
  if (!table.columns.length) { host.replaceChildren(); return; }
  const head = el("tr");
  table.columns.forEach((c) => head.append(el("th", "", c)));
  const rows = table.rows.map((cells) => {
    const tr = el("tr");
    cells.forEach((c) => tr.append(el("td", "", c)));
    return tr;
  });
  const t = el("table", "epochs");
  t.append(el("thead"), el("tbody"));
  t.tHead.append(head);
  t.tBodies[0].append(...rows);
  host.replaceChildren(t);
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const focused = parentElement.getRootNode().activeElement;        // Stop, pressed from the keyboard: keep it there
  const refocus = Boolean(focused && focused.classList && focused.classList.contains("stop"));
  if (parentElement.__lesson1Live) parentElement.__lesson1Live();       // drawn again with new data: one poller
  const colors = data.colors;
  const root = el("div", data.still ? "live still" : "live");
  const top = el("div", "top");
  const status = el("div", "status");
  const line = el("div", "line");
  const bar = el("div", "bar");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-label", data.replay ? "The ready-made run's progress" : "Training progress");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  const fill = el("div", "fill");
  bar.append(fill);
  // What a screen reader says, politely, when the run moves on: waiting, each epoch, the end; not every second.
  const said = el("div", "said");
  said.setAttribute("role", "status");
  status.append(line, bar, said);
  const side = el("div", "side");
  top.append(status, side);
  const tableHost = el("div", "table");
  const chartHost = el("div", "chart");
  const legend = el("div", "legend");
  [["train loss (each batch)", colors.train, "faint"], ["train loss (smoothed)", colors.train, ""],
   ["valid loss (end of each epoch)", colors.valid, ""]].forEach(([name, color, kind]) => {
    const item = el("span", `key ${kind}`);
    const swatch = el("i");
    swatch.style.background = color;
    item.append(swatch, document.createTextNode(name));
    legend.append(item);
  });
  const chartBox = el("div", "chart-box");
  chartBox.append(el("div", "title", "Loss as training goes"), legend, chartHost);
  if (!data.still) root.append(top);
  if (data.table && !data.still) root.append(tableHost);
  if (data.chart) root.append(chartBox);
  for (const old of Array.from(parentElement.children)) {        // (a shadow root: `:scope >` matches nothing)
    if (old.classList.contains("live")) old.remove();          // ours only: Streamlit's <style> stays
  }
  parentElement.append(root);
  const drawCurves = (curves) => drawChart(chartHost, curves, colors, Math.max(240, root.clientWidth));
  if (data.still) return still(parentElement, root, () => drawCurves(data.first.curves));

  let current = data.first, closed = false, timer = null, failures = 0, stopping = false;
  const shownAt = performance.now();
  // A ready-made run replaying: the page said where the replay stood when it was drawn; this tab keeps its clock.
  // A student who asked their system for less motion gets the finished run at once.
  const lessMotion = Boolean(data.replay && window.matchMedia &&
                             window.matchMedia("(prefers-reduced-motion: reduce)").matches);
  const replayedFor = () => lessMotion ? 1e12
    : data.replay.from + ((performance.now() - shownAt) / 1000) * data.replay.speed;

  // One Stop button, changed in place: a new one would drop the keyboard's focus to the page. "Stopping…" is
  // aria-disabled, not disabled, which would drop it too.
  const stop = el("button", "stop", "Stop");
  stop.type = "button";
  stop.onclick = () => {
    if (stop.getAttribute("aria-disabled") === "true") return;
    stopping = true;
    drawSide();
    setTriggerValue("stop", true);
  };

  function drawSide() {
    if (data.can_stop && current.active) {
      const asked = stopping || current.line === "Stopping…";
      stop.textContent = asked ? "Stopping…" : "Stop";
      stop.setAttribute("aria-disabled", String(asked));
      if (stop.parentNode !== side) side.replaceChildren(stop);
    } else {
      if (data.note) side.replaceChildren(el("span", "note", data.note));
      else side.replaceChildren();
    }
  }

  function drawLine() {
    line.textContent = current.line;
    root.dataset.status = current.status;
    bar.hidden = current.status === "queued";
    fill.style.width = `${(100 * current.fraction).toFixed(1)}%`;
    bar.setAttribute("aria-valuenow", (100 * current.fraction).toFixed(0));
    if (!data.replay) {
      // "Training, epoch 2 of 6": not its batch and seconds
      const news = current.line.split(" · ")[0].replace(" — ", ", ");
      if (news !== said.textContent) said.textContent = news;
    }
  }

  function drawAll() {
    drawLine();
    drawSide();
    if (data.table) drawTable(tableHost, current.table);
    if (data.chart && current.curves) drawCurves(current.curves);
  }

  async function poll() {
    if (closed) return;
    let wait = document.hidden ? 5 * data.poll_ms : data.poll_ms;
    try {
      let query = `?token=${encodeURIComponent(data.token)}&v=${encodeURIComponent(current.version)}`;
      if (data.replay) query += `&at=${replayedFor().toFixed(2)}`;
      const response = await fetch(data.url + query, { cache: "no-store" });
      const body = await response.json();
      if (closed) return;
      if (!response.ok) {
        line.textContent = body.error || "This run can't be watched any more: reload the page.";
        return;                                             // the server said no: asking again would not help
      }
      failures = 0;
      if (body.same) {
        current = { ...current, line: body.line, fraction: body.fraction };
        drawLine();
      } else {
        const moved = body.status !== current.status;
        current = body;
        drawAll();
        // The sidebar's counts (job_counts.js) ask again now, instead of up to one of their polls later.
        if (moved && !data.replay) window.dispatchEvent(new Event(JOBS_CHANGED));
        if (!current.active) {
          setTriggerValue("status", current.status);         // it ended: the page reruns and draws the results
          return;
        }
      }                  // it started: nothing else on the page changes
    } catch (err) {
      failures += 1;                                       // the server is restarting, or the network dropped
      wait = Math.min(10000, data.poll_ms * 2 ** failures);
    }
    timer = setTimeout(poll, wait);
  }

  const resized = new ResizeObserver(() => {
    if (data.chart && current.curves) drawCurves(current.curves);
  });
  resized.observe(root);
  drawAll();
  if (refocus && stop.isConnected) stop.focus();
  timer = setTimeout(poll, lessMotion ? 0 : data.poll_ms);

  const close = () => {
    closed = true;
    clearTimeout(timer);
    resized.disconnect();
    delete parentElement.__lesson1Live;
  };
  parentElement.__lesson1Live = close;
  return close;
}

// The loss chart alone and still (ui/live_panel.show_curves): a run that has ended, or one a fragment redraws.
// Nothing to poll; drawn again when its width changes.
function still(parentElement, root, draw) {
  const resized = new ResizeObserver(draw);
  resized.observe(root);
  draw();
  const close = () => {
    resized.disconnect();
    delete parentElement.__lesson1Live;
  };
  parentElement.__lesson1Live = close;
  return close;
}

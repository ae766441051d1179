// A confusion matrix (ui/matrix.py) as a table of buttons: one per cell, shaded by its share of the row, so a
// student clicks a cell to see its items. Plain DOM: no Plotly to load for it (~0.5 s of a first visit's browser).
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  for (const old of Array.from(parentElement.children)) {
    if (old.classList.contains("cm")) old.remove();              // drawn again: ours only, Streamlit's <style> stays
  }
  const { counts, labels, unit, selected } = data;
  const root = document.createElement("div");
  root.className = labels.length > DENSE ? "cm dense" : "cm";     // many classes: small cells, names upright
  if (data.title) {
    const title = document.createElement("p");
    title.className = "cm-title";
    title.textContent = data.title;                              // always text, never markup
    root.append(title);
  }
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  head.append(header("actual ↓  predicted →", "corner"));
  for (const name of labels) head.append(header(name, "col"));
  const body = table.createTBody();
  counts.forEach((row, a) => {
    const line = body.insertRow();
    line.append(header(labels[a], "row"));
    const total = row.reduce((sum, n) => sum + n, 0) || 1;
    row.forEach((n, p) => {
      const td = document.createElement("td");
      const button = document.createElement("button");
      const share = n / total;
      button.textContent = String(n);
      button.style.background = shade(share);
      button.style.color = share > 0.55 ? "white" : "black";
      button.title = `really ${labels[a]}, predicted ${labels[p]}: ${n} ${unit}` + (n ? " (click to see them)" : "");
      button.setAttribute("aria-label", button.title);
      if (a === p) button.classList.add("right");
      if (selected && selected[0] === a && selected[1] === p) {
        button.classList.add("selected");
        button.setAttribute("aria-pressed", "true");
      }
      button.disabled = n === 0;
      button.addEventListener("click", () => setStateValue("cell", [a, p]));
      td.append(button);
      line.append(td);
    });
  });
  root.append(table);
  parentElement.append(root);
  return undefined;
}

const DENSE = 8;

function header(text, kind) {
  const th = document.createElement("th");
  th.textContent = text;
  th.title = text;
  th.className = kind;
  if (kind !== "corner") th.scope = kind;
  return th;
}

// Plotly's "Blues", from white to dark blue, by the share of the row in the cell.
const BLUES = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];
function shade(share) {
  const at = Math.max(0, Math.min(1, share)) * (BLUES.length - 1);
  const low = Math.floor(at), high = Math.min(low + 1, BLUES.length - 1), t = at - low;
  const rgb = BLUES[low].map((c, k) => Math.round(c + (BLUES[high][k] - c) * t));
  return `rgb(${rgb.join(",")})`;
}

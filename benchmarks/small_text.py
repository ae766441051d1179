"""How small the text in the lessons' drawings and charts is drawn, in a window of a given size.

    .venv/bin/python benchmarks/small_text.py [--width 800] [--height 1000] [--below 10] [--pages collab ...]

A drawing (an SVG made by core/, ui/images.drawing) scales with its place, and its text with it: a drawing made for
a page's whole width, shrunk into half a laptop's window, had its numbers at 6-8 px. Plotly's text keeps its size.
This starts `streamlit run` on an empty run store (each lesson shows its ready-made run), opens every page in headless
Chromium at the window's size, scrolls it through (charts are drawn when scrolled near), and prints, per drawing or
chart, the texts drawn smaller than --below px (a text's font size times the scale its SVG is drawn at): the
smallest first, and how many. Hidden drawings (the other layout of a drawing that has two) are not counted.
"""
import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_watching import CHROMIUM_ARGS, Server, wait_idle  # noqa: E402

PAGES = ["", "image_classification", "segmentation", "tabular", "collab", "how_training_works", "my_runs", "compare"]

# Every SVG text on the page that is drawn (a hidden one has no box), smaller than `limit` px, by its drawing or chart.
SMALL_TEXTS = """(limit) => {
  const found = {};
  for (const text of document.querySelectorAll('[data-testid="stMain"] svg text')) {
    const box = text.getBoundingClientRect();
    const scale = text.getScreenCTM();
    if (!text.textContent.trim() || box.width === 0 || !scale) continue;
    const px = parseFloat(getComputedStyle(text).fontSize) * Math.hypot(scale.a, scale.b);
    if (px >= limit) continue;
    const plot = text.closest('.js-plotly-plot');
    const name = plot ? 'chart: ' + (plot.querySelector('.gtitle')?.textContent || '(untitled)')
                      : 'drawing: ' + (text.ownerSVGElement.getAttribute('aria-label') || '(unlabelled)');
    (found[name.slice(0, 70)] = found[name.slice(0, 70)] || []).push([px, text.textContent.trim().slice(0, 24)]);
  }
  return found;
}"""


def scroll_through(page, height: int) -> None:
    top = 0
    for _ in range(80):
        page.evaluate(f"document.querySelector('[data-testid=stMain]').scrollTo(0, {top})")
        page.wait_for_timeout(700)
        if top + height >= page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight"):
            break
        top += height - 100
    page.wait_for_timeout(2500)                           # the last charts drawn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=800, help="the window's width, px (800: half a laptop's screen)")
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--below", type=float, default=10, help="list texts drawn smaller than this, px")
    parser.add_argument("--pages", nargs="*", default=PAGES, help="url paths ('' is the welcome page)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    runs = Path(tempfile.mkdtemp()) / "runs"
    runs.mkdir()
    server = Server(runs)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": args.width, "height": args.height},
                                       device_scale_factor=1).new_page()
            print(f"window {args.width} x {args.height}; texts drawn smaller than {args.below:g} px")
            for name in args.pages:
                page.goto(f"{server.url}/{name}")
                wait_idle(page)
                scroll_through(page, args.height)
                found = page.evaluate(SMALL_TEXTS, args.below)
                print(f"{name or 'welcome'}: {len(found) or 'none'}")
                for place, texts in sorted(found.items(), key=lambda kv: min(px for px, _ in kv[1])):
                    texts.sort()
                    print(f"    {place}: {len(texts)} texts, {texts[0][0]:.1f}-{texts[-1][0]:.1f} px "
                          f"(smallest: '{texts[0][1]}')")
            browser.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

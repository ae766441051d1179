"""The README's pictures, taken from the app as it is: a real server on the embedded data, headless Chromium.

    .venv/bin/python docs/screenshots.py

Writes docs/screenshot-home.png (the welcome page), docs/screenshot-training.png (the bird lesson's ready-made run
replaying through the live panel) and docs/screenshot-inside.png (what that model looks at). Needs Chromium at
/usr/bin/chromium and Playwright's Python package (requirements-dev.txt), as the browser tests do.
"""
import re
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
from benchmarks.bench_startup import open_when_up, start_server  # noqa: E402
from benchmarks.bench_watching import CHROMIUM_ARGS, wait_idle  # noqa: E402

VIEWPORT = {"width": 1400, "height": 1000}


def main() -> None:
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        server, url, _ = start_server(Path(tmp))
        try:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            open_when_up(page, url)
            page.get_by_role("heading", name="Lesson 1").first.wait_for(timeout=90_000)
            page.get_by_text("Jobs:").wait_for(timeout=90_000)            # the sidebar found the workers
            wait_idle(page)
            time.sleep(1)
            page.screenshot(path=str(DOCS / "screenshot-home.png"))

            page.goto(f"{url}/image_classification")
            wait_idle(page, timeout=180_000)
            replaying = page.get_by_text(re.compile(r"Replaying — epoch 2"))
            replaying.wait_for(timeout=180_000)             # the unfrozen epoch: a few points on the loss chart
            page.get_by_text("This is the course's ready-made run").evaluate(
                "e => e.scrollIntoView({block: 'start'})")               # the panel, its epoch table and chart
            page.mouse.wheel(0, -60)
            time.sleep(3)
            page.screenshot(path=str(DOCS / "screenshot-training.png"))

            page.get_by_text("8. What the model looks at").wait_for(timeout=300_000)     # the replay ended
            wait_idle(page, timeout=120_000)
            page.get_by_text("the photo as the model sees it").first.scroll_into_view_if_needed()
            page.mouse.wheel(0, 250)
            time.sleep(2)
            page.screenshot(path=str(DOCS / "screenshot-inside.png"))
            browser.close()
        finally:
            server.terminate()
            server.wait(15)
    for name in ("screenshot-home.png", "screenshot-training.png", "screenshot-inside.png"):
        print(DOCS / name)


if __name__ == "__main__":
    main()

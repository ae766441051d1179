"""Memory returns to its level: decompression bombs and zip bombs fed to the pages never get inflated.

The process's resident memory (VmRSS) is sampled every few milliseconds while the bombs go through the pages, after
a warm-up that pays for imports, caches and a first pass through the same code. The bounds:
- PEAK_RISE, 160 MiB: a zip reader may hold one member while it counts it, up to the photo zip's 20 MB limit (the
  segmentation zip's 30 MB), plus the copy a growing buffer makes; the page's own elements come on top. Every bomb
  here would take at least 1 GiB inflated (the zips), 126 MB (the 42-megapixel flood, as RGB) or tens of gigabytes
  (the headers claiming 100000 x 100000 pixels): under the bound, none was.
- SETTLED_RISE, 128 MiB: once a refused upload is gone nothing of it may stay (caches keep accepted uploads only).
  Measured, the level after a round of the 16 bombs moves by 0 to ~85 MiB from round to round, up and down (a page's
  last run keeps its elements and images until the next): no trend. Keeping even the bounded part of each refused
  zip read (up to 20-30 MB) would add about a gigabyte over the 48 uploads here; a kept bomb, a gigabyte each.
"Settled" is after garbage collection and glibc's malloc_trim: each script run is a new thread, and glibc keeps what
a thread freed in that thread's arena for the next one (reused, so bounded, but it reads as resident memory); trimmed,
what is left is what is still allocated. Each bomb's peak is measured from the settled level just before it.
"""
import ctypes
import ctypes.util
import gc
import threading
import time
from pathlib import Path

import pytest

from tests.bad_input.corpus import case
from tests.bad_input.paths import path

MiB = 2**20
PEAK_RISE = 160 * MiB
SETTLED_RISE = 128 * MiB
BOMBS = {"ic_zip": ["zip_bomb_declared", "zip_bomb_lying", "zip_bomb_lying_tiny", "zip_ratio", "zip_all_bad_files"],
         "seg_zip": ["zip_bomb_lying", "zip_bomb_lying_tiny", "seg_mask_bomb"],
         "ic_use_photo": ["bomb_png_100k", "bomb_png_flood", "bomb_jpeg_header", "bomb_gif_header", "text_bomb_png"],
         "seg_photo": ["bomb_png_100k", "bomb_png_flood", "text_bomb_png"]}
WARM_UP = {"ic_zip": "good_photo_zip", "seg_zip": "good_seg_zip", "ic_use_photo": "good_jpeg",
           "seg_photo": "good_jpeg"}


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Peak:
    """The highest VmRSS seen while the block runs, sampled every 2 ms from a thread."""

    def __enter__(self):
        self.highest, self._stop = rss(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.002):
            self.highest = max(self.highest, rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.highest = max(self.highest, rss())


def settled() -> int:
    """Resident memory once garbage is collected and the allocator has handed back what it only keeps."""
    for _ in range(3):
        gc.collect()
    libc = ctypes.util.find_library("c")
    if libc:
        ctypes.CDLL(libc).malloc_trim(0)
    time.sleep(0.1)
    return rss()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_bombs_through_the_pages_never_inflate_and_memory_returns_to_its_level(runs, nothing_written_outside):
    sessions = {name: path(name).open(runs) for name in BOMBS}
    for name, at in sessions.items():                       # warm up: imports, caches, the code paths once
        p = path(name)
        p.upload(at, case(WARM_UP[name]))
        for bomb in BOMBS[name]:
            p.upload(at, case(bomb))
        assert not at.exception
    baseline = settled()
    rises = {}
    for _ in range(3):
        for name, at in sessions.items():
            for bomb in BOMBS[name]:
                before = settled()
                with Peak() as peak:
                    path(name).upload(at, case(bomb))
                assert not at.exception and at.error, (name, bomb)        # refused, with a sentence
                rises[name, bomb] = max(rises.get((name, bomb), 0), peak.highest - before)
    after = settled()
    worst = max(rises, key=rises.get)
    assert rises[worst] < PEAK_RISE, f"resident memory rose {rises[worst] / MiB:.0f} MiB for {worst}"
    assert after - baseline < SETTLED_RISE, f"{(after - baseline) / MiB:.0f} MiB stayed after the bombs"

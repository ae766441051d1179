"""Rebuild the embedded "Is it a bird?" photos from Tux Paint's photo stamps.

Run:  .venv/bin/python datasets/birds/build.py

Debian's `tuxpaint-stamps-default` ships real photos cut out with an alpha mask
(/usr/share/tuxpaint/stamps/<category>/.../*.png, GPL-2). We keep the photos (no
cartoons, no clip-art: see `looks_like_a_photo`), paste each one onto a crop of a
texture bundled with scikit-image (or a plain sky) so the result looks like a snapshot,
and save small JPEGs plus labels.csv. Birds are rarer than "everything else", so each
bird gets several variants (other background, position, size); variants of one stamp
share a `group`, so the lesson's splitter keeps them on the same side of the split.

Everything is seeded: running this again writes the same files.
"""
import csv
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

STAMPS = Path("/usr/share/tuxpaint/stamps")
HERE = Path(__file__).resolve().parent
SEED = 42
LONG_SIDE = 192                      # stored images: 192x144, 144x192 or 176x176
SHAPES = [(192, 144), (144, 192), (176, 176)]
BIRD_VARIANTS = 4
OTHER_VARIANTS = 1

# top-level stamp folder -> class for the multi-class version ("what kind of thing is it?")
KIND = {"animals": "animals", "food": "food", "plants": "plants", "vehicles": "vehicles",
        "military": "vehicles", "household": "things", "clothes": "things", "hobbies": "things",
        "sports": "things", "medical": "things", "people": "things"}
# mixed bags of drawings and photos, or not things at all: left out
SKIP_FOLDERS = {"cartoon", "symbols", "seasonal", "town", "space", "naturalforces"}
# drawings that pass the colour test
DRAWINGS = {"flower1", "flower2", "flower3", "flower4", "flower5", "flower6", "flower7",
            "flower8", "flower9", "flower10", "eye", "rubberduck", "button",
            "propeller_hat", "feathered_hat", "fireman240a", "fireman200b", "paratrooper",
            "pizza"}


def looks_like_a_photo(rgba: np.ndarray) -> bool:
    """Clip-art uses a few flat colours; a photo uses hundreds (counted on 5-bit colours)."""
    opaque = rgba[..., 3] > 128
    q = rgba[..., :3][opaque].astype(np.int32) // 8
    return len(np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2])) >= 200 and min(rgba.shape[:2]) >= 40


def find_stamps():
    stamps = []
    for path in sorted(STAMPS.rglob("*.png")):
        rel = path.relative_to(STAMPS)
        if SKIP_FOLDERS & set(rel.parts) or path.stem in DRAWINGS or path.stem.endswith("_mirror"):
            continue
        is_bird = rel.parts[:2] == ("animals", "birds")
        kind = "birds" if is_bird else KIND.get(rel.parts[0])
        if kind is None:
            continue
        rgba = np.asarray(Image.open(path).convert("RGBA"))
        if not looks_like_a_photo(rgba):
            continue
        dat = path.with_suffix(".dat")
        can_flip = not (dat.exists() and "noflip" in dat.read_text(errors="ignore"))
        stamps.append(dict(path=path, rel=rel, kind=kind, rgba=rgba, can_flip=can_flip))
    return stamps


def load_backgrounds():
    """Textures from scikit-image (CC0; see ATTRIBUTION), tinted, some blurred, and a plain sky gradient.
    (Busy photos such as skimage's coffee cup or astronaut were tried first: ImageNet features then describe
    the background more than the animal, and the lesson's 2-epoch fine_tune could not reach 5% error.)"""
    import skimage.data as sd

    def tint(gray, rgb):  # the textures are grey: give them their natural colour back
        return np.clip(gray[..., None].astype(np.float32) * np.array(rgb), 0, 255).astype(np.uint8)

    def soft(img, radius):  # sand and snow: gravel, blurred
        return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius)))

    def sky():  # a clear sky: the one background that is not a photo, but birds are often seen on it
        rows = np.linspace(0, 1, 512)[:, None, None]
        top, bottom = np.array([70, 130, 210]), np.array([190, 215, 240])
        return np.broadcast_to(top + (bottom - top) * rows, (512, 512, 3)).astype(np.uint8).copy()

    return {
        "grass": tint(sd.grass(), (0.55, 0.85, 0.4)),
        "gravel": tint(sd.gravel(), (0.95, 0.88, 0.75)),
        "brick": tint(sd.brick(), (1.0, 0.62, 0.5)),
        "sand": soft(tint(sd.gravel(), (1.05, 0.92, 0.7)), 2),
        "snow": soft(tint(sd.gravel(), (1.3, 1.35, 1.45)), 3),
        "moss": tint(sd.gravel(), (0.45, 0.6, 0.3)),
        "sky": sky(),
    }


def background_crop(bg: np.ndarray, size, rng) -> Image.Image:
    w, h = size
    H, W = bg.shape[:2]
    scale = rng.uniform(0.35, 0.9) * min(H / h, W / w)
    cw, ch = int(w * scale), int(h * scale)
    x, y = rng.integers(0, W - cw + 1), rng.integers(0, H - ch + 1)
    return Image.fromarray(bg[y:y + ch, x:x + cw]).resize((w, h), Image.LANCZOS)


def compose(stamp, bg: np.ndarray, rng) -> Image.Image:
    size = SHAPES[rng.integers(len(SHAPES))]
    canvas = background_crop(bg, size, rng)
    cut = Image.fromarray(stamp["rgba"])
    cut = cut.crop(cut.getbbox())
    if stamp["can_flip"] and rng.random() < 0.5:
        cut = cut.transpose(Image.FLIP_LEFT_RIGHT)
    longest = rng.uniform(0.75, 0.95) * min(size)
    f = longest / max(cut.size)
    cut = cut.resize((max(1, round(cut.width * f)), max(1, round(cut.height * f))), Image.LANCZOS)
    x = rng.integers(0, size[0] - cut.width + 1)
    y = rng.integers(0, size[1] - cut.height + 1)
    canvas.paste(cut, (int(x), int(y)), cut)
    return canvas


ATTRIBUTION = """\
"Is it a bird?" -- the embedded image set of the Lesson 1 app
=============================================================

Every image here is a photo cut-out from Tux Paint's stamps pasted on a crop of a
texture bundled with scikit-image (or on a plain sky), made by build.py in this folder.

Cut-outs (the birds, animals, food, plants, vehicles and things):
  Debian package tuxpaint-stamps-default {version}
  (upstream: Tux Paint stamps, http://sourceforge.net/projects/tuxpaint)
  Copyright 2002-2022 Bill Kendrick <bill@newbreedsoftware.com> and the Tux Paint
  contributors. License: GPL-2 or later -- see LICENSE in this folder.
  labels.csv names, for each image, the stamp file it comes from.

Backgrounds (scikit-image {skimage_version}, skimage.data), tinted and some blurred by build.py:
  grass      - linolafett on DeviantArt, "Grass-01"; CC0.
  gravel     - CC0Textures "Gravel04"; CC0 (gravel, moss, sand, snow).
  brick      - CC0Textures "Bricks25"; CC0.
  sky        - a blue gradient drawn by build.py (no photo).

As a whole (a derivative of the GPL-2 stamps) this folder is distributed under GPL-2.
"""


def write_licence_files():
    import subprocess
    import skimage
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "tuxpaint-stamps-default"],
                             capture_output=True, text=True).stdout.strip() or "(version unknown)"
    (HERE / "ATTRIBUTION").write_text(ATTRIBUTION.format(version=version, skimage_version=skimage.__version__))
    gpl = Path("/usr/share/common-licenses/GPL-2").read_text()
    (HERE / "LICENSE").write_text(
        "The images in this folder are derived from Tux Paint's stamps (GPL-2 or later).\n"
        "Debian's copy of the licence is /usr/share/common-licenses/GPL-2; its text follows.\n\n" + gpl)


def main():
    write_licence_files()
    rng = np.random.default_rng(SEED)
    stamps = find_stamps()
    backgrounds = load_backgrounds()
    bg_names = sorted(backgrounds)
    out = HERE / "images"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    rows = []
    for stamp in stamps:
        n = BIRD_VARIANTS if stamp["kind"] == "birds" else OTHER_VARIANTS
        group = stamp["rel"].with_suffix("").as_posix()
        # different backgrounds for the variants of one stamp
        for v, b in enumerate(rng.permutation(len(bg_names))[:n]):
            bg_name = bg_names[b]
            img = compose(stamp, backgrounds[bg_name], rng)
            name = f"{stamp['kind']}_{stamp['path'].stem}_{v}.jpg".replace(" ", "_")
            img.save(out / name, quality=85, optimize=True)
            rows.append(dict(file=f"images/{name}", kind=stamp["kind"],
                             is_bird="bird" if stamp["kind"] == "birds" else "not bird",
                             group=group, background=bg_name,
                             source=f"tuxpaint-stamps-default: {stamp['rel'].as_posix()}"))
    with open(HERE / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    kinds = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"{len(rows)} images from {len(stamps)} stamps: {kinds}")


if __name__ == "__main__":
    main()

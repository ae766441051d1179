"""Rebuild the embedded "Scenes" segmentation set from Tux Paint's photo stamps.

Run:  .venv/bin/python datasets/scenes/build.py

Debian's `tuxpaint-stamps-default` ships real photos cut out with an alpha mask
(/usr/share/tuxpaint/stamps/<category>/.../*.png, GPL-2). We keep the photos (no cartoons, no
clip-art: `looks_like_a_photo`, the same test as datasets/birds/build.py), paste one to three of
them onto a crop of a texture bundled with scikit-image, and let each cut-out's alpha mask say which
pixels are its class. The layout is fast.ai's CAMVID_TINY, so one loader reads both:

    images/<name>.jpg          the scene (160 x 120, JPEG)
    labels/<name>_P.png        the label of every pixel: a palette PNG whose pixel values are class codes
    codes.txt                  one class name per line; line i is code i
    scenes.csv                 name, group, and the stamps in each scene

Split by stamp: every stamp is dealt into one of N_GROUPS "stamp sets", and a scene only uses the
stamps of its own set (its `group`). The lesson's splitter keeps whole groups on one side, so the
objects of the validation scenes are cut-outs the model never saw in training.

Everything is seeded: running this again writes the same files.
"""
import csv
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

STAMPS = Path("/usr/share/tuxpaint/stamps")
HERE = Path(__file__).resolve().parent
SEED = 42
SIZE = (160, 120)                    # width, height: CamVid's 4:3
N_SCENES = 200
N_GROUPS = 10
# Three kinds of thing an ImageNet encoder tells apart at a glance. Finer classes (bird vs other animals, fruit vs
# flowers) were tried first: a minute of CPU training could not learn them from ~30 cut-outs each (IoU near 0).
CODES = ["background", "animal", "plant", "vehicle"]
# the class's colour when masks are shown (index = code); background stays dark
PALETTE = [(20, 20, 20), (255, 165, 30), (60, 180, 75), (0, 130, 200)]

# birds are animals; fruit and vegetables are plants
FOLDER_CLASS = {"animals": "animal", "plants": "plant", "food": "plant", "vehicles": "vehicle", "military": "vehicle"}
SKIP_FOLDERS = {"cartoon", "dinosaur"}       # drawings, and animals nobody photographed
DRAWINGS = {"flower1", "flower2", "flower3", "flower4", "flower5", "flower6", "flower7", "flower8", "flower9",
            "flower10", "rubberduck", "fireman240a", "fireman200b", "paratrooper", "pizza"}


def looks_like_a_photo(rgba: np.ndarray) -> bool:
    """Clip-art uses a few flat colours; a photo uses hundreds (counted on 5-bit colours)."""
    opaque = rgba[..., 3] > 128
    q = rgba[..., :3][opaque].astype(np.int32) // 8
    return len(np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2])) >= 200 and min(rgba.shape[:2]) >= 40


def stamp_class(rel: Path) -> str | None:
    return FOLDER_CLASS.get(rel.parts[0])


def find_stamps() -> list[dict]:
    stamps = []
    for path in sorted(STAMPS.rglob("*.png")):
        rel = path.relative_to(STAMPS)
        if SKIP_FOLDERS & set(rel.parts) or path.stem in DRAWINGS or path.stem.endswith("_mirror"):
            continue
        cls = stamp_class(rel)
        if cls is None:
            continue
        rgba = np.asarray(Image.open(path).convert("RGBA"))
        if not looks_like_a_photo(rgba):
            continue
        cut = Image.fromarray(rgba)
        stamps.append(dict(rel=rel, cls=cls, cut=cut.crop(cut.getbbox())))
    return stamps


def deal_into_groups(stamps: list[dict], rng) -> list[list[dict]]:
    """Each class's stamps dealt round-robin (shuffled) into N_GROUPS sets, so every set holds every class."""
    groups = [[] for _ in range(N_GROUPS)]
    for cls in CODES[1:]:
        of_class = [s for s in stamps if s["cls"] == cls]
        for i, j in enumerate(rng.permutation(len(of_class))):
            groups[(i + CODES.index(cls)) % N_GROUPS].append(of_class[j])
    return groups


def load_backgrounds() -> dict[str, np.ndarray]:
    """Textures from scikit-image (CC0; see ATTRIBUTION), tinted, some blurred, and a plain sky gradient.
    Textures rather than scenes: a photo of a street or a cat would hold objects nobody labelled."""
    import skimage.data as sd

    def tint(gray, rgb):
        return np.clip(gray[..., None].astype(np.float32) * np.array(rgb), 0, 255).astype(np.uint8)

    def soft(img, radius):
        return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius)))

    def sky():
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
        "moon": tint(sd.moon(), (0.9, 0.9, 0.95)),
        "sky": sky(),
    }


def background_crop(bg: np.ndarray, rng) -> Image.Image:
    w, h = SIZE
    H, W = bg.shape[:2]
    scale = rng.uniform(0.35, 0.9) * min(H / h, W / w)
    cw, ch = int(w * scale), int(h * scale)
    x, y = rng.integers(0, W - cw + 1), rng.integers(0, H - ch + 1)
    return Image.fromarray(bg[y:y + ch, x:x + cw]).resize((w, h), Image.LANCZOS)


def compose(stamps: list[dict], bg: np.ndarray, rng) -> tuple[Image.Image, np.ndarray]:
    """Paste the cut-outs one after the other; a later one hides what it covers, in the image and the mask."""
    canvas = background_crop(bg, rng)
    mask = np.zeros((SIZE[1], SIZE[0]), dtype=np.uint8)
    big = 1.0 if len(stamps) == 1 else 0.8
    for stamp in stamps:
        cut = stamp["cut"]
        if rng.random() < 0.5:
            cut = cut.transpose(Image.FLIP_LEFT_RIGHT)
        f = rng.uniform(0.55, big) * min(SIZE) / max(cut.size)   # longest side: 55-100% of the scene's height
        cut = cut.resize((max(1, round(cut.width * f)), max(1, round(cut.height * f))), Image.LANCZOS)
        x = int(rng.integers(-cut.width // 5, SIZE[0] - cut.width * 4 // 5 + 1))   # may stick out a little
        y = int(rng.integers(-cut.height // 5, SIZE[1] - cut.height * 4 // 5 + 1))
        canvas.paste(cut, (x, y), cut)
        layer = Image.new("L", SIZE)
        layer.paste(cut.getchannel("A"), (x, y))
        alpha = np.asarray(layer)
        mask[alpha >= 128] = CODES.index(stamp["cls"])
    return canvas, mask


def palette_png(mask: np.ndarray) -> Image.Image:
    img = Image.fromarray(mask, mode="P")
    flat = [c for rgb in PALETTE for c in rgb]
    img.putpalette(flat + [0] * (768 - len(flat)))
    return img


ATTRIBUTION = """\
"Scenes" -- the embedded segmentation set of the Lesson 1 app
=============================================================

Every image here is one to three photo cut-outs from Tux Paint's stamps pasted on a crop of a
texture bundled with scikit-image (or on a plain sky), made by build.py in this folder. Each
cut-out's own alpha mask gives the label of its pixels (labels/<name>_P.png; codes.txt names them).

Cut-outs (animals and birds; plants, fruit and vegetables; vehicles):
  Debian package tuxpaint-stamps-default {version}
  (upstream: Tux Paint stamps, http://sourceforge.net/projects/tuxpaint)
  Copyright 2002-2022 Bill Kendrick <bill@newbreedsoftware.com> and the Tux Paint
  contributors. License: GPL-2 or later -- see LICENSE in this folder.
  scenes.csv names, for each scene, the stamp files it is made of.

Backgrounds (scikit-image {skimage_version}, skimage.data), tinted and some blurred by build.py:
  grass      - linolafett on DeviantArt, "Grass-01"; CC0.
  gravel     - CC0Textures "Gravel04"; CC0 (gravel, moss, sand, snow).
  brick      - CC0Textures "Bricks25"; CC0.
  moon       - NASA, the surface of the Moon; public domain.
  sky        - a blue gradient drawn by build.py (no photo).

As a whole (a derivative of the GPL-2 stamps) this folder is distributed under GPL-2.
"""


def write_licence_files():
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
    groups = deal_into_groups(stamps, rng)
    backgrounds = load_backgrounds()
    bg_names = sorted(backgrounds)
    for folder in ("images", "labels"):
        shutil.rmtree(HERE / folder, ignore_errors=True)
        (HERE / folder).mkdir()
    (HERE / "codes.txt").write_text("\n".join(CODES) + "\n")
    rows, pixels = [], np.zeros(len(CODES), dtype=np.int64)
    for i in range(N_SCENES):
        g = i % N_GROUPS
        n_objects = int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25]))
        classes = rng.choice(CODES[1:], size=n_objects)          # classes first: every class as often
        picked = []
        for cls in classes:
            pool = [s for s in groups[g] if s["cls"] == cls]
            picked.append(pool[rng.integers(len(pool))])
        bg_name = bg_names[rng.integers(len(bg_names))]
        image, mask = compose(picked, backgrounds[bg_name], rng)
        name = f"scene_{i:03d}"
        image.save(HERE / "images" / f"{name}.jpg", quality=88, optimize=True)
        palette_png(mask).save(HERE / "labels" / f"{name}_P.png", optimize=True)
        pixels += np.bincount(mask.ravel(), minlength=len(CODES))
        rows.append(dict(name=name, group=f"stamp_set_{g}", background=bg_name,
                         stamps=" ".join(s["rel"].as_posix() for s in picked)))
    with open(HERE / "scenes.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    per_class = {c: sum(s["cls"] == c for s in stamps) for c in CODES[1:]}
    print(f"{N_SCENES} scenes from {len(stamps)} stamps {per_class}; "
          f"pixels per class: {dict(zip(CODES, (pixels / pixels.sum()).round(3)))}")


if __name__ == "__main__":
    main()

"""The segmentation data: CamVid's layout read by one loader, masks aligned with their photos through resizing
and augmentation, the split by stamp set, and the embedded scenes rebuilt byte for byte."""
import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.datasets import get_dataset, resolve
from core.segmentation.data import (BadSegmentationData, SegBatchTransform, decode, label_func, load_folder,
                                    make_dataloaders, pixel_counts, shape_for)
from core.splits import random_split
from core.images import check_image

SCENES = resolve("scenes").path


def squares_folder(root: Path, n: int = 6, image_suffix: str = ".png", mask_mode: str = "L", size=(40, 30)) -> Path:
    """Black photos with a red square (code 1) and a green one (code 2), placed at random: CamVid's layout."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "codes.txt").write_text("Void\nred thing\ngreen thing\n")
    rng = np.random.default_rng(0)
    w, h = size
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        mask = np.zeros((h, w), np.uint8)
        for code, colour in ((1, (255, 0, 0)), (2, (0, 255, 0))):          # red on the left, green on the right
            x, y = (code - 1) * w // 2 + rng.integers(0, w // 2 - 12), rng.integers(0, h - 12)
            img[y:y + 12, x:x + 12] = colour
            mask[y:y + 12, x:x + 12] = code
        Image.fromarray(img).save(root / "images" / f"f{i}{image_suffix}")
        m = Image.fromarray(mask)
        if mask_mode == "P":
            m = m.convert("P")
            m.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
        m.save(root / "labels" / f"f{i}_P.png")
    return root


def red_and_green(x: np.ndarray) -> np.ndarray:
    """Codes read back from the colours of (N, H, W, 3) or (N, 3, H, W) pixels: 1 where red, 2 where green."""
    r, g = (x[:, 0], x[:, 1]) if x.shape[1] == 3 else (x[..., 0], x[..., 1])
    return np.where(r > 128, 1, np.where(g > 128, 2, 0))


def test_label_func_is_the_course_s():
    assert label_func(Path("/data/camvid/images/0001TP_006690.png")) == Path("/data/camvid/labels/0001TP_006690_P.png")
    assert label_func(Path("scenes/images/scene_007.jpg")) == Path("scenes/labels/scene_007_P.png")


@pytest.mark.parametrize("mask_mode", ["L", "P"])
def test_one_loader_reads_camvid_s_layout_and_every_mask_sits_on_its_photo(tmp_path, mask_mode):
    items = load_folder(squares_folder(tmp_path, mask_mode=mask_mode))
    assert items.codes == ["Void", "red thing", "green thing"]
    assert items.names == [f"f{i}.png" for i in range(6)] and items.groups == [f"f{i}" for i in range(6)]
    for img, mask in zip(items.images, items.masks):
        np.testing.assert_array_equal(mask, red_and_green(np.asarray(img)[None])[0])
    assert pixel_counts(items).tolist() == [6 * (1200 - 288), 6 * 144, 6 * 144]


def test_resizing_keeps_codes_whole_and_on_their_pixels(tmp_path):
    items = load_folder(squares_folder(tmp_path))
    x, y = decode(items, shape_for(items, 20))               # halved: 15 x 20
    assert x.shape == (6, 3, 15, 20) and y.shape == (6, 15, 20) and y.dtype == torch.int64
    assert set(y.unique().tolist()) == {0, 1, 2}             # nearest: never a code in between
    agree = (red_and_green(x.numpy()) == y.numpy()).mean()
    assert agree > 0.97                                      # only a few edge pixels may differ


def test_augmentation_moves_the_mask_with_its_photo(tmp_path):
    items = load_folder(squares_folder(tmp_path, n=16))
    x, y = decode(items, (30, 40))
    tfm = SegBatchTransform((0, 0, 0), (1, 1, 1), augment=True, min_scale=0.4, seed=3)
    xa, ya = tfm((x, y))
    assert xa.shape == (16, 3, 30, 40) and ya.shape == (16, 30, 40) and ya.dtype == torch.long
    assert not torch.equal(ya, y)                            # something did move
    seen = red_and_green((xa.numpy() * 255).round().astype(np.uint8))
    assert (seen == ya.numpy()).mean() > 0.95                # ... the photo and its mask together


@pytest.mark.parametrize("break_it, words", [
    (lambda root: (root / "labels" / "f2_P.png").unlink(), "has no mask"),
    (lambda root: Image.new("L", (7, 7)).save(root / "labels" / "f1_P.png"), "but its image is"),
    (lambda root: Image.new("L", (40, 30), 9).save(root / "labels" / "f1_P.png"), "uses code 9"),
    (lambda root: Image.new("RGB", (40, 30)).save(root / "labels" / "f1_P.png"), "one code per pixel"),
    (lambda root: (root / "images" / "f0.png").write_bytes(b"not a picture"), "can't be used"),
    (lambda root: (root / "codes.txt").unlink(), "no codes.txt"),
])
def test_broken_data_gets_a_sentence(tmp_path, break_it, words):
    root = squares_folder(tmp_path)
    break_it(root)
    with pytest.raises(BadSegmentationData, match=words):
        load_folder(root)


def test_a_bad_upload_is_refused_with_a_reason():
    img, reason = check_image(b"%PDF-1.4 this is no photo", "holiday.jpg")
    assert img is None and "not an image" in reason


def test_the_embedded_scenes_are_registered_as_the_default_for_segmentation():
    spec = get_dataset("scenes")
    assert spec.task == "segmentation" and spec.default and spec.licence.startswith("GPL-2")
    items = load_folder(SCENES)
    assert items.codes == ["background", "animal", "plant", "vehicle"]
    assert len(items) == 200 and len(set(items.groups)) == 10
    assert {img.size for img in items.images} == {(160, 120)}
    shares = pixel_counts(items) / pixel_counts(items).sum()
    objects = shares[1:]
    assert objects.min() > 0.5 * objects.mean()              # no class is rare enough to be ignored


def test_the_split_is_by_stamp_set_and_reproducible_with_the_seed():
    items = load_folder(SCENES)
    train, valid = random_split(items.groups, 0.2, 42)
    assert (train, valid) == random_split(items.groups, 0.2, 42)
    assert valid != random_split(items.groups, 0.2, 7)[1]
    assert len(valid) == 40 and not {items.groups[i] for i in train} & {items.groups[i] for i in valid}
    with open(SCENES / "scenes.csv", newline="") as f:
        stamps = {row["name"] + ".jpg": set(row["stamps"].split()) for row in csv.DictReader(f)}
    seen = set().union(*(stamps[items.names[i]] for i in train))
    assert not seen & set().union(*(stamps[items.names[i]] for i in valid))    # validation objects are new


def test_make_dataloaders_batches_photos_and_masks():
    items = load_folder(SCENES)
    data = make_dataloaders(items, width=64, bs=8, seed=1)
    assert data.shape == (48, 64)
    xb, yb = next(iter(data.dls.train))
    assert xb.shape == (8, 3, 48, 64) and xb.dtype == torch.float32 and yb.shape == (8, 48, 64)
    assert data.dls.valid.n == len(data.valid_idx) == len(data.x_valid) == 40
    assert data.dls.vocab == items.codes


def test_build_py_rebuilds_the_same_files(tmp_path):
    if not Path("/usr/share/tuxpaint/stamps/animals").is_dir():
        pytest.skip("tuxpaint-stamps-default is not installed")
    spec = importlib.util.spec_from_file_location("scenes_build", SCENES / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.HERE = tmp_path
    build.main()
    for rel in ["codes.txt", "scenes.csv", "images/scene_000.jpg", "images/scene_199.jpg", "labels/scene_123_P.png"]:
        assert (tmp_path / rel).read_bytes() == (SCENES / rel).read_bytes(), rel
    assert len(list((tmp_path / "images").iterdir())) == len(list((SCENES / "images").iterdir()))

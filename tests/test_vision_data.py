"""The embedded photos, their labels, the split and the transforms."""
import csv
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image

from core.datasets import resolve
from core.splits import random_split
from core.vision.data import class_counts, load_embedded, make_dataloaders
from core.vision.transforms import (BatchTransform, crop_boxes, denormalize, normalize, random_resized_crop,
                                    resize, to_uint8_tensor)

ROOT = Path(__file__).resolve().parents[1] / "datasets" / "birds"


@pytest.fixture(scope="module")
def rows():
    with open(ROOT / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def birds():
    return load_embedded(resolve("birds").path, "is_bird")


def test_embedded_folder_has_licence_attribution_and_every_labelled_file(rows):
    assert "GNU GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE").read_text()
    assert "Tux Paint" in (ROOT / "ATTRIBUTION").read_text() and "scikit-image" in (ROOT / "ATTRIBUTION").read_text()
    files = {p.name for p in (ROOT / "images").iterdir()}
    assert files == {Path(r["file"]).name for r in rows}
    assert sum(p.stat().st_size for p in (ROOT / "images").iterdir()) < 10 * 2**20   # a few MB


def test_labels_binary_and_multiclass_agree(rows, birds):
    assert birds.vocab == ["bird", "not bird"]
    kinds = load_embedded(ROOT, "kind")
    assert "birds" in kinds.vocab and "animals" in kinds.vocab and len(kinds.vocab) >= 4
    for b, k in zip(birds.labels, kinds.labels):
        assert (b == "bird") == (k == "birds")
    assert class_counts(birds.labels) == dict(sorted({"bird": sum(r["is_bird"] == "bird" for r in rows),
                                                      "not bird": sum(r["is_bird"] != "bird" for r in rows)}.items()))
    assert min(class_counts(birds.labels).values()) > 100          # birds got extra variants to balance


def test_split_is_reproducible_by_seed_and_keeps_groups_together(birds):
    train, valid = random_split(birds.groups, 0.2, seed=42)
    assert (train, valid) == random_split(birds.groups, 0.2, seed=42)
    assert valid != random_split(birds.groups, 0.2, seed=7)[1]
    assert sorted(train + valid) == list(range(len(birds)))
    assert not {birds.groups[i] for i in train} & {birds.groups[i] for i in valid}
    n_groups = len(set(birds.groups))
    assert len({birds.groups[i] for i in valid}) == round(0.2 * n_groups)


def test_each_item_its_own_group_splits_like_fastai_random_splitter():
    groups = [f"f{i}" for i in range(100)]
    train, valid = random_split(groups, 0.25, seed=1)
    assert len(valid) == 25 and len(train) == 75


@pytest.mark.parametrize("method", ["squish", "crop", "pad"])
@pytest.mark.parametrize("shape", [(192, 144), (144, 192), (50, 50)])
def test_resize_methods_give_squares(method, shape):
    out = resize(Image.new("RGB", shape, (10, 200, 30)), 64, method)
    assert out.size == (64, 64) and out.mode == "RGB"


def test_pad_adds_black_bars_and_crop_keeps_the_centre():
    # a wide photo: left third red, middle green, right third blue
    arr = np.zeros((100, 300, 3), np.uint8)
    arr[:, :100, 0] = arr[:, 100:200, 1] = arr[:, 200:, 2] = 255
    img = Image.fromarray(arr)
    padded = np.asarray(resize(img, 90, "pad"))
    assert padded[:25].max() == 0 and padded[-25:].max() == 0           # bars above and below
    assert padded[45, 5, 0] == 255 and padded[45, 85, 2] == 255        # the whole width is kept
    cropped = np.asarray(resize(img, 90, "crop"))
    assert (cropped[:, 5:85, 1] > 200).all() and cropped[:, :, 0].max() < 60   # only the green middle
    squished = np.asarray(resize(img, 90, "squish"))
    assert squished[45, 5, 0] == 255 and squished[45, 45, 1] == 255 and squished[45, 85, 2] == 255


def test_random_resized_crop_at_full_scale_is_the_image_or_its_mirror():
    x = torch.rand(16, 3, 24, 24)
    out = random_resized_crop(x, min_scale=1.0, ratio=(1.0, 1.0), generator=torch.Generator().manual_seed(0))
    same = torch.isclose(out, x, atol=1e-5).flatten(1).all(1)
    mirrored = torch.isclose(out, torch.flip(x, dims=[3]), atol=1e-5).flatten(1).all(1)
    assert (same | mirrored).all() and same.any() and mirrored.any()
    no_flip = random_resized_crop(x, 1.0, (1.0, 1.0), flip=False)
    torch.testing.assert_close(no_flip, x, atol=1e-5, rtol=0)


def test_crop_boxes_match_torchvision_crop_then_resize():
    # the centred box of half the width and height, and the top-left quarter mirrored
    x = torch.rand(2, 3, 32, 32)
    half = torch.tensor([0.5, 0.5])
    out = crop_boxes(x, half, half, torch.tensor([0.0, -0.5]), torch.tensor([0.0, -0.5]),
                     torch.tensor([False, True]))
    centre = TF.resize(x[:1, :, 8:24, 8:24], [32, 32], antialias=False)
    corner = torch.flip(TF.resize(x[1:, :, :16, :16], [32, 32], antialias=False), dims=[3])
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))   # the border pixels blend with the
    torch.testing.assert_close(out[:1][inner], centre[inner], atol=1e-5, rtol=0)   # pixels just outside the box
    torch.testing.assert_close(out[1:][inner], corner[inner], atol=1e-5, rtol=0)


def test_random_boxes_stay_inside_and_cover_at_least_min_scale():
    x = torch.arange(64.0).view(1, 1, 8, 8).expand(200, 1, 8, 8).contiguous()
    out = random_resized_crop(x, min_scale=0.5, generator=torch.Generator().manual_seed(1))
    assert out.min() >= 0 and out.max() <= 63                 # no padding from outside the image
    assert (out.amax((1, 2, 3)) - out.amin((1, 2, 3)) > 20).all()   # each crop still spans much of it


def test_normalize_round_trips_and_matches_torchvision():
    x = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    ours = normalize(x, torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1))
    torch.testing.assert_close(ours, TF.normalize(x.float() / 255, mean, std))
    assert (denormalize(ours, mean, std) == x.permute(0, 2, 3, 1).numpy()).all()


def test_dataloaders_hold_uint8_once_and_give_normalised_batches(birds):
    data = make_dataloaders(birds, size=32, method="pad", valid_pct=0.2, seed=3, bs=16)
    train, valid = data.dls.train, data.dls.valid
    assert train.tensors[0].dtype == torch.uint8 and train.tensors[0].shape[1:] == (3, 32, 32)
    assert train.n + valid.n == len(birds) and valid.n == len(data.valid_idx)
    xb, yb = next(iter(train))
    assert xb.dtype == torch.float32 and xb.shape == (16, 3, 32, 32) and -1.01 <= xb.min() and xb.max() <= 1.01
    assert set(yb.tolist()) <= {0, 1}
    xv, yv = next(iter(valid))        # validation: no augmentation, so it is exactly the decoded images
    expected = BatchTransform((0.5,) * 3, (0.5,) * 3)((to_uint8_tensor(
        [resize(birds.images[i], 32, "pad") for i in data.valid_idx[:len(yv)]]),))[0]
    torch.testing.assert_close(xv, expected)
    assert yv.tolist() == [data.vocab.index(birds.labels[i]) for i in data.valid_idx[:len(yv)]]

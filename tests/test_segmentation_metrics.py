"""Pixel accuracy, the pixel confusion matrix and IoU, checked against scikit-learn; the overlay colours."""
import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, jaccard_score

from core.segmentation import figures
from core.segmentation.metrics import (confidence_bins, iou_per_class, mean_iou, per_image_accuracy,
                                       per_image_iou, pixel_accuracy, pixel_confusion, worst_images)


@pytest.fixture
def scores_and_codes():
    g = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 4, (5, 9, 11), generator=g)
    scores = torch.randn(5, 4, 9, 11, generator=g)
    scores += 2.0 * torch.nn.functional.one_hot(targets, 4).permute(0, 3, 1, 2)   # right more often than not
    return scores, targets


def test_pixel_accuracy_and_confusion_match_sklearn(scores_and_codes):
    scores, targets = scores_and_codes
    predicted = scores.argmax(1)
    assert pixel_accuracy(scores, targets) == pytest.approx(accuracy_score(targets.ravel(), predicted.ravel()))
    cm = pixel_confusion(predicted.numpy(), targets.numpy(), 4)
    np.testing.assert_array_equal(cm, confusion_matrix(targets.ravel(), predicted.ravel(), labels=range(4)))


def test_iou_matches_sklearn_jaccard(scores_and_codes):
    scores, targets = scores_and_codes
    predicted = scores.argmax(1)
    cm = pixel_confusion(predicted.numpy(), targets.numpy(), 4)
    reference = jaccard_score(targets.ravel(), predicted.ravel(), labels=range(4), average=None)
    np.testing.assert_allclose(iou_per_class(cm), reference)
    assert mean_iou(scores, targets) == pytest.approx(reference.mean())


def test_a_class_nobody_has_or_predicts_is_left_out_of_the_mean():
    targets = torch.tensor([[[0, 0, 1, 1]]])
    scores = torch.nn.functional.one_hot(torch.tensor([[[0, 1, 1, 1]]]), 3).permute(0, 3, 1, 2).float()
    iou = iou_per_class(pixel_confusion(scores.argmax(1).numpy(), targets.numpy(), 3))
    np.testing.assert_allclose(iou[:2], [1 / 2, 2 / 3])
    assert np.isnan(iou[2])
    assert mean_iou(scores, targets) == pytest.approx((1 / 2 + 2 / 3) / 2)
    np.testing.assert_allclose(per_image_accuracy(scores.argmax(1).numpy(), targets.numpy()), [0.75])


def test_colours_and_overlay():
    codes = ["background", "bird", "plant"]
    colours = figures.class_colours(codes)
    assert tuple(colours[0]) == figures.BACKGROUND_COLOUR and tuple(colours[1]) == figures.PALETTE[0]
    assert len({tuple(c) for c in figures.class_colours([f"c{i}" for i in range(32)])}) == 32   # CamVid: all differ
    image = np.full((2, 3, 3), 100, np.uint8)
    mask = np.array([[0, 1, 2], [0, 0, 1]], np.uint8)
    out = figures.overlay(image, mask, codes, alpha=0.5)
    np.testing.assert_array_equal(out[mask == 0], round(100 * figures.BACKGROUND_DIMMED))   # background dimmed
    np.testing.assert_array_equal(out[0, 1], np.round((100 + colours[1].astype(int)) / 2).astype(np.uint8))
    wrong = figures.mistakes(image, mask, np.zeros_like(mask))
    assert (wrong[mask != 0] == [255, 0, 0]).all() and not (wrong[mask == 0] == [255, 0, 0]).all(axis=-1).any()
    html = figures.legend_html(codes, np.array([6, 3, 1]))
    assert "bird" in html and "60.0%" in html and figures.hex_colour(colours[2]) in html


def test_iou_per_photo_matches_sklearn_and_finds_the_worst_photos(scores_and_codes):
    scores, targets = scores_and_codes
    predicted = scores.argmax(1).numpy()
    per_image = per_image_iou(predicted, targets.numpy(), 4)
    for k in range(len(targets)):
        np.testing.assert_allclose(per_image[k], jaccard_score(targets[k].ravel(), predicted[k].ravel(),
                                                              labels=range(4), average=None, zero_division=0))
    worst = worst_images(per_image, 2, k=3)
    assert list(worst) == list(np.argsort(per_image[:, 2])[:3])
    absent = np.array([[1.0, np.nan], [0.2, np.nan], [0.5, 0.3]])
    assert list(worst_images(absent, 1)) == [2] and list(worst_images(absent, 0)) == [1, 2, 0]


def test_confidence_bins_count_pixels_and_how_often_they_are_right():
    confidence = np.array([0.55, 0.58, 0.95, 0.97, 0.99, 0.35])
    correct = np.array([True, False, True, True, False, False])
    rows = confidence_bins(confidence, correct, edges=(0.0, 0.5, 0.9, 1.0))
    assert [r["share"] for r in rows] == pytest.approx([1 / 6, 2 / 6, 3 / 6])
    assert [r["accuracy"] for r in rows] == pytest.approx([0.0, 0.5, 2 / 3])
    assert [r["claimed"] for r in rows] == pytest.approx([0.35, 0.565, 0.97])
    assert confidence_bins(np.array([1.0]), np.array([True]), edges=(0.0, 0.5, 1.0))[-1]["accuracy"] == 1.0


def test_confidence_and_unsure_pixels():
    image = np.full((1, 3, 3), 100, np.uint8)
    conf = np.array([[0.25, 0.6, 1.0]])
    coloured = figures.confidence_image(conf, 4)
    np.testing.assert_array_equal(coloured[0, 0], figures.CONFIDENCE_STOPS[0])        # a blind guess: the bottom
    np.testing.assert_array_equal(coloured[0, 2], figures.CONFIDENCE_STOPS[-1])       # certain: the top
    unsure = figures.unsure_pixels(image, conf, 0.7)
    assert (unsure[0, :2] == figures.UNSURE_COLOUR).all() and not (unsure[0, 2] == figures.UNSURE_COLOUR).all()


def test_class_names_from_a_student_are_text_in_html_and_charts():
    codes = ["background", "<img src=x onerror=alert(1)>", "a&b"]
    html = figures.legend_html(codes)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html and "a&amp;b" in html
    assert all("<img" not in str(trace.x) for trace in figures.iou_bars(np.array([0.9, 0.5, 0.1]), codes).data)
    drawn = figures.pixel_share_bars({"train": np.array([5, 3, 1])}, codes)
    assert "<img" not in drawn and "&lt;img src=x onerror=alert(1)&gt;" in drawn
    from ui.text import plain
    assert plain("[x](javascript:alert(1)) *b*") == r"\[x\]\(javascript\:alert\(1\)\) \*b\*"


def test_what_changed_inside_is_one_figure_bars_and_two_maps_of_the_same_layers():
    stats = [{"step": step, "layer": layer, "phase": "frozen" if step < 3 else "unfrozen",
              "weight_change": 0.0 if layer == "encoder.stem" and step < 3 else 0.01 * step,
              "grad_norm": 0.0 if layer == "encoder.stem" and step < 3 else 0.5}
             for step in (1, 2, 3, 4) for layer in ("encoder.stem", "decoder.head")]
    fig = figures.inside_figure(stats)
    bars = [t for t in fig.data if t.type == "bar"]
    maps = [t for t in fig.data if t.type == "heatmap"]
    assert [b.name for b in bars] == ["after the frozen epoch(s)", "at the end of training"]
    assert list(bars[0].y) == [0.0, 0.02]                          # a layer that never moved: no bar on the log axis
    assert len(maps) == 2 and all(list(m.y) == ["encoder.stem", "decoder.head"] for m in maps)
    moved = np.asarray(maps[0].z)
    assert moved[1].tolist() == pytest.approx(np.log10([0.01, 0.02, 0.03, 0.04]).tolist())
    assert moved[0, 0] == np.log10(1e-5) and np.asarray(maps[0].customdata)[0, 0] == 0   # hover: the real value
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.autorange == "reversed"
    unfreeze = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert len(unfreeze) == 2 and {s.x0 for s in unfreeze} == {2.5}  # on both maps, between steps 2 and 3
    assert fig.layout.yaxis2.domain == fig.layout.yaxis3.domain     # side by side...
    narrow = figures.inside_figure(stats, narrow=True)
    assert narrow.layout.yaxis3.domain[1] < narrow.layout.yaxis2.domain[0]   # ...or one under the other, each with
    assert narrow.layout.xaxis3.domain == (0.0, 1.0) and narrow.layout.yaxis3.showticklabels is not False   # names
    bars_under = [m.colorbar.y for m in narrow.data if m.type == "heatmap"]
    assert bars_under[0] < narrow.layout.yaxis2.domain[0] and bars_under[1] < narrow.layout.yaxis3.domain[0]
    lying = [t for t in narrow.data if t.type == "bar"]          # on a phone the bars lie down, named beside them
    assert all(b.orientation == "h" and list(b.y) == ["encoder.stem", "decoder.head"] for b in lying)
    assert list(lying[1].x) == [0.04, 0.04] and narrow.layout.xaxis.type == "log"


def test_the_calibration_chart_ticks_stop_at_100_percent():
    from core.segmentation.figures import reliability_bars
    rows = [dict(low=0.5, high=0.75, accuracy=0.7, claimed=0.62, share=0.2),
            dict(low=0.75, high=1.0, accuracy=0.97, claimed=0.95, share=0.8)]
    axis = reliability_bars(rows).layout.yaxis
    assert max(axis.tickvals) == 1.0 and axis.range[1] > 1.0          # room for the bars' texts, no 120% tick

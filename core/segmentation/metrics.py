"""How good is a segmentation? Counted over every pixel of the validation set.

pixel_accuracy  the share of pixels given the right class (what fastai's epoch table shows for CamVid)
mean_iou        per class, the overlap of "predicted as c" and "really c" divided by their union, averaged:
                unlike accuracy, it doesn't let a large background hide a class the model never finds
Both take the model's raw outputs (N, C, H, W) and the codes (N, H, W), as the Learner's metrics do.
"""
import numpy as np
import torch


def pixel_accuracy(preds: torch.Tensor, targets: torch.Tensor) -> float:
    return (preds.argmax(dim=1) == targets).float().mean().item()


def pixel_confusion(predicted, targets, n_classes: int) -> np.ndarray:
    """cm[i, j] = how many pixels of class i were predicted as class j (codes, any shape)."""
    predicted = np.asarray(predicted).ravel().astype(np.int64)
    targets = np.asarray(targets).ravel().astype(np.int64)
    return np.bincount(targets * n_classes + predicted, minlength=n_classes ** 2).reshape(n_classes, n_classes)


def iou_per_class(cm: np.ndarray) -> np.ndarray:
    """Intersection over union of each class; nan for a class that is neither present nor predicted."""
    hits = np.diag(cm).astype(np.float64)
    union = cm.sum(axis=0) + cm.sum(axis=1) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, hits / np.maximum(union, 1), np.nan)


def mean_iou(preds: torch.Tensor, targets: torch.Tensor) -> float:
    cm = pixel_confusion(preds.argmax(dim=1).cpu().numpy(), targets.cpu().numpy(), preds.shape[1])
    return float(np.nanmean(iou_per_class(cm)))


def per_image_accuracy(predicted: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(N, H, W) codes -> the pixel accuracy of each image."""
    return (np.asarray(predicted) == np.asarray(targets)).reshape(len(targets), -1).mean(axis=1)


def per_image_iou(predicted: np.ndarray, targets: np.ndarray, n_classes: int) -> np.ndarray:
    """(N, H, W) codes -> (N, n_classes): each class's IoU on each image; nan where an image neither has the
    class nor predicts it."""
    predicted, targets = np.asarray(predicted), np.asarray(targets)
    return np.stack([iou_per_class(pixel_confusion(p, t, n_classes)) for p, t in zip(predicted, targets)]) \
        if len(targets) else np.zeros((0, n_classes))


def worst_images(image_iou: np.ndarray, code: int, k: int = 6) -> np.ndarray:
    """The positions of the k images where class `code` is worst (lowest IoU first; images where the class is
    neither present nor predicted are left out)."""
    scores = np.asarray(image_iou)[:, code]
    present = np.flatnonzero(~np.isnan(scores))
    return present[np.argsort(scores[present], kind="stable")][:k]


def top_losses(losses: np.ndarray, k: int = 9) -> np.ndarray:
    """Positions of the k highest losses, highest first (fastai's interp.top_losses)."""
    return np.argsort(-np.asarray(losses), kind="stable")[:k]


def confidence_bins(confidence: np.ndarray, correct: np.ndarray, edges=(0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
                    ) -> list[dict]:
    """How often the model is right at each level of confidence (a reliability table): per bin of the winning
    class's probability, the share of the pixels that fall in it and the share of those it got right. A
    well-calibrated model is right 90% of the time when it says 90%."""
    confidence, correct = np.asarray(confidence, dtype=np.float64).ravel(), np.asarray(correct).ravel()
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(which, minlength=len(edges) - 1)
    right = np.bincount(which, weights=correct.astype(np.float64), minlength=len(edges) - 1)
    claimed = np.bincount(which, weights=confidence, minlength=len(edges) - 1)
    total = max(1, len(confidence))
    return [dict(low=edges[i], high=edges[i + 1], share=counts[i] / total,
                 accuracy=right[i] / counts[i] if counts[i] else None,
                 claimed=claimed[i] / counts[i] if counts[i] else None) for i in range(len(edges) - 1)]

"""How faithful is a map? Deletion and insertion curves (Petsiuk et al. 2018, RISE).

Deletion: remove pixels from the most to the least important and watch the class probability;
a faithful map makes it fall fast (small area under the curve). Insertion: start from the
removed image and put the important pixels back first; the probability should rise fast (large
area). A random order is the baseline every method must beat.

"Removed" means blurred (sigma 8 px), not painted grey: grey squares add sharp edges of their
own, which hurt the prediction whatever the order, so a random order of grey squares looks as
good as any map. Pixels move in small squares for the same reason (see pixel_order).
All the perturbed copies of one image go through `predict` in batches.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from workbench.explain.batching import batch_size_for


MAX_STEPS = 200  # every point of a curve is one image in memory at once: 200 at 224x224x3 is 120 MB


def check_steps(steps) -> int:
    """The number of points on the curves, checked: 0 gives no curve (and NaN areas), a huge one
    a batch that does not fit in memory."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps (points on the deletion / insertion curves) must be a whole number from 1 to "
                         f"{MAX_STEPS}, not {steps!r}")
    return steps


def pixel_order(saliency: np.ndarray, cell: int = 1) -> np.ndarray:
    """Pixel indices from the most to the least important, moved `cell` x `cell` squares at a time
    (ranked by their mean importance). Squares, not single pixels: deleting scattered pixels makes
    a salt-and-pepper noise that kills any prediction, so a random order would look unbeatable."""
    h, w = saliency.shape
    rows, cols = np.arange(h) // cell, np.arange(w) // cell
    cell_id = rows[:, None] * (cols.max() + 1) + cols[None, :]
    score = np.bincount(cell_id.ravel(), saliency.ravel()) / np.bincount(cell_id.ravel())
    rank = np.empty_like(score)
    rank[np.argsort(-score, kind="stable")] = np.arange(len(score))
    return np.lexsort((np.arange(h * w), rank[cell_id.ravel()]))  # by cell rank, then reading order


def curve(backend, model, image, target, order, start, finish, steps=20, batch=None) -> np.ndarray:
    """Probability of `target` as pixels switch from `start` to `finish` in `order`, steps+1 points."""
    h, w, c = image.shape
    counts = np.linspace(0, h * w, steps + 1).astype(int)
    frames = np.repeat(start.reshape(1, h * w, c), steps + 1, axis=0)
    for k, count in enumerate(counts):
        frames[k, order[:count]] = finish.reshape(h * w, c)[order[:count]]
    batch = batch or batch_size_for(backend, model, image)
    return backend.predict(model, frames.reshape(-1, h, w, c), batch_size=batch)[:, target]


def auc(values: np.ndarray) -> float:
    """Area under a curve sampled at equal steps over [0, 1] (trapezoids)."""
    values = np.asarray(values, dtype=np.float64)
    return float(((values[1:] + values[:-1]) / 2).mean())


def deletion_insertion(backend, model, images, targets, maps, steps=20, blur=None, cell=None, batch=None):
    """Per image: deletion and insertion curves and AUCs for `maps` (N, H, W); squares of `cell`
    pixels move together; `blur` is the removal's sigma. Both default to 1/28 of the image side (8 px at 224)."""
    out = []
    for image, target, saliency in zip(images, targets, maps):
        side = max(1, image.shape[0] // 28)
        order = pixel_order(saliency, cell or side)
        blurred = gaussian_filter(image, sigma=(blur or side, blur or side, 0))
        deletion = curve(backend, model, image, target, order, image, blurred, steps, batch)
        insertion = curve(backend, model, image, target, order, blurred, image, steps, batch)
        out.append({"deletion": deletion, "insertion": insertion,
                    "deletion_auc": auc(deletion), "insertion_auc": auc(insertion)})
    return out


def random_maps(shape, seed=0) -> np.ndarray:
    """The baseline: each pixel's importance drawn at random."""
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def random_baseline(backend, model, images, targets, seeds=3, first=0, **kwargs) -> list[dict]:
    """Per image: deletion_insertion of random orders, curves and AUCs averaged over `seeds` orders
    (seeded first, first + 1, ...: one random order is itself a noisy yardstick, its AUC moves by a
    few hundredths per seed)."""
    runs = [deletion_insertion(backend, model, images, targets, random_maps(np.shape(images)[:3], seed), **kwargs)
            for seed in range(first, first + seeds)]
    per_image = []
    for results in zip(*runs):
        curves = {kind: np.mean([r[kind] for r in results], axis=0) for kind in ("deletion", "insertion")}
        per_image.append({**curves, "deletion_auc": auc(curves["deletion"]), "insertion_auc": auc(curves["insertion"])})
    return per_image


def mean_scores(results: list[dict]) -> dict:
    return {"deletion_auc": float(np.mean([r["deletion_auc"] for r in results])),
            "insertion_auc": float(np.mean([r["insertion_auc"] for r in results]))}

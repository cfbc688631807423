"""Datasets and preprocessing, in numpy.

A Dataset is a name, its class names, its image shape and a loader that returns every split
at once; `load(split)` hands out (x NHWC float32 in [0, 1], y int64). Preprocessing is what
the course notes do by hand: rescale to [0, 1], standardise each pixel with the mean and std
of the *training* split only (seed 004), and resize to an architecture's input.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

SPLITS = ("train", "val", "test")
Arrays = tuple[np.ndarray, np.ndarray]


def cache_dir() -> Path:
    """Where downloads are cached: $WORKBENCH_DATA_DIR, else datasets/cache/ in the repository."""
    env = os.environ.get("WORKBENCH_DATA_DIR")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "datasets" / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(eq=False)
class Dataset:
    """A named image classification dataset; its loader runs once, on first `load`."""

    name: str
    description: str
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    loader: Callable[[], dict[str, Arrays]] = field(repr=False)
    splits: tuple[str, ...] = SPLITS
    source: str = ""
    offline: bool = True  # False: the first load downloads
    notes: list[str] = field(default_factory=list)  # e.g. skipped corrupt images
    _arrays: dict[str, Arrays] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def load(self, split: str = "train") -> Arrays:
        if split not in self.splits:
            raise ValueError(f"dataset {self.name!r} has splits {', '.join(self.splits)}; not {split!r}")
        with self._lock:
            if self._arrays is None:
                arrays = self.loader()
                self._arrays = {s: _check_split(self.name, s, *arrays[s]) for s in self.splits}
        return self._arrays[split]

    def samples(self, split: str = "train", per_class: int = 4, seed: int = 0) -> Arrays:
        """A few images of every class, class by class (for a sample grid)."""
        x, y = self.load(split)
        rng = np.random.default_rng(seed)
        picks = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in range(self.num_classes)]
        idx = np.concatenate(picks).astype(int)
        return x[idx], y[idx]

    def sample_grid(self, split: str = "train", per_class: int = 4, seed: int = 0) -> np.ndarray:
        """One image: a row per class, `per_class` samples in each."""
        x, _ = self.samples(split, per_class, seed)
        return grid(x, cols=per_class)


def _check_split(name, split, x, y) -> Arrays:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    y = np.asarray(y, dtype=np.int64)
    if x.ndim != 4 or len(x) != len(y):
        raise ValueError(f"dataset {name!r}, split {split!r}: images {x.shape} and labels {y.shape} do not match")
    return x, y


# -- splitting and preprocessing -----------------------------------------------------------
def split(x: np.ndarray, y: np.ndarray, fractions=(0.7, 0.15, 0.15), seed: int = 0) -> dict[str, Arrays]:
    """Train/val/test split (sklearn), stratified so every class is in every split when the
    classes are big enough; a test fraction of 0 gives train and val only."""
    train_f, val_f, test_f = fractions
    n = len(x)
    rest = n - int(train_f * n)  # scikit-learn's sizes; its own message for an empty part speaks of n_samples
    val = int(val_f / (val_f + test_f) * rest) if test_f else rest
    if min(n - rest, rest, val, rest - val if test_f else 1) < 1:
        parts = "train, val and test" if test_f else "train and val"
        raise ValueError(f"{n} images are too few to split into {parts} "
                         f"({' / '.join(f'{f:.0%}' for f in fractions if f)}): each part needs at least one image")
    x_train, x_rest, y_train, y_rest = _split(x, y, train_f, seed)
    if not test_f:  # the test split comes from elsewhere (MNIST's t10k, CIFAR's test_batch)
        return {"train": (x_train, y_train), "val": (x_rest, y_rest)}
    x_val, x_test, y_val, y_test = _split(x_rest, y_rest, val_f / (val_f + test_f), seed)
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def _split(x, y, train_size, seed):
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(x, y, train_size=train_size, stratify=y, random_state=seed)
    except ValueError:  # a class too small to appear in both parts
        return train_test_split(x, y, train_size=train_size, random_state=seed)


def rescale(x: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 to float32 in [0, 1] (ImageDataGenerator(rescale=1./255))."""
    return np.asarray(x, dtype=np.float32) / 255.0


@dataclass
class Standardizer:
    """Per-pixel standardisation (seed 004): mean and std of every pixel over the training images."""

    mean: np.ndarray
    std: np.ndarray
    eps: float = 1e-4  # as in the notes: (X - mean) / (std + 0.0001)

    @classmethod
    def fit(cls, x_train: np.ndarray) -> "Standardizer":
        return cls(x_train.mean(axis=0), x_train.std(axis=0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / (self.std + self.eps)).astype(np.float32)

    def save(self, path) -> None:
        """Plain arrays in a .npz (read back with allow_pickle=False)."""
        np.savez(path, mean=np.asarray(self.mean, np.float32), std=np.asarray(self.std, np.float32),
                 eps=np.float64(self.eps))

    @classmethod
    def load(cls, path) -> "Standardizer":
        with np.load(path, allow_pickle=False) as z:
            return cls(z["mean"], z["std"], float(z["eps"]))


def standardize(splits: dict[str, Arrays]) -> tuple[dict[str, Arrays], Standardizer]:
    """Standardise every split with statistics from the training split only."""
    s = Standardizer.fit(splits["train"][0])
    return {name: (s(x), y) for name, (x, y) in splits.items()}, s


def resize(x: np.ndarray, shape) -> np.ndarray:
    """NHWC images to (H, W, C) of an architecture's input: bilinear resize, gray <-> RGB."""
    from skimage.transform import resize as sk_resize

    h, w, c = (int(v) for v in shape)
    if x.shape[3] != c:
        if x.shape[3] == 1:
            x = np.repeat(x, c, axis=3)
        elif c == 1:
            x = x.mean(axis=3, keepdims=True)
        else:
            raise ValueError(f"cannot turn {x.shape[3]}-channel images into {c} channels")
    if x.shape[1:3] != (h, w):
        x = sk_resize(x, (len(x), h, w, c), order=1, anti_aliasing=x.shape[1] > h, preserve_range=True)
    return np.asarray(x, dtype=np.float32)


def grid(images: np.ndarray, cols: int, pad: int = 1) -> np.ndarray:
    """Tile NHWC images into one (H, W, C) image, `cols` per row, `pad` pixels of white between."""
    n, h, w, c = images.shape
    rows = -(-n // cols)
    out = np.ones((rows * (h + pad) - pad, cols * (w + pad) - pad, c), dtype=np.float32)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, k * (w + pad):k * (w + pad) + w] = img
    return out

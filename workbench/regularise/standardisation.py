"""Five ways to feed pixels to a CNN, statistics from the training split only.

raw 0-255 as stored; rescaled to [0, 1]; global (one mean and std over every training pixel);
per channel (one per colour channel); per pixel (a mean and std image, the lecture's
`(X_train - X_mean) / (X_std + 0.0001)` in "CNNs part II"). Each is a workbench.data.Standardizer
(mean and std broadcast over the image), so the same object standardises every split.
"""

from __future__ import annotations

import numpy as np

from workbench import data as D

MODES = {
    "raw": "raw pixels 0-255",
    "rescaled": "rescaled to [0, 1]",
    "global": "global standardisation (one mean, one std)",
    "per_channel": "per-channel standardisation",
    "per_pixel": "per-pixel standardisation (the lecture's)",
}


def check_mode(mode: str) -> str:
    key = str(mode).lower().replace("-", "_")
    if key not in MODES:
        raise ValueError(f"unknown standardisation {mode!r}; choose one of: {', '.join(MODES)}")
    return key


def fit(mode: str, x_train: np.ndarray) -> D.Standardizer:
    """The Standardizer for `mode` from training images in [0, 1] (NHWC)."""
    mode = check_mode(mode)
    shape = x_train.shape[1:]
    if mode == "raw":  # x * 255: (x - 0) / (1/255), eps 0
        return D.Standardizer(np.zeros(shape, np.float32), np.full(shape, 1 / 255.0, np.float32), eps=0.0)
    if mode == "rescaled":
        return D.Standardizer(np.zeros(shape, np.float32), np.ones(shape, np.float32), eps=0.0)
    if mode == "per_pixel":
        return D.Standardizer.fit(x_train)
    axes = (0, 1, 2, 3) if mode == "global" else (0, 1, 2)
    mean = np.broadcast_to(x_train.mean(axis=axes, keepdims=True)[0], shape).astype(np.float32)
    std = np.broadcast_to(x_train.std(axis=axes, keepdims=True)[0], shape).astype(np.float32)
    return D.Standardizer(mean, std)


def apply(mode: str, splits: dict) -> tuple[dict, D.Standardizer]:
    """Every split fed the `mode` way, with statistics from splits["train"] only."""
    s = fit(mode, splits["train"][0])
    return {name: (s(x), y) for name, (x, y) in splits.items()}, s


def summary(mode: str, x_train: np.ndarray) -> dict:
    """What the model sees: the range, mean and std of the fed training images."""
    fed = fit(mode, x_train)(x_train)
    return {"min": float(fed.min()), "max": float(fed.max()), "mean": float(fed.mean()), "std": float(fed.std())}

"""Decode image files (workbench.image_decoder) into float32 arrays of one size; corrupt files are
skipped and named."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from workbench.image_decoder import ImageDecodeError, decode_resized

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not name.rsplit("/", 1)[-1].startswith(".")


def decode_many(items: Iterable[tuple[str, object, int]], size, channels):
    """(name, path-or-bytes, label) items -> (x, y, skipped names with the reason)."""
    xs, ys, skipped = [], [], []
    for name, source, label in items:
        try:
            xs.append(decode_resized(source, size, channels, name))
            ys.append(label)
        except ImageDecodeError as exc:
            skipped.append(str(exc))
    x = np.stack(xs) if xs else np.zeros((0, size[0], size[1], channels), np.float32)
    return x, np.asarray(ys, dtype=np.int64), skipped

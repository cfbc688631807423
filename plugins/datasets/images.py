"""Decode image files (PIL) into float32 arrays of one size; corrupt files are skipped and named."""

from __future__ import annotations

import io
from typing import Iterable

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not name.rsplit("/", 1)[-1].startswith(".")


def decode(source, size: tuple[int, int], channels: int) -> np.ndarray:
    """One image (a path or bytes) as (H, W, C) float32 in [0, 1]; raises on a corrupt file."""
    from PIL import Image

    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
        img.load()  # decode now, so a truncated file fails here and not later
        img = img.convert("L" if channels == 1 else "RGB").resize((size[1], size[0]), Image.BILINEAR)
        x = np.asarray(img, dtype=np.float32) / 255.0
    return x[..., None] if channels == 1 else x


def decode_many(items: Iterable[tuple[str, object, int]], size, channels):
    """(name, path-or-bytes, label) items -> (x, y, skipped names with the reason)."""
    xs, ys, skipped = [], [], []
    for name, source, label in items:
        try:
            xs.append(decode(source, size, channels))
            ys.append(label)
        except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for a corrupt file
            skipped.append(f"{name}: {type(exc).__name__}: {exc}")
    x = np.stack(xs) if xs else np.zeros((0, size[0], size[1], channels), np.float32)
    return x, np.asarray(ys, dtype=np.int64), skipped

"""Occlusion (Zeiler & Fergus 2014): slide a grey patch over the image and watch the class score fall.

Every occluded copy of an image is pushed through `predict` in batches sized for the device;
a pixel's importance is the mean drop in the class probability over the windows that cover it.
"""

from __future__ import annotations

import numpy as np

from workbench.explain.base import Explainer, Explanation, Param, chunks
from workbench.explain.batching import batch_size_for


def windows(height: int, width: int, size: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners of the occluding windows; the last row/column touches the border."""
    rows = list(range(0, max(height - size, 0) + 1, stride))
    cols = list(range(0, max(width - size, 0) + 1, stride))
    if rows[-1] + size < height:
        rows.append(height - size)
    if cols[-1] + size < width:
        cols.append(width - size)
    return [(r, c) for r in rows for c in cols]


class Occlusion(Explainer):
    name, title, family = "occlusion", "Occlusion", "perturbation"
    description = ("Cover one square at a time with a flat value and measure how much the class "
                   "probability drops; big drops mark the evidence.")
    params = (
        Param("window", None, 1, 512, help="side of the occluding square in pixels (default: 1/7 of the image, 32 at 224)"),
        Param("stride", None, 1, 512, help="step between two windows (default: half the window)"),
        Param("fill", 0.0, help="the value the window is filled with, in the model's input units"),
        Param("batch", None, 1, 4096, help="occluded copies per forward pass (default: the fastest, measured on this device)"),
    )

    def compute(self, backend, model, images, targets, window, stride, fill, batch):
        n, h, w, c = images.shape
        size = min(window or max(1, min(h, w) // 7), h, w)
        stride = stride or max(1, size // 2)
        corners = windows(h, w, size, stride)
        batch = batch or batch_size_for(backend, model, images[0])
        base = backend.predict(model, images)
        maps, drops = [], []
        buffer = np.empty((min(batch, len(corners)), h, w, c), np.float32)  # reused: no page faults per batch
        for image, target, p0 in zip(images, targets, base):
            drop = np.empty(len(corners), np.float32)
            for part in chunks(len(corners), batch):  # build only one batch of copies at a time
                copies = buffer[: part.stop - part.start]
                copies[:] = image
                for k, (r, col) in enumerate(corners[part]):
                    copies[k, r:r + size, col:col + size] = fill
                drop[part] = p0[target] - backend.predict(model, copies, batch_size=batch)[:, target]
            total, count = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
            for d, (r, col) in zip(drop, corners):
                total[r:r + size, col:col + size] += d
                count[r:r + size, col:col + size] += 1
            maps.append(total / np.maximum(count, 1))
            drops.append(drop)
        return Explanation(self.name, maps=np.stack(maps),
                           steps={"corners": corners, "window": size, "drops": np.stack(drops), "batch": batch})

"""Maximally activating patches (seed 002, Tables 8-11): find where a channel fires most across a set
of images, and cut out the input window that neuron sees, traced back through the receptive fields.

For a spec architecture the window comes from the core's receptive-field maths (workbench.shapes);
for a native (zoo) model, from where the neuron's input gradient is non-zero.
"""

from __future__ import annotations

import numpy as np

from workbench import shapes
from workbench.backend import Neuron
from workbench.explain.activations import tile
from workbench.explain.base import Explainer, Explanation, Param, bilinear_matrix, explain_layer


def receptive_window(backend, model, images, layer, n, row, col):
    """(top, left, bottom, right) of the input that neuron (row, col) of `layer` sees in image n."""
    arch = getattr(model, "workbench_arch", None)
    if arch is not None and arch.is_spec:
        field = {r.name: r for r in shapes.compute(arch).rows}[layer].receptive_field
        return field.window(row, col, images.shape[1:3])
    # a native model: the pixels whose change can move the neuron at all (one backward pass)
    _, grads = backend.gradients(model, images[n:n + 1], Neuron(layer, 0, row, col))
    rows, cols = np.nonzero(np.abs(grads[0]).sum(axis=-1))
    if not len(rows):
        return 0, 0, images.shape[1], images.shape[2]
    return rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


def middle_layer(backend, model, side: int) -> str:
    """The deepest layer still at least 1/8 of the input's side: its patches are parts of the image,
    not all of it (the last conv layer of a deep net sees the whole image)."""
    spatial = [r for r in backend.summary(model) if len(r.output_shape) == 3]
    fine = [r.name for r in spatial if r.output_shape[0] >= side / 8]
    return fine[-1] if fine else explain_layer(backend, model)


def resize(patch: np.ndarray, size: int) -> np.ndarray:
    return np.einsum("Hh,hwc,Ww->HWc", bilinear_matrix(patch.shape[0], size), patch,
                     bilinear_matrix(patch.shape[1], size))


class MaxPatches(Explainer):
    name, title, family = "max-patches", "Maximally activating patches", "activation"
    description = ("For each channel, the image regions (receptive fields) where it fires most strongly "
                   "across the images given.")
    needs_targets = False
    params = (
        Param("layer", None, help="the conv layer (default: the deepest one at 1/8 of the input size or more)"),
        Param("channels", 4, 1, 64, help="channels to show, the most active first"),
        Param("top", 3, 1, 32, help="patches per channel"),
        Param("size", 48, 8, 224, help="display size of each patch"),
    )

    def compute(self, backend, model, images, targets, layer, channels, top, size):
        layer = layer or middle_layer(backend, model, images.shape[1])
        acts = backend.activations(model, images, [layer])[layer]  # (N, h, w, C)
        if acts.ndim != 4:
            raise ValueError(f"layer {layer!r} has no spatial output; pick a conv layer")
        chosen = np.argsort(-acts.max(axis=(0, 1, 2)))[:channels]  # the channels that fire most
        lo, hi = images.min(), images.max()
        shown = (images - lo) / ((hi - lo) or 1)
        rows, found, windows = [], [], {}
        for channel in chosen:
            flat = acts[..., channel].ravel()
            best = np.argsort(-flat)[:top]
            patches = []
            for index in best:
                n, i, j = np.unravel_index(index, acts.shape[:3])
                key = (n, i, j)
                if key not in windows:
                    windows[key] = receptive_window(backend, model, images, layer, n, i, j)
                top_, left, bottom, right = windows[key]
                patches.append(resize(shown[n, top_:bottom, left:right], size))
                found.append({"channel": int(channel), "image": int(n), "neuron": (int(i), int(j)),
                              "activation": float(flat[index]), "window": (int(top_), int(left), int(bottom), int(right))})
            while len(patches) < top:
                patches.append(np.zeros((size, size, images.shape[-1])))
            rows.extend(patches)
        grid = tile((np.stack(rows) * 255).clip(0, 255).astype(np.uint8), top, 2)
        return Explanation(self.name, grids={f"{layer}: channels {', '.join(map(str, chosen))}": grid},
                           steps={"layer": layer, "patches": found})

"""Maximally activating patches (seed 002, Tables 8-11): find where a channel fires most across a set
of images, and cut out the input window that neuron sees, traced back through the receptive fields.

For a spec architecture the window comes from the core's receptive-field maths (workbench.shapes).
A native (zoo) model has no spec to compute it from, so the window is where the neuron's input
gradient is non-zero: the pixels that can move that neuron at all. Both the ranking and that
gradient use the value before the layer's activation (see layers.pre_activation): a ReLU6 neuron
clipped at 6 ties with its neighbours and passes no gradient.
"""

from __future__ import annotations

import numpy as np

from workbench import shapes
from workbench.backend import Neuron
from workbench.explain.activations import tile
from workbench.explain.base import Explainer, Explanation, Param, bilinear_matrix, chunks
from workbench.explain.inputs import dataset_inputs
from workbench.explain.layers import middle_layer, pre_activation
from workbench.model_facts import arch_of

TRACE_BATCH = 16  # neurons traced per backward pass (each one a copy of its image)


def spec_windows(arch, layer, neurons, image_hw) -> list[tuple[int, int, int, int]]:
    """Receptive-field windows of (image, row, col, channel) neurons from the architecture's shape maths."""
    field = {r.name: r for r in shapes.compute(arch).rows}[layer].receptive_field
    return [field.window(i, j, image_hw) for _, i, j, _ in neurons]


def gradient_windows(backend, model, images, layer, neurons) -> list[tuple[int, int, int, int] | None]:
    """The bounding box of the input pixels with a non-zero gradient for each neuron, None where
    every gradient is zero (the neuron is cut off from the image). Batched: each neuron is a copy
    of its image with its own (row, col, channel) target."""
    out = []
    for part in chunks(len(neurons), TRACE_BATCH):
        n, rows, cols, channels = (list(v) for v in zip(*neurons[part]))
        target = Neuron(layer, channels, rows, cols)
        _, grads = backend.gradients(model, images[n], target)
        for support in np.abs(grads).sum(axis=-1) > 0:
            r, c = np.nonzero(support)
            out.append((r.min(), c.min(), r.max() + 1, c.max() + 1) if len(r) else None)
    return out


def resize(patch: np.ndarray, size: int) -> np.ndarray:
    return np.einsum("Hh,hwc,Ww->HWc", bilinear_matrix(patch.shape[0], size), patch,
                     bilinear_matrix(patch.shape[1], size))


class MaxPatches(Explainer):
    name, title, family = "max-patches", "Maximally activating patches", "activation"
    description = ("For each channel, the image regions (receptive fields) where it fires most strongly "
                   "across the images given, or across a dataset's test images.")
    needs_targets = False
    params = (
        Param("layer", None, help="the conv layer (default: the deepest one at 1/8 of the input size or more)"),
        Param("channels", 4, 1, 64, help="channels to show, the most active first"),
        Param("top", 3, 1, 32, help="patches per channel"),
        Param("size", 48, 8, 224, help="display size of each patch"),
        Param("dataset", None, help="rank over this dataset's first test images instead of the images given "
                                    "(the same patches for every photo)"),
        Param("dataset_images", 16, 1, 1000, help="how many of the dataset's test images to rank over"),
    )

    def input_key(self, images, params):
        # ranked over a dataset, the photos given only tell the input size
        return images.shape[1:] if params["dataset"] else images

    def compute(self, backend, model, images, targets, layer, channels, top, size, dataset, dataset_images):
        if dataset:
            images = dataset_inputs(backend, model, dataset, dataset_images)
        layer = layer or middle_layer(backend, model, images.shape[1])
        scored = pre_activation(backend, model, layer)
        acts = backend.activations(model, images, list(dict.fromkeys([layer, scored])))
        if acts[layer].ndim != 4:
            raise ValueError(f"layer {layer!r} has no spatial output; pick a conv layer")
        score = acts[scored]  # (N, h, w, C), before the activation's clip when there is one
        # strongest peak first; the mean breaks ties (a layer whose own values clip)
        chosen = np.lexsort((-score.mean(axis=(0, 1, 2)), -score.max(axis=(0, 1, 2))))[:channels]
        neurons = []  # (image, row, col, channel), `top` per channel, strongest first
        for channel in chosen:
            best = np.argsort(-score[..., channel].ravel(), kind="stable")[:top]
            neurons += [(*map(int, np.unravel_index(k, score.shape[:3])), int(channel)) for k in best]
        arch = arch_of(model)
        if arch is not None and arch.is_spec:
            windows = spec_windows(arch, layer, neurons, images.shape[1:3])
        else:
            windows = gradient_windows(backend, model, images, scored, neurons)
        lo, hi = images.min(), images.max()
        shown = (images - lo) / ((hi - lo) or 1)
        blank = np.zeros((size, size, images.shape[-1]))
        patches, found, untraced = [], [], []
        for (n, i, j, c), window in zip(neurons, windows):
            found.append({"channel": c, "image": n, "neuron": (i, j), "activation": float(acts[layer][n, i, j, c]),
                          "score": float(score[n, i, j, c]), "window": None if window is None else tuple(map(int, window))})
            if window is None:  # shown black and listed, never silently the whole image
                untraced.append(f"channel {c}, image {n + 1}, neuron ({i}, {j}): no input pixel moves it")
                patches.append(blank)
                continue
            t, left, b, r = window
            patches.append(resize(shown[n, t:b, left:r], size))
        patches += [blank] * (len(chosen) * top - len(patches))  # fewer neurons than asked for
        grid = tile((np.stack(patches) * 255).clip(0, 255).astype(np.uint8), top, 2)
        return Explanation(self.name, grids={f"{layer}: channels {', '.join(map(str, chosen))}": grid},
                           steps={"layer": layer, "ranked_at": scored, "channels": [int(c) for c in chosen],
                                  "patches": found, "untraced": untraced})

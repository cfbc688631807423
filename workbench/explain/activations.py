"""Looking at the model's own numbers: feature maps of a layer, and the first layer's filters.

Seed 001's recipe: every channel of a layer's output, standardised (x - mean) / std, scaled by
64 around 128 and clipped to 0..255, tiled 16 to a row.
"""

from __future__ import annotations

import numpy as np

from workbench.explain.base import Explainer, Explanation, Param, conv_layers


def tile(channels: np.ndarray, per_row: int = 16, gap: int = 1) -> np.ndarray:
    """(K, h, w[, c]) pictures -> one grid image, `per_row` to a row, separated by `gap` pixels."""
    k, h, w = channels.shape[:3]
    rows = -(-k // per_row)
    cols = min(k, per_row)
    grid = np.zeros((rows * (h + gap) - gap, cols * (w + gap) - gap, *channels.shape[3:]), channels.dtype)
    for i, picture in enumerate(channels):
        r, c = divmod(i, per_row)
        grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = picture
    return grid


def seed_001_scale(channel: np.ndarray) -> np.ndarray:
    """Seed 001's post-processing: standardise, x64, +128, clip to 0..255 (a flat channel stays grey)."""
    x = channel - channel.mean()
    std = x.std()
    x = x / std if std > 0 else x
    return np.clip(x * 64 + 128, 0, 255).astype(np.uint8)


class FeatureMaps(Explainer):
    name, title, family = "feature-maps", "Feature maps", "activation"
    description = "Every channel of the chosen layers' outputs for each image, tiled in a grid."
    needs_targets = False
    params = (
        Param("layers", None, help="layer names, comma-separated (default: the first and the last conv layer)"),
        Param("max_channels", 64, 1, 4096, help="show at most this many channels per layer"),
        Param("per_row", 16, 1, 64),
    )

    def compute(self, backend, model, images, targets, layers, max_channels, per_row):
        names = _layer_list(layers) or _first_and_last(conv_layers(backend, model))
        acts = backend.activations(model, images, names)
        grids = {}
        for name in names:
            a = acts[name]
            if a.ndim != 4:
                raise ValueError(f"layer {name!r} has no spatial output (shape {a.shape[1:]}); pick a conv layer")
            for n, per_image in enumerate(a):
                channels = np.stack([seed_001_scale(per_image[..., k]) for k in range(min(a.shape[-1], max_channels))])
                grids[f"{name} (image {n + 1})"] = tile(channels, per_row)
        return Explanation(self.name, grids=grids, steps={"layers": names})


class Filters(Explainer):
    name, title, family = "filters", "First-layer filters", "activation"
    description = "The first conv layer's kernels as small pictures (RGB when the input has 3 channels)."
    needs_targets = False
    params = (Param("layer", None, help="a conv layer (default: the first)"), Param("per_row", 16, 1, 64),
              Param("zoom", 4, 1, 16, help="pixels per kernel weight"))

    def input_key(self, images, params):
        return images.shape[1:]  # the model's kernels; of the images only their channel count

    def compute(self, backend, model, images, targets, layer, per_row, zoom):
        weights = backend.get_weights(model)
        kernels = {name: arrays[0] for name, arrays in weights.items() if arrays and arrays[0].ndim == 4}
        if layer is None:  # the first kernel that reads the image itself
            layer = next((n for n, k in kernels.items() if k.shape[2] == images.shape[-1]), None)
        if layer not in kernels:
            raise ValueError(f"no conv kernel to show for layer {layer!r}; layers with kernels: "
                             f"{', '.join(list(kernels)[:8]) or 'none'}")
        kernel = kernels[layer]  # (kh, kw, in, out), the Keras layout
        pictures = np.moveaxis(kernel, -1, 0)  # (out, kh, kw, in)
        if pictures.shape[-1] != 3:  # not RGB: show each filter's first input channel
            pictures = pictures[..., 0]
        lo, hi = pictures.min(axis=tuple(range(1, pictures.ndim)), keepdims=True), \
            pictures.max(axis=tuple(range(1, pictures.ndim)), keepdims=True)
        pictures = ((pictures - lo) / np.where(hi > lo, hi - lo, 1) * 255).astype(np.uint8)
        pictures = pictures.repeat(zoom, axis=1).repeat(zoom, axis=2)
        return Explanation(self.name, grids={layer: tile(pictures, per_row)}, steps={"kernel": kernel})


def _layer_list(layers) -> list[str]:
    if not layers:
        return []
    return [s.strip() for s in layers.split(",") if s.strip()] if isinstance(layers, str) else list(layers)


def _first_and_last(names: list[str]) -> list[str]:
    if not names:
        raise ValueError("this model has no layer with a spatial output")
    return list(dict.fromkeys([names[0], names[-1]]))

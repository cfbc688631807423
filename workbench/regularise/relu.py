"""Dead ReLUs and where batch normalisation goes, over the architecture spec.

"CNNs part II": when for *all* data the input to a ReLU is negative, no gradient passes it and
the layers before it stop learning (a dead ReLU); batch normalisation before the activation
keeps its input in the sweet spot. A unit is a Dense unit or, for a convolution, a filter (its
weights are shared by every position, so it is dead only when its input is <= 0 at every
position of every image; ReLU's gradient at exactly 0 is 0 in both frameworks too).

The spec is rewritten so every ReLU is its own Activation layer: its input (the pre-activation)
is then the output of the layer before it, which every backend can read.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from workbench import spec as S

FUSABLE = (S.Conv2D, S.DepthwiseConv2D, S.SeparableConv2D, S.Dense)


def _rebuilt(arch: S.Architecture, layers: list) -> S.Architecture:
    data = arch.to_dict()
    data["layers"] = [S.layer_to_dict(layer) for layer in layers]
    return S.parse_architecture(data)


def unfused(arch: S.Architecture) -> S.Architecture:
    """The same network (same weights, same names) with each `activation="relu"` of a top-level
    Conv2D / Dense written as the layer followed by Activation("relu") named `<layer>_relu`."""
    out = []
    for layer in arch.layers:
        if isinstance(layer, FUSABLE) and layer.activation == "relu":
            out += [dataclasses.replace(layer, activation=None), S.Activation("relu", name=f"{layer.name}_relu")]
        else:
            out.append(layer)
    return _rebuilt(arch, out)


def with_batchnorm(arch: S.Architecture, on: bool) -> S.Architecture:
    """on: a BatchNormalization before every ReLU that has none (named `<relu>_bn`, between the
    linear layer and its activation, as cnn2 has it); off: every top-level BatchNormalization removed."""
    arch = unfused(arch)
    if not on:
        return _rebuilt(arch, [layer for layer in arch.layers if not isinstance(layer, S.BatchNormalization)])
    out = []
    for layer in arch.layers:
        is_relu = isinstance(layer, S.Activation) and layer.activation == "relu"
        if is_relu and out and not isinstance(out[-1], (S.BatchNormalization, S.Dropout)):
            out.append(S.BatchNormalization(name=f"{layer.name}_bn"))
        out.append(layer)
    return _rebuilt(arch, out)


def relu_inputs(arch: S.Architecture) -> list[tuple[str, str]]:
    """(ReLU layer, the layer whose output is its input) for every top-level Activation("relu")."""
    layers = unfused(arch).layers
    return [(layer.name, layers[i - 1].name) for i, layer in enumerate(layers)
            if i and isinstance(layer, S.Activation) and layer.activation == "relu"]


def dead_units(pre: np.ndarray) -> np.ndarray:
    """Per unit (last axis), True where its pre-activation is <= 0 for every image (and position)."""
    pre = np.asarray(pre)
    return np.all(pre.reshape(-1, pre.shape[-1]) <= 0, axis=0)


def dead_relus(backend, model, arch: S.Architecture, x: np.ndarray, bins: int = 40) -> dict:
    """Per ReLU layer: dead units, their fraction and a histogram of its pre-activation inputs,
    for one batch in training mode (batch statistics in BatchNormalization, as a training step
    sees them; the model is not changed)."""
    pairs = relu_inputs(arch)
    acts = backend.activations(model, x, [pre for _, pre in pairs], batch_size=len(x), training=True)
    out = {}
    for relu, pre in pairs:
        values = acts[pre]
        dead = dead_units(values)
        finite = values[np.isfinite(values)]
        counts, edges = np.histogram(finite, bins=bins) if finite.size else (np.zeros(bins, int), np.zeros(bins + 1))
        out[relu] = {"input": pre, "units": int(dead.size), "dead": int(dead.sum()),
                     "dead_fraction": float(dead.mean()), "negative_fraction": float(np.mean(values <= 0)),
                     "histogram": {"counts": counts.tolist(), "edges": np.round(edges, 6).tolist()}}
    return out

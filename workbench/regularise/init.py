"""Initial weight scale: the same network started from small, default (Glorot), He and
too-large kernels. "CNNs part II": small random numbers are preferred.

Every variant is the spec's own seeded Glorot-uniform draw (workbench.weights.initial_weights,
the same numbers in both backends) multiplied per layer, so only the scale differs.
"""

from __future__ import annotations

import math

import numpy as np

from workbench import graph
from workbench import spec as S
from workbench import weights as W
from workbench.backend import ClassScore

INITS = {
    "small": "Glorot uniform x 0.1 (too small: the signal fades layer by layer)",
    "default": "Glorot uniform (Keras' default), limit sqrt(6 / (fan_in + fan_out))",
    "he": "He uniform, limit sqrt(6 / fan_in) (made for ReLU)",
    "large": "Glorot uniform x 10 (too large: the signal explodes)",
}
FACTORS = {"small": 0.1, "default": 1.0, "large": 10.0}


def check_init(name: str) -> str:
    key = str(name).lower()
    key = {"glorot": "default", "xavier": "default", "kaiming": "he"}.get(key, key)
    if key not in INITS:
        raise ValueError(f"unknown initialisation {name!r}; choose one of: {', '.join(INITS)}")
    return key


def _he_factor(kernel: np.ndarray) -> float:
    """He's limit over Glorot's for this kernel: sqrt((fan_in + fan_out) / fan_in)."""
    receptive = math.prod(kernel.shape[:-2]) if kernel.ndim > 2 else 1
    fan_in, fan_out = kernel.shape[-2] * receptive, kernel.shape[-1] * receptive
    return math.sqrt((fan_in + fan_out) / fan_in)


def initial(arch: S.Architecture, init: str = "default", seed: int = 0) -> W.Weights:
    """The spec's initial weights with every kernel (the arrays of rank > 1) scaled for `init`."""
    init = check_init(init)
    weights = W.initial_weights(arch, seed)
    for arrays in weights.values():
        for i, a in enumerate(arrays):
            if a.ndim > 1:
                arrays[i] = a * (_he_factor(a) if init == "he" else FACTORS[init])
    return weights


def build(backend, arch: S.Architecture, init: str = "default", seed: int = 0):
    """A fresh model of `arch` in `backend`, started from `init`."""
    model = backend.build(arch, seed=seed)
    backend.set_weights(model, initial(arch, init, seed))
    return model


def step0(backend, model, arch: S.Architecture, x: np.ndarray, y: np.ndarray) -> list[dict]:
    """Per layer before any training: the std of its activations, and the root mean square of the
    gradient of each image's true-class score with respect to them (what backpropagation hands it)."""
    names = graph.layer_names(arch)
    acts = backend.activations(model, x, names, batch_size=len(x))
    rows = []
    target = ClassScore([int(c) for c in y])
    for name in names:
        a = acts[name]
        grad = backend.gradients(model, x, target, layer=name)[1] if name != names[-1] else None  # the score itself
        rows.append({"layer": name, "activation_std": float(np.std(a)), "activation_mean": float(np.mean(a)),
                     "gradient_rms": None if grad is None else float(np.sqrt(np.mean(np.square(grad, dtype=np.float64))))})
    return rows

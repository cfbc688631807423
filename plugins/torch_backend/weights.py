"""Weights of a torch model in the Keras layout (see workbench.weights), keyed by layer name.

Each module converts its own arrays (plugins.torch_backend.layers.keras_slots): a conv kernel
OIHW <-> HWIO, a depthwise kernel (C*dm, 1, kh, kw) <-> (kh, kw, C, dm), a Linear weight
(out, in) <-> (in, out), BatchNorm's four arrays as they are.
"""

from __future__ import annotations

import numpy as np
import torch

from workbench import weights as W
from workbench.model_facts import arch_of, layers_of
from . import layers as L


def layer_names(model) -> list[str]:
    return list(layers_of(model))


def set_frozen(model, frozen: set[str], batch_stats: bool = False) -> None:
    """requires_grad off for the layers named in ``frozen``, on for every other parameter.
    ``batch_stats``: training leaves the frozen BatchNorm layers in train mode (the trap; see training.py)."""
    for p in model.parameters():
        p.requires_grad_(True)
    for name, module in layers_of(model).items():
        if name in frozen:
            for p in module.parameters():
                p.requires_grad_(False)
    model.workbench_frozen = frozen  # training keeps frozen BatchNorm layers in inference mode
    model.workbench_batch_stats = bool(batch_stats)


def get_weights(model) -> W.Weights:
    out: W.Weights = {}
    for name, module in layers_of(model).items():
        slots = L.keras_slots(module)
        if slots:
            out[name] = [np.ascontiguousarray(to_keras(t.detach().cpu().numpy())) for t, to_keras, _ in slots]
    return out


def set_weights(model, weights: W.Weights) -> None:
    arch = arch_of(model)
    if arch is not None and arch.is_spec:
        W.check_weights(arch, weights)
    layers = layers_of(model)
    with torch.no_grad():
        for name, arrays in weights.items():
            if name not in layers:
                raise ValueError(f"the model has no layer named {name!r}")
            slots = L.keras_slots(layers[name])
            if len(slots) != len(arrays):
                raise ValueError(f"layer {name!r} takes {len(slots)} arrays, got {len(arrays)}")
            for (tensor, _, from_keras), array in zip(slots, arrays):
                # torch does the layout change inside copy_ (strided, multi-threaded, no numpy copy)
                array = np.asarray(array, dtype=np.float32)
                if not array.flags.writeable:  # e.g. straight from a file; torch wants to own writable memory
                    array = array.copy()
                value = from_keras(torch.from_numpy(array))
                if tuple(value.shape) != tuple(tensor.shape):
                    raise ValueError(f"layer {name!r}: array of shape {np.shape(array)} does not fit {tuple(tensor.shape)}")
                tensor.copy_(value)

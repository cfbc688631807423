"""Keras models already keep their weights in the Keras layout: these just key them by layer name."""

from __future__ import annotations

import keras
import numpy as np

from workbench import weights as W
from workbench.model_facts import arch_of, layers_of


def layer_names(model) -> list[str]:
    """Spec names in spec order; a native model's attached layer names when it has them
    (the names its PyTorch twin uses), else all its layers but the input."""
    arch = arch_of(model)
    if arch is not None and arch.is_spec:
        from workbench import graph

        return graph.layer_names(arch)
    if layers_of(model):
        return list(layers_of(model))
    return [layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"]


def set_frozen(model, frozen: set[str], batch_stats: bool = False) -> None:
    """Keras' own switch: a frozen layer's weights (a BatchNormalization's gamma and beta too)
    become non-trainable, and a frozen BatchNormalization runs in inference mode.

    ``batch_stats`` (the trap of keras issue 9214, Keras 2's behaviour): a frozen
    BatchNormalization stays a trainable layer, so that training normalises with each batch's
    statistics, while gamma and beta stay fixed and momentum 1 keeps its moving statistics."""
    for name in layer_names(model):
        layer = model.get_layer(name)
        layer.trainable = name not in frozen
        if isinstance(layer, keras.layers.BatchNormalization):
            original = getattr(layer, "workbench_momentum", layer.momentum)
            object.__setattr__(layer, "workbench_momentum", original)  # its own, kept while the trap changes it
            trap = batch_stats and name in frozen
            layer.momentum = 1.0 if trap else original
            if trap:
                layer.trainable = True
            # gamma and beta: fixed while frozen (trap or not), learned again once the layer is unfrozen
            for v in (layer.gamma, layer.beta):
                if v is not None:
                    v.trainable = name not in frozen



def get_weights(model) -> W.Weights:
    out: W.Weights = {}
    for name in layer_names(model):
        arrays = model.get_layer(name).get_weights()
        if arrays:
            out[name] = [np.asarray(a, np.float32) for a in arrays]
    return out


def set_weights(model, weights: W.Weights, arch=None) -> None:
    arch = arch or arch_of(model)
    if arch is not None and arch.is_spec:
        W.check_weights(arch, weights)
    known = set(layer_names(model))
    for name, arrays in weights.items():
        if name not in known:
            raise ValueError(f"the model has no layer named {name!r}")
        layer = model.get_layer(name)
        want = [tuple(w.shape) for w in layer.weights]
        got = [tuple(np.shape(a)) for a in arrays]
        if want != got:
            raise ValueError(f"layer {name!r} expects weights of shapes {want}, got {got}")
        layer.set_weights([np.asarray(a, np.float32) for a in arrays])

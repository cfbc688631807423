"""Per-layer summary of a Keras model, read from the real Keras layers."""

from __future__ import annotations

import math

from workbench import spec as S
from workbench.backend import LayerInfo
from workbench.model_facts import arch_of
from .weights import layer_names


def _count(variables) -> int:
    return sum(math.prod(v.shape) for v in variables)


def summary(model) -> list[LayerInfo]:
    arch = arch_of(model)
    spec_types = {layer.name: layer.type for layer in S.walk(arch.layers)} if arch is not None else {}
    rows = []
    for name in layer_names(model):
        layer = model.get_layer(name)
        trainable, non_trainable = _count(layer.trainable_weights), _count(layer.non_trainable_weights)
        rows.append(LayerInfo(
            name, spec_types.get(name, type(layer).__name__), tuple(layer.output.shape[1:]),
            layer.count_params() if layer.built else trainable + non_trainable, trainable, non_trainable,
        ))
    return rows


def layer_config(model, name: str) -> dict:
    """The Keras layer's class, its scalar settings (get_config) and its constructor's defaults."""
    import inspect

    layer = model.get_layer(name)
    scalar = (bool, int, float, str)
    settings = {k: v for k, v in layer.get_config().items() if isinstance(v, scalar) and k != "name"}
    signature = inspect.signature(type(layer).__init__).parameters.values()
    defaults = {p.name: p.default for p in signature if isinstance(p.default, scalar)}
    return {"class": f"keras.layers.{type(layer).__name__}", "settings": settings, "defaults": defaults}

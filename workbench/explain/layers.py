"""Which layer to look at: a mid-depth layer for patches and patterns, and the layer before an
activation, where a neuron's value is not yet clipped."""

from __future__ import annotations

from workbench.explain.base import explain_layer

ACTIVATION_TYPES = ("relu", "activation", "elu", "sigmoid", "tanh", "swish", "gelu")


def middle_layer(backend, model, side: int) -> str:
    """The deepest layer still at least 1/8 of the input's side: its patches are parts of the image,
    not all of it (the last conv layer of a deep net sees the whole image)."""
    spatial = [r for r in backend.summary(model) if len(r.output_shape) == 3]
    fine = [r.name for r in spatial if r.output_shape[0] >= side / 8]
    return fine[-1] if fine else explain_layer(backend, model)


def pre_activation(backend, model, layer: str) -> str:
    """The layer whose output `layer` squashes, when `layer` is an activation layer of its own (the
    ReLU6 after each BatchNorm in EfficientNet); else `layer` itself.

    A ReLU6 clips at 0 and 6: many neurons tie at 6.0 and a clipped neuron passes no gradient, so
    ranking neurons and tracing them back to the image is done on the value before the clip.
    """
    rows = backend.summary(model)
    names = [r.name for r in rows]
    if layer not in names:
        raise ValueError(f"no layer named {layer!r}; the layers are: {', '.join(names)}")
    i = names.index(layer)
    row = rows[i]
    squashes = any(kind in row.type.lower() for kind in ACTIVATION_TYPES) and "conv" not in row.type.lower()
    if i and squashes and rows[i - 1].output_shape == row.output_shape:
        return rows[i - 1].name
    return layer


def layers_before(backend, model, layer: str) -> list[str]:
    """The spatial layers before `layer`, nearest first."""
    names = [r.name for r in backend.summary(model) if len(r.output_shape) == 3]
    return names[:names.index(layer)][::-1] if layer in names else []

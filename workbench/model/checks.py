"""What each key of a layer may hold: one check per key, shared by every layer that has it.

A layer class can override ``Layer.check`` for a key whose meaning is its own (ZeroPadding2D's
``padding`` is pixels, not "valid"/"same")."""

from __future__ import annotations

import re

ACTIVATIONS = (
    "linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "softmax", "tanh", "elu", "selu",
    "swish", "hard_swish", "gelu",
)
PADDINGS = ("valid", "same")


class SpecError(ValueError):
    """A wrong architecture description: says which layer, which key and why."""

    def __init__(self, where: str, key: str | None, reason: str):
        self.where, self.key, self.reason = where, key, reason
        at = f"{where}, key '{key}'" if key else where
        super().__init__(f"{at}: {reason}")


def pair(value, where, key) -> tuple[int, int]:
    if isinstance(value, bool):
        raise SpecError(where, key, f"expected an integer or a pair of integers, got {value!r}")
    if isinstance(value, int):
        value = (value, value)
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        if min(value) < 1:
            raise SpecError(where, key, f"must be at least 1, got {list(value)}")
        return (int(value[0]), int(value[1]))
    raise SpecError(where, key, f"expected an integer or a pair of integers, got {value!r}")


def optional_pair(value, where, key):
    return None if value is None else pair(value, where, key)


def zero_padding(value, where, key):
    """An int, (rows, cols) or ((top, bottom), (left, right)), as Keras' ZeroPadding2D takes."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = ((value, value), (value, value))
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        value = ((value[0], value[0]), (value[1], value[1]))
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value)
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for p in value for v in p)
    ):
        return (tuple(value[0]), tuple(value[1]))
    raise SpecError(where, key, f"expected an int, (rows, cols) or ((top, bottom), (left, right)), got {value!r}")


def positive_int(value, where, key):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(where, key, f"must be a positive integer, got {value!r}")
    return value


def optional_positive_int(value, where, key):
    return None if value is None else positive_int(value, where, key)


def padding(value, where, key):
    if value not in PADDINGS:
        raise SpecError(where, key, f"must be 'valid' or 'same', got {value!r}")
    return value


def activation_name(value, where, key):
    """An activation by its Keras name."""
    if value not in ACTIVATIONS:
        raise SpecError(where, key, f"unknown activation {value!r}; known: {', '.join(ACTIVATIONS)}")
    return value


def optional_activation(value, where, key):
    """A layer's own activation: None and "linear" both mean none (stored as None)."""
    return None if value in (None, "linear") else activation_name(value, where, key)


def rate(value, where, key):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise SpecError(where, key, f"must be a number in [0, 1), got {value!r}")
    return float(value)


def positive_number(value, where, key):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SpecError(where, key, f"must be a positive number, got {value!r}")
    return float(value)


def boolean(value, where, key):
    if not isinstance(value, bool):
        raise SpecError(where, key, f"must be true or false, got {value!r}")
    return value


def layer_name(value, where, key):
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
        raise SpecError(where, key, f"must be letters, digits and underscores, got {value!r}")
    return value


# key -> its check; a key not listed here is taken as it is
KEY_CHECKS = {
    "kernel_size": pair, "pool_size": pair, "strides": optional_pair, "padding": padding,
    "activation": optional_activation, "gate": optional_activation,
    "filters": positive_int, "depth_multiplier": positive_int, "units": optional_positive_int,
    "rate": rate, "momentum": positive_number, "epsilon": positive_number, "use_bias": boolean,
    "name": layer_name,
}

"""Backend-neutral pieces of running a spec model, shared by every backend plugin.

- ``run(layers, x, ops)`` walks the spec graph once: each plain layer is applied to the
  running tensor, a block (Residual, Inception) merges what its parts make
  of it. The Keras builder walks it with symbolic tensors to wire a functional model; the PyTorch
  module walks it in ``forward`` with real tensors. One walk, two frameworks.
- The final activation to strip for logits, the probabilities from logits, and gradient
  targets (which layers they read, checks with clear messages, and the per-image value
  written over any tensor type through a few framework ops).
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, Sequence

import numpy as np

from workbench import spec as S
from workbench.backend import ChannelMean, ClassScore, Neuron

SQUASHING = ("softmax", "sigmoid")  # final activations that logits leave out


class GraphOps(Protocol):
    def layer(self, layer: S.Layer, x: Any) -> Any: ...

    def merge(self, block: S.Layer, inputs: list[Any]) -> Any: ...


def run(layers: Sequence[S.Layer], x: Any, ops: GraphOps) -> Any:
    """Apply a spec's layers to x; a block runs each of its parts on x (an empty part is x
    itself) and calls ``ops.merge(block, [their outputs])``."""
    for layer in layers:
        if isinstance(layer, S.Block):
            x = ops.merge(layer, [run(part, x, ops) for _, part in layer.parts()])
        else:
            x = ops.layer(layer, x)
    return x


def call_native(builder, arch: S.Architecture, seed: int):
    """Call a native (zoo) builder with whichever of input_shape, num_classes, seed it accepts."""
    offered = {"input_shape": arch.input_shape, "num_classes": arch.num_classes, "seed": seed}
    params = inspect.signature(builder).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return builder(**offered)
    return builder(**{k: v for k, v in offered.items() if k in params})


def layer_names(arch: S.Architecture) -> list[str]:
    """Every spec layer's name, in the order of workbench.shapes.compute (blocks after their insides)."""
    return [layer.name for layer in S.walk(arch.layers)]


def final_activation(arch: S.Architecture) -> tuple[str | None, str | None]:
    """(name of the last layer, its squashing activation) when the spec ends in softmax/sigmoid."""
    last = arch.layers[-1]
    act = getattr(last, "activation", None)
    return (last.name, act) if act in SQUASHING else (None, None)


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax over classes; a sigmoid for a one-unit (binary) head."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape[-1] == 1:
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def two_columns(probs: np.ndarray) -> np.ndarray:
    """(N, 1) sigmoid probabilities -> (N, 2) [1 - p, p], a one-unit head read as its two classes;
    anything else as it is."""
    probs = np.asarray(probs)
    if probs.ndim == 2 and probs.shape[1] == 1:
        return np.concatenate([1 - probs, probs], axis=1)
    return probs


def frozen_before(names: Sequence[str], from_layer: str | None) -> set[str]:
    """The layers set_trainable freezes: everything before ``from_layer`` in spec order."""
    if from_layer is None:
        return set()
    names = list(names)
    if from_layer not in names:
        raise ValueError(f"no layer named {from_layer!r}; the layers are: {', '.join(names)}")
    return set(names[: names.index(from_layer)])


def check_images(arch: S.Architecture | None, x) -> np.ndarray:
    """Images as float32 (N, H, W, C), fitting the model: a clear message instead of a framework's."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"expected images as an (N, H, W, C) array, got shape {x.shape}")
    if len(x) == 0:
        raise ValueError("no images: the batch is empty")
    # refused here, so no backend answers NaN and another finite numbers; the sum is one pass
    # without a mask as big as the batch, and NaN or infinite exactly when a pixel is
    if not np.isfinite(x.sum(dtype=np.float64)):
        bad = int((~np.isfinite(x)).reshape(len(x), -1).any(axis=1).sum())
        raise ValueError(f"{bad} of the {len(x)} images contain NaN or infinite pixels")
    if arch is not None:
        h, w, c = arch.input_shape
        if x.shape[3] != c:
            raise ValueError(f"{arch.name} takes images with {c} channel(s), got {x.shape[3]}")
        if arch.is_spec and x.shape[1:3] != (h, w):
            raise ValueError(f"{arch.name} is built for {h}x{w} images, got {x.shape[1]}x{x.shape[2]}; "
                             "resize them or build it with input_shape")
    return x


def check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def check_layers(requested: Sequence[str], known: Sequence[str]) -> list[str]:
    requested = [requested] if isinstance(requested, str) else list(requested)
    missing = [name for name in requested if name not in known]
    if missing:
        raise ValueError(f"no layer named {', '.join(map(repr, missing))}; the layers are: {', '.join(known)}")
    return requested


# -- gradient targets --------------------------------------------------------------------
def check_relu(relu: str) -> str:
    if relu not in ("plain", "guided"):
        raise ValueError(f"relu must be 'plain' or 'guided', got {relu!r}")
    return relu


def target_layer(target) -> str | None:
    """The layer whose output a target reads (None: the logits)."""
    if isinstance(target, ClassScore):
        return None
    if isinstance(target, (ChannelMean, Neuron)):
        return target.layer
    raise TypeError(f"unknown gradient target {target!r}; use ClassScore, ChannelMean or Neuron")


def class_indices(target: ClassScore, n: int, num_classes: int) -> np.ndarray:
    index = np.asarray(target.index)
    if index.ndim == 0:
        index = np.full(n, int(index))
    if index.shape != (n,):
        raise ValueError(f"ClassScore needs one class index or one per image ({n}), got {len(index)}")
    if index.min() < 0 or index.max() >= num_classes:
        raise ValueError(f"class index out of range: the model has {num_classes} classes")
    return index.astype(int)


def one_hot(index: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros((len(index), num_classes), np.float32)
    out[np.arange(len(index)), index] = 1.0
    return out


def class_weights(target: ClassScore, n: int, num_logits: int) -> np.ndarray:
    """(N, logits) weights whose dot product with the logits is each image's class score.
    A one-unit (sigmoid) head is two classes: +1 picks its logit (class 1), -1 its negative (class 0)."""
    if num_logits == 1:
        return (2.0 * class_indices(target, n, 2) - 1.0).astype(np.float32)[:, None]
    return one_hot(class_indices(target, n, num_logits), num_logits)


def per_image(value, n: int, name: str) -> np.ndarray:
    """A target's channel, row or col as one int per image (given once for all, or once per image)."""
    value = np.asarray(value)
    if value.ndim == 0:
        return np.full(n, int(value))
    if value.shape != (n,):
        raise ValueError(f"the target's {name} needs one value or one per image ({n}), got {len(value)}")
    return value.astype(int)


class TensorOps(Protocol):
    def const(self, array: np.ndarray) -> Any: ...

    def sum(self, t: Any, axes: tuple[int, ...]) -> Any: ...

    def mean(self, t: Any, axes: tuple[int, ...]) -> Any: ...


def target_values(target, logits, outputs: dict[str, Any], ops: TensorOps):
    """The target's value per image, as a framework tensor of shape (N,).

    ``outputs`` holds layer outputs as NHWC (or (N, units)) tensors; ``logits`` is (N, classes).
    Each image's value depends on that image only (inference mode), so the gradient of the
    sum over images is every image's own gradient: one backward pass for the whole batch.
    Per-image choices (a class or a neuron per image) are a constant one-hot mask summed against
    the tensor: the same two framework ops in every backend.
    """
    if isinstance(target, ClassScore):
        n = logits.shape[0]
        return ops.sum(logits * ops.const(class_weights(target, n, logits.shape[-1])), (1,))
    t = outputs[target.layer]
    n, shape = t.shape[0], tuple(t.shape[1:])
    channels = per_image(target.channel, n, "channel")
    bad = channels[(channels < 0) | (channels >= shape[-1])]
    if len(bad):
        raise ValueError(f"layer {target.layer!r} has {shape[-1]} channels; channel {bad[0]} is out of range")
    if isinstance(target, ChannelMean):
        if np.ndim(target.channel) == 0:
            return ops.mean(t[..., target.channel], tuple(range(1, len(shape))))
        mask = one_hot(channels, shape[-1]).reshape(n, *[1] * (len(shape) - 1), shape[-1])
        return ops.mean(ops.sum(t * ops.const(mask), (len(shape),)), tuple(range(1, len(shape))))
    if len(shape) == 1 or target.row is None:
        if len(shape) != 1:
            raise ValueError(f"Neuron on {target.layer!r} {list(shape)} needs row and col")
        if np.ndim(target.channel) == 0:
            return t[:, target.channel]
        return ops.sum(t * ops.const(one_hot(channels, shape[0])), (1,))
    if target.col is None:
        raise ValueError(f"Neuron on {target.layer!r} {list(shape)} needs row and col")
    rows, cols = per_image(target.row, n, "row"), per_image(target.col, n, "col")
    outside = np.flatnonzero((rows < 0) | (rows >= shape[0]) | (cols < 0) | (cols >= shape[1]))
    if len(outside):
        k = outside[0]
        raise ValueError(f"Neuron ({rows[k]}, {cols[k]}) is outside {target.layer!r}'s {shape[0]}x{shape[1]} map")
    if all(np.ndim(v) == 0 for v in (target.channel, target.row, target.col)):
        return t[:, target.row, target.col, target.channel]
    mask = np.zeros((n, *shape), np.float32)
    mask[np.arange(n), rows, cols, channels] = 1.0
    return ops.sum(t * ops.const(mask), (1, 2, 3))

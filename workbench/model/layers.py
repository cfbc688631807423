"""The plain layers, in Keras' vocabulary. Each one is the single home of its type:

- ``check``: what each of its keys may hold (workbench.model.checks, unless it says otherwise);
- ``output_shape(shape)``: its output shape and the formula the calculator shows,
  as ``keras.layers.Layer.compute_output_shape`` does (shapes exclude the batch axis);
- ``weight_shapes(shape)``: its arrays in Keras' layout and order, and ``initial_weights``:
  Keras' default starting values; its parameter count follows from the shapes;
- ``receptive_field(rf, shape)``: how it grows the field of view of one output pixel;
- ``macs(shape, out)``: its multiply-accumulates for one image.

The calculator (workbench.shapes), the weights (workbench.weights) and the gallery ask these;
each backend keeps one table from layer type to its framework layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from workbench.model import checks
from workbench.model.maths import LayerError, ReceptiveField, sliding_window


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Keras' default kernel initializer, with Keras' fans (receptive field x channels)."""
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    out = rng.random(shape, dtype=np.float32)  # float32 draws, in place: VGG16 has 138 M of them
    out *= 2 * limit
    out -= limit
    return out


@dataclass(frozen=True)
class Layer:
    name: str | None = field(default=None, kw_only=True)

    input_rank: ClassVar[int | None] = None  # 3: needs an image (H, W, C); 1: a flat vector; None: any
    frozen_arrays: ClassVar[int] = 0  # how many of its last weight arrays are not learned
    family: ClassVar[str] = "other"  # its kind, which the gallery's diagram colours it by

    @property
    def type(self) -> str:
        return type(self).__name__

    # -- its keys ------------------------------------------------------------------------
    @classmethod
    def check(cls, key: str, value, where: str):
        """Validate and normalise one key's value (raises SpecError naming the place)."""
        found = checks.KEY_CHECKS.get(key)
        return value if found is None else found(value, where, key)

    def validate(self, where: str) -> None:
        """Checks across keys, once the layer is built (raises SpecError)."""

    # -- what it does to a shape ----------------------------------------------------------
    def check_input(self, shape: tuple[int, ...]) -> None:
        if self.input_rank == 3 and len(shape) != 3:
            raise LayerError(f"needs an image (H, W, C) input, got {list(shape)}")
        if self.input_rank == 1 and len(shape) != 1:
            raise LayerError(f"needs a flat input, got {list(shape)}; add Flatten or GlobalAveragePooling2D before it")

    def output_shape(self, shape: tuple[int, ...]) -> tuple[tuple[int, ...], str]:
        return shape, "same shape"

    def receptive_field(self, rf: ReceptiveField | None, shape) -> ReceptiveField | None:
        return rf

    def macs(self, shape, out) -> int:
        return 0

    # -- its weights ----------------------------------------------------------------------
    def weight_shapes(self, shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        return []

    def params(self, shape) -> tuple[int, int]:
        """(trainable, non-trainable), counted from its weight shapes as Keras counts them."""
        sizes = [math.prod(s) for s in self.weight_shapes(shape)]
        cut = len(sizes) - self.frozen_arrays
        return sum(sizes[:cut]), sum(sizes[cut:])

    def initial_weights(self, shapes: list[tuple[int, ...]], rng: np.random.Generator) -> list[np.ndarray]:
        """Keras' defaults: Glorot-uniform kernels (drawn from ``rng`` in order), zero biases."""
        return [np.zeros(s, np.float32) if len(s) == 1 else glorot_uniform(rng, s) for s in shapes]


class _Windowed(Layer):
    """A window (kernel or pool) sliding over the image: the output-size formula and the field."""

    input_rank = 3

    def _window(self):  # (size, strides, padding)
        return self.kernel_size, self.strides, self.padding

    def _spatial(self, shape):
        return sliding_window(shape, *self._window())

    def receptive_field(self, rf, shape):
        kernel, strides, _ = self._window()
        return rf.slide(kernel, strides, self._spatial(shape)[2])


class _Conv(_Windowed):
    family = "convolution"

    def _out_channels(self, cin: int) -> int:
        return self.filters

    def output_shape(self, shape):
        oh, ow, _, formula = self._spatial(shape)
        return (oh, ow, self._out_channels(shape[2])), formula

    def _bias(self, cin):
        return [(self._out_channels(cin),)] if self.use_bias else []


@dataclass(frozen=True)
class Conv2D(_Conv):
    filters: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    activation: str | None = None
    use_bias: bool = True

    def weight_shapes(self, shape):
        return [(*self.kernel_size, shape[2], self.filters)] + self._bias(shape[2])

    def macs(self, shape, out):
        return out[0] * out[1] * out[2] * math.prod(self.kernel_size) * shape[2]


@dataclass(frozen=True)
class DepthwiseConv2D(_Conv):
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    depth_multiplier: int = 1
    activation: str | None = None
    use_bias: bool = True

    family = "depthwise convolution"

    def _out_channels(self, cin):
        return cin * self.depth_multiplier

    def weight_shapes(self, shape):
        return [(*self.kernel_size, shape[2], self.depth_multiplier)] + self._bias(shape[2])

    def macs(self, shape, out):
        return out[0] * out[1] * out[2] * math.prod(self.kernel_size)


@dataclass(frozen=True)
class SeparableConv2D(_Conv):
    """A depthwise convolution, then a pointwise 1x1 convolution that carries the bias."""

    filters: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    depth_multiplier: int = 1
    activation: str | None = None
    use_bias: bool = True

    family = "depthwise convolution"

    def weight_shapes(self, shape):
        mid = shape[2] * self.depth_multiplier
        return [(*self.kernel_size, shape[2], self.depth_multiplier), (1, 1, mid, self.filters)] + self._bias(shape[2])

    def macs(self, shape, out):
        mid = shape[2] * self.depth_multiplier
        return out[0] * out[1] * (mid * math.prod(self.kernel_size) + mid * self.filters)


class _Pooling(_Windowed):
    family = "pooling"

    def _window(self):
        return self.pool_size, self.strides or self.pool_size, self.padding  # strides None: the pool size

    def output_shape(self, shape):
        oh, ow, _, formula = self._spatial(shape)
        return (oh, ow, shape[2]), formula

    def macs(self, shape, out):
        return out[0] * out[1] * out[2] * math.prod(self.pool_size)


@dataclass(frozen=True)
class MaxPooling2D(_Pooling):
    pool_size: tuple[int, int] = (2, 2)
    strides: tuple[int, int] | None = None  # None: the pool size, as in Keras
    padding: str = "valid"


@dataclass(frozen=True)
class AveragePooling2D(_Pooling):
    pool_size: tuple[int, int] = (2, 2)
    strides: tuple[int, int] | None = None
    padding: str = "valid"


def _whole_map(rf: ReceptiveField, shape) -> ReceptiveField:
    """The field of one value computed from every pixel of an (H, W, C) map."""
    return ReceptiveField(
        tuple(s + (n - 1) * j for s, n, j in zip(rf.size, shape[:2], rf.jump)), rf.jump,
        tuple(st + (n - 1) / 2 * j for st, n, j in zip(rf.start, shape[:2], rf.jump)),
    )


@dataclass(frozen=True)
class GlobalAveragePooling2D(Layer):
    input_rank = 3
    family = "global pooling"

    def output_shape(self, shape):
        return (shape[2],), f"mean over {shape[0]}x{shape[1]}"

    def receptive_field(self, rf, shape):
        return _whole_map(rf, shape)

    def macs(self, shape, out):
        return math.prod(shape)


@dataclass(frozen=True)
class BatchNormalization(Layer):
    momentum: float = 0.99
    epsilon: float = 1e-3

    frozen_arrays = 2  # gamma and beta are learned; the moving mean and variance are not (Keras)
    family = "normalisation"

    def output_shape(self, shape):
        c = shape[-1]
        return shape, f"4 x {c} ({2 * c} trainable)"

    def weight_shapes(self, shape):
        return [(shape[-1],)] * 4  # gamma, beta, moving_mean, moving_variance

    def initial_weights(self, shapes, rng):
        ones, zeros = np.ones(shapes[0], np.float32), np.zeros(shapes[0], np.float32)
        return [ones, zeros, zeros.copy(), ones.copy()]

    def macs(self, shape, out):
        return math.prod(shape)


@dataclass(frozen=True)
class Dropout(Layer):
    rate: float = 0.5

    family = "regularisation"


@dataclass(frozen=True)
class Flatten(Layer):
    input_rank = 3
    family = "reshape"

    def output_shape(self, shape):
        n = math.prod(shape)
        return (n,), " x ".join(map(str, shape)) + f" = {n}"

    def receptive_field(self, rf, shape):
        return None  # each output sees one pixel of one map: no longer a field over the image


@dataclass(frozen=True)
class Dense(Layer):
    units: int | None = None  # None in the last Dense: the architecture's num_classes
    activation: str | None = None
    use_bias: bool = True

    input_rank = 1
    family = "dense"

    def output_shape(self, shape):
        bias = self.units if self.use_bias else 0
        return (self.units,), f"{shape[0]} x {self.units} + {bias} = {shape[0] * self.units + bias}"

    def receptive_field(self, rf, shape):
        return None

    def weight_shapes(self, shape):
        return [(shape[0], self.units)] + ([(self.units,)] if self.use_bias else [])

    def macs(self, shape, out):
        return shape[0] * self.units


@dataclass(frozen=True)
class Activation(Layer):
    activation: str = "relu"

    family = "activation"

    @classmethod
    def check(cls, key, value, where):
        if key == "activation":  # the layer's whole point: "linear" stays itself
            return checks.activation_name(value, where, key)
        return super().check(key, value, where)


@dataclass(frozen=True)
class ZeroPadding2D(Layer):
    padding: tuple[tuple[int, int], tuple[int, int]] = ((1, 1), (1, 1))  # ((top, bottom), (left, right))

    input_rank = 3
    family = "padding"

    @classmethod
    def check(cls, key, value, where):
        if key == "padding":  # pixels to add, not "valid"/"same"
            return checks.zero_padding(value, where, key)
        return super().check(key, value, where)

    def output_shape(self, shape):
        (t, b), (l, r) = self.padding
        out = (shape[0] + t + b, shape[1] + l + r, shape[2])
        return out, f"{shape[0]} + {t} + {b} = {out[0]}"

    def receptive_field(self, rf, shape):
        (t, _), (l, _) = self.padding
        return ReceptiveField(rf.size, rf.jump, (rf.start[0] - t * rf.jump[0], rf.start[1] - l * rf.jump[1]))


@dataclass(frozen=True)
class SqueezeExcite(Layer):
    """Squeeze-and-excitation (Hu et al. 2018; MobileNetV3, EfficientNet): average each channel
    over the map (squeeze), Dense(units, activation) then Dense(channels, gate) (excite), and
    multiply every channel of the input by its gate. The output has the input's shape."""

    units: int
    activation: str | None = "relu"
    gate: str | None = "sigmoid"

    input_rank = 3
    family = "attention"

    @classmethod
    def check(cls, key, value, where):
        if key == "units":
            return checks.positive_int(value, where, key)
        return super().check(key, value, where)

    def output_shape(self, shape):
        c, u = shape[2], self.units
        return shape, f"same shape, each channel x its gate ({c} x {u} + {u} + {u} x {c} + {c} = {2 * c * u + u + c})"

    # The field stays the pixel path's: the gate sees the whole map but only scales channels.

    def weight_shapes(self, shape):
        c = shape[2]
        return [(c, self.units), (self.units,), (self.units, c), (c,)]

    def macs(self, shape, out):
        pixels = math.prod(shape)  # the mean, then one product per value
        return pixels + 2 * shape[2] * self.units + pixels


PLAIN_TYPES = (
    Conv2D, DepthwiseConv2D, SeparableConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
    BatchNormalization, Dropout, Flatten, Dense, Activation, ZeroPadding2D, SqueezeExcite,
)
CONV_TYPES = (Conv2D, DepthwiseConv2D, SeparableConv2D)
__all__ = ["Layer", "PLAIN_TYPES", "CONV_TYPES", *(cls.__name__ for cls in PLAIN_TYPES)]  # what workbench.spec re-exports

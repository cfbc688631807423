"""Build a functional keras.Model from a spec; every Keras layer carries its spec name.

One table, KERAS_LAYERS, maps each spec type to its Keras layer. Residual blocks end in
keras.layers.Add(name=block), Inception blocks in keras.layers.Concatenate(name=block), so a
block's output is addressable like any layer.
Kernels start from workbench.weights.initial_weights(arch, seed): the same numbers the
PyTorch backend starts from.
"""

from __future__ import annotations

import re
import unicodedata

import keras

from workbench import graph
from workbench import spec as S
from workbench import weights as W
from workbench.model_facts import arch_of, attach
from . import inference  # noqa: F401 - first: GPU memory growth, Keras-on-TF check


def _given(array):
    """An initializer that hands Keras the value we drew (no second fill and copy of VGG's 138 M)."""

    def initializer(shape, dtype=None):
        assert tuple(shape) == array.shape, (shape, array.shape)
        return array

    return initializer


@keras.saving.register_keras_serializable(package="cnn_workbench")
class SqueezeExcite(keras.layers.Layer):
    """The spec's SqueezeExcite from Keras' own layers, as one named unit (its four arrays are
    addressed by the spec name): GlobalAveragePooling2D(keepdims) -> Dense(units, activation)
    -> Dense(channels, gate) -> Multiply with the input. Registered, so that a .keras file holding
    it loads in safe mode."""

    def __init__(self, units: int, channels: int, activation="relu", gate="sigmoid", initial=None, **kwargs):
        super().__init__(**kwargs)
        # not "activation": the backend's logits and guided modes swap layers' own activations
        self.units, self.channels, self.config_activation, self.config_gate = units, channels, activation, gate
        first, second = (_given(initial[0]), _given(initial[2])) if initial else ("glorot_uniform",) * 2
        self.pool = keras.layers.GlobalAveragePooling2D(keepdims=True, name="squeeze_pool")
        self.squeeze = keras.layers.Dense(units, activation=activation, kernel_initializer=first, name="squeeze")
        self.excite = keras.layers.Dense(channels, activation=gate, kernel_initializer=second, name="excite")
        self.multiply = keras.layers.Multiply(name="scale")

    def get_config(self):
        return {**super().get_config(), "units": self.units, "channels": self.channels,
                "activation": self.config_activation, "gate": self.config_gate}

    def build(self, input_shape):
        channels = input_shape[-1]
        self.squeeze.build((None, 1, 1, channels))
        self.excite.build((None, 1, 1, self.squeeze.units))

    def call(self, x):
        return self.multiply([x, self.excite(self.squeeze(self.pool(x)))])

    def compute_output_shape(self, input_shape):
        return input_shape


# spec type -> its Keras layer, given the spec layer, its kernels' initial values (from
# workbench.weights.initial_weights; biases and BatchNorm start at Keras' own defaults, which
# are the same) and the seed (Dropout's).
KERAS_LAYERS = {
    S.Conv2D: lambda layer, initial, seed: keras.layers.Conv2D(
        layer.filters, layer.kernel_size, layer.strides, layer.padding, activation=layer.activation,
        use_bias=layer.use_bias, kernel_initializer=_given(initial[0]), name=layer.name),
    S.DepthwiseConv2D: lambda layer, initial, seed: keras.layers.DepthwiseConv2D(
        layer.kernel_size, layer.strides, layer.padding, depth_multiplier=layer.depth_multiplier,
        activation=layer.activation, use_bias=layer.use_bias, depthwise_initializer=_given(initial[0]),
        name=layer.name),
    S.SeparableConv2D: lambda layer, initial, seed: keras.layers.SeparableConv2D(
        layer.filters, layer.kernel_size, layer.strides, layer.padding, depth_multiplier=layer.depth_multiplier,
        activation=layer.activation, use_bias=layer.use_bias, depthwise_initializer=_given(initial[0]),
        pointwise_initializer=_given(initial[1]), name=layer.name),
    S.MaxPooling2D: lambda layer, initial, seed: keras.layers.MaxPooling2D(
        layer.pool_size, layer.strides, layer.padding, name=layer.name),
    S.AveragePooling2D: lambda layer, initial, seed: keras.layers.AveragePooling2D(
        layer.pool_size, layer.strides, layer.padding, name=layer.name),
    S.GlobalAveragePooling2D: lambda layer, initial, seed: keras.layers.GlobalAveragePooling2D(name=layer.name),
    S.BatchNormalization: lambda layer, initial, seed: keras.layers.BatchNormalization(
        momentum=layer.momentum, epsilon=layer.epsilon, name=layer.name),
    S.Dropout: lambda layer, initial, seed: keras.layers.Dropout(layer.rate, seed=seed, name=layer.name),
    S.Flatten: lambda layer, initial, seed: keras.layers.Flatten(name=layer.name),
    S.Dense: lambda layer, initial, seed: keras.layers.Dense(
        layer.units, activation=layer.activation, use_bias=layer.use_bias,
        kernel_initializer=_given(initial[0]), name=layer.name),
    S.Activation: lambda layer, initial, seed: keras.layers.Activation(layer.activation, name=layer.name),
    S.ZeroPadding2D: lambda layer, initial, seed: keras.layers.ZeroPadding2D(layer.padding, name=layer.name),
    S.SqueezeExcite: lambda layer, initial, seed: SqueezeExcite(
        layer.units, initial[0].shape[0], layer.activation, layer.gate, initial, name=layer.name),
    # blocks: what merges their parts
    S.Residual: lambda layer, initial, seed: keras.layers.Add(name=layer.name),
    S.Inception: lambda layer, initial, seed: keras.layers.Concatenate(axis=-1, name=layer.name),
}


def _layer(layer: S.Layer, seed: int, initial: list):
    """The Keras layer for one spec layer (same class names, same keys)."""
    if type(layer) not in KERAS_LAYERS:
        raise ValueError(f"the TensorFlow backend cannot build layer type {layer.type}")
    return KERAS_LAYERS[type(layer)](layer, initial, seed)


def model_name(name: str) -> str:
    """A name Keras accepts for a model (letters, digits, _ . -), from any name a user typed:
    "réseau/ü 1" -> "reseau_u_1". The architecture keeps the name as typed."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_name).strip("_")
    return safe if safe and safe[0].isalnum() else f"model_{safe}".rstrip("_")


class _KerasOps:
    """The two operations workbench.graph.run asks for, on symbolic Keras tensors."""

    def __init__(self, seed: int, initial: W.Weights):
        self.seed, self.initial = seed, initial

    def layer(self, layer, x):
        return _layer(layer, self.seed, self.initial.get(layer.name, []))(x)

    def merge(self, block, inputs):
        return _layer(block, self.seed, [])(inputs)


def free_name(arch: S.Architecture, candidates) -> str:
    """The first of the candidate names that no spec layer has."""
    taken = set(graph.layer_names(arch))
    return next(n for n in candidates if n not in taken)


def spec_graph(arch: S.Architecture, x, seed: int):
    """The spec's layers wired onto the symbolic tensor x; their output."""
    return graph.run(arch.layers, x, _KerasOps(seed, W.initial_weights(arch, seed)))


def build(arch: S.Architecture, seed: int):
    if arch.native.get("tensorflow") is not None:
        model = graph.call_native(arch.native["tensorflow"], arch, seed)
    else:
        if not arch.is_spec:
            raise ValueError(f"{arch.name} has no spec and no TensorFlow builder")
        inputs = keras.Input(shape=arch.input_shape, name=free_name(arch, ("input", "input_image", "workbench_input")))
        model = keras.Model(inputs, spec_graph(arch, inputs, seed), name=model_name(arch.name))
    if arch_of(model) is None:
        attach(model, arch=arch)
    return model

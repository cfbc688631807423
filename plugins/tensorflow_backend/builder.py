"""Build a functional keras.Model from a spec; every Keras layer carries its spec name.

Residual blocks end in keras.layers.Add(name=block), Inception blocks in
keras.layers.Concatenate(name=block), so a block's output is addressable like any layer.
Kernels start from workbench.weights.initial_weights(arch, seed): the same numbers the
PyTorch backend starts from.
"""

from __future__ import annotations

import keras

from workbench import graph
from workbench import spec as S
from workbench import weights as W
from workbench.model_facts import arch_of, attach
from plugins.tensorflow_backend import inference  # noqa: F401 - first: GPU memory growth, Keras-on-TF check


def _given(array):
    """An initializer that hands Keras the value we drew (no second fill and copy of VGG's 138 M)."""

    def initializer(shape, dtype=None):
        assert tuple(shape) == array.shape, (shape, array.shape)
        return array

    return initializer


def _layer(layer: S.Layer, seed: int, initial: list):
    """The Keras layer for one spec layer (same class names, same keys); ``initial`` holds its
    kernels' initial values from workbench.weights.initial_weights (biases and BatchNorm start
    at Keras' own defaults, which are the same)."""
    common = dict(name=layer.name)
    if isinstance(layer, S.Conv2D):
        return keras.layers.Conv2D(layer.filters, layer.kernel_size, layer.strides, layer.padding,
                                   activation=layer.activation, use_bias=layer.use_bias,
                                   kernel_initializer=_given(initial[0]), **common)
    if isinstance(layer, S.DepthwiseConv2D):
        return keras.layers.DepthwiseConv2D(layer.kernel_size, layer.strides, layer.padding,
                                            depth_multiplier=layer.depth_multiplier, activation=layer.activation,
                                            use_bias=layer.use_bias, depthwise_initializer=_given(initial[0]),
                                            **common)
    if isinstance(layer, S.SeparableConv2D):
        return keras.layers.SeparableConv2D(layer.filters, layer.kernel_size, layer.strides, layer.padding,
                                            depth_multiplier=layer.depth_multiplier, activation=layer.activation,
                                            use_bias=layer.use_bias, depthwise_initializer=_given(initial[0]),
                                            pointwise_initializer=_given(initial[1]), **common)
    if isinstance(layer, S.MaxPooling2D):
        return keras.layers.MaxPooling2D(layer.pool_size, layer.strides, layer.padding, **common)
    if isinstance(layer, S.AveragePooling2D):
        return keras.layers.AveragePooling2D(layer.pool_size, layer.strides, layer.padding, **common)
    if isinstance(layer, S.GlobalAveragePooling2D):
        return keras.layers.GlobalAveragePooling2D(**common)
    if isinstance(layer, S.BatchNormalization):
        return keras.layers.BatchNormalization(momentum=layer.momentum, epsilon=layer.epsilon, **common)
    if isinstance(layer, S.Dropout):
        return keras.layers.Dropout(layer.rate, seed=seed, **common)
    if isinstance(layer, S.Flatten):
        return keras.layers.Flatten(**common)
    if isinstance(layer, S.Dense):
        return keras.layers.Dense(layer.units, activation=layer.activation, use_bias=layer.use_bias,
                                  kernel_initializer=_given(initial[0]), **common)
    if isinstance(layer, S.Activation):
        return keras.layers.Activation(layer.activation, **common)
    if isinstance(layer, S.ZeroPadding2D):
        return keras.layers.ZeroPadding2D(layer.padding, **common)
    raise ValueError(f"the TensorFlow backend cannot build layer type {layer.type}")


class _KerasOps:
    """The two operations workbench.graph.run asks for, on symbolic Keras tensors."""

    def __init__(self, seed: int, initial: W.Weights):
        self.seed, self.initial = seed, initial

    def layer(self, layer, x):
        return _layer(layer, self.seed, self.initial.get(layer.name, []))(x)

    def merge(self, block, inputs):
        if isinstance(block, S.Residual):
            return keras.layers.Add(name=block.name)(inputs)
        return keras.layers.Concatenate(axis=-1, name=block.name)(inputs)


def build(arch: S.Architecture, seed: int):
    if arch.native.get("tensorflow") is not None:
        model = graph.call_native(arch.native["tensorflow"], arch, seed)
    else:
        if not arch.is_spec:
            raise ValueError(f"{arch.name} has no spec and no TensorFlow builder")
        taken = set(graph.layer_names(arch))
        input_name = next(n for n in ("input", "input_image", "workbench_input") if n not in taken)
        inputs = keras.Input(shape=arch.input_shape, name=input_name)
        outputs = graph.run(arch.layers, inputs, _KerasOps(seed, W.initial_weights(arch, seed)))
        model = keras.Model(inputs, outputs, name=arch.name)
    if arch_of(model) is None:
        attach(model, arch=arch)
    return model

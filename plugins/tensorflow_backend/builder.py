"""Build a functional keras.Model from a spec; every Keras layer carries its spec name.

Residual blocks end in keras.layers.Add(name=block), Inception blocks in
keras.layers.Concatenate(name=block), so a block's output is addressable like any layer.
Kernels are created as zeros and then set to workbench.weights.initial_weights(arch, seed):
the same numbers the PyTorch backend starts from.
"""

from __future__ import annotations

import keras

from workbench import graph
from workbench import spec as S
from workbench import weights as W


def _layer(layer: S.Layer, seed: int):
    """The Keras layer for one spec layer (same class names, same keys)."""
    zeros = "zeros"  # real initial values come from initial_weights
    common = dict(name=layer.name)
    if isinstance(layer, S.Conv2D):
        return keras.layers.Conv2D(layer.filters, layer.kernel_size, layer.strides, layer.padding,
                                   activation=layer.activation, use_bias=layer.use_bias,
                                   kernel_initializer=zeros, **common)
    if isinstance(layer, S.DepthwiseConv2D):
        return keras.layers.DepthwiseConv2D(layer.kernel_size, layer.strides, layer.padding,
                                            depth_multiplier=layer.depth_multiplier, activation=layer.activation,
                                            use_bias=layer.use_bias, depthwise_initializer=zeros, **common)
    if isinstance(layer, S.SeparableConv2D):
        return keras.layers.SeparableConv2D(layer.filters, layer.kernel_size, layer.strides, layer.padding,
                                            depth_multiplier=layer.depth_multiplier, activation=layer.activation,
                                            use_bias=layer.use_bias, depthwise_initializer=zeros,
                                            pointwise_initializer=zeros, **common)
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
                                  kernel_initializer=zeros, **common)
    if isinstance(layer, S.Activation):
        return keras.layers.Activation(layer.activation, **common)
    if isinstance(layer, S.ZeroPadding2D):
        return keras.layers.ZeroPadding2D(layer.padding, **common)
    raise ValueError(f"the TensorFlow backend cannot build layer type {layer.type}")


class _KerasOps:
    """The two operations workbench.graph.run asks for, on symbolic Keras tensors."""

    def __init__(self, seed: int):
        self.seed = seed

    def layer(self, layer, x):
        return _layer(layer, self.seed)(x)

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
        inputs = keras.Input(shape=arch.input_shape, name="input")
        outputs = graph.run(arch.layers, inputs, _KerasOps(seed))
        model = keras.Model(inputs, outputs, name=arch.name)
        from plugins.tensorflow_backend.weights import set_weights

        set_weights(model, W.initial_weights(arch, seed), arch)
    if getattr(model, "workbench_arch", None) is None:
        model.workbench_arch = arch
    return model

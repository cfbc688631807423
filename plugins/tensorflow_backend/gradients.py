"""Gradients of a target with respect to the input or a layer, plain or guided, in one tape.

Guided backpropagation (Springenberg et al. 2015): every ReLU lets a gradient through only
where its input was positive AND the incoming gradient is positive. For one call each layer
whose activation is relu / relu6 (and each keras.layers.ReLU) computes the same values with
``guided_relu``, a tf.custom_gradient carrying that backward rule; afterwards they are restored.
"""

from __future__ import annotations

from contextlib import ExitStack

import keras
import numpy as np
import tensorflow as tf

from workbench import graph
from workbench.backend import ClassScore
from .inference import device, logits_mode, probe, swapped, to_numpy
from .weights import layer_names


def _guided(upper: float | None):
    @tf.custom_gradient
    def guided_relu(x):
        y = tf.nn.relu(x) if upper is None else tf.clip_by_value(x, 0.0, upper)

        def grad(dy):
            passes = tf.logical_and(x > 0, dy > 0)
            if upper is not None:
                passes = tf.logical_and(passes, x < upper)  # ReLU6 is flat above 6 as well
            return dy * tf.cast(passes, dy.dtype)

        return y, grad

    guided_relu.__name__ = "guided_relu" if upper is None else "guided_relu6"
    return guided_relu


def guided_mode(model):
    swaps = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        name = getattr(getattr(layer, "activation", None), "__name__", "")
        if name in ("relu", "relu6"):
            swaps[(layer, "activation")] = _guided(6.0 if name == "relu6" else None)
        elif isinstance(layer, keras.layers.ReLU) and not layer.negative_slope and not layer.threshold:
            relu = _guided(None if layer.max_value is None else float(layer.max_value))
            swaps[(layer, "call")] = lambda inputs, relu=relu: relu(inputs)
    return swapped(swaps)


class TFOps:
    def const(self, array):
        return tf.constant(array)

    def sum(self, t, axes):
        return tf.reduce_sum(t, axis=list(axes))

    def mean(self, t, axes):
        return tf.reduce_mean(t, axis=list(axes))


def gradients(model, x: np.ndarray, target, layer: str | None = None, relu: str = "plain"):
    """(activations of `layer` or the input, d target / d them), per image, NHWC numpy.

    One forward and one backward pass for the batch: images do not interact in inference mode,
    so the gradient of the summed target is, per image, that image's own gradient.
    """
    graph.check_relu(relu)
    read = list(dict.fromkeys(n for n in (layer, graph.target_layer(target)) if n is not None))
    graph.check_layers(read, layer_names(model))
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"expected images as an (N, H, W, C) array, got shape {x.shape}")
    run = probe(model, read)
    with ExitStack() as stack, tf.device(device()):
        if relu == "guided":
            stack.enter_context(guided_mode(model))
        if isinstance(target, ClassScore):
            stack.enter_context(logits_mode(model))
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            result = run(xt, training=False)
            result = result if isinstance(result, (list, tuple)) else [result]
            outputs = dict(zip(read, result[:-1]))
            total = tf.reduce_sum(graph.target_values(target, result[-1], outputs, TFOps()))
        wrt = xt if layer is None else outputs[layer]
        grad = tape.gradient(total, wrt)
    if grad is None:  # the target does not depend on this layer (it comes before it)
        grad = tf.zeros_like(wrt)
    return to_numpy(wrt), to_numpy(grad)

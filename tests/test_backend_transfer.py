"""Weights copied between the backends give the same numbers (logits within 1e-4).

The specs cover every layer type and the places where PyTorch must be made to compute what
Keras does: "same" padding with odd sizes, even kernels and stride 2 (asymmetric padding),
max-pooling "same" (-inf padding), average-pooling "same" (padding left out of the mean),
ZeroPadding2D, BatchNormalization with non-trivial moving statistics, Flatten's H, W, C order,
depthwise and separable channel order, Residual (identity and conv shortcut), Inception.
The oracle for each backend's predict is Keras' own forward pass.
"""

import os

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")
require("tensorflow")

from workbench import graph  # noqa: E402
from workbench import spec as S  # noqa: E402
from workbench.registry import get_registry  # noqa: E402

CONV_NET = {"name": "transfer-conv", "input_shape": [11, 9, 3], "num_classes": 5, "layers": [
    {"type": "Conv2D", "filters": 4, "kernel_size": [2, 4], "strides": 2, "padding": "same", "activation": "relu"},
    {"type": "BatchNormalization"},
    {"type": "ZeroPadding2D", "padding": [[1, 2], [0, 1]]},
    {"type": "Conv2D", "filters": 5, "kernel_size": 4, "strides": 2, "padding": "valid", "activation": "elu"},
    {"type": "ZeroPadding2D", "padding": 2},
    {"type": "DepthwiseConv2D", "kernel_size": 3, "depth_multiplier": 2, "padding": "same", "activation": "relu6"},
    {"type": "MaxPooling2D", "pool_size": 3, "strides": 2, "padding": "same"},
    {"type": "Residual", "body": [
        {"type": "Conv2D", "filters": 10, "kernel_size": 3, "padding": "same", "activation": "relu"},
        {"type": "BatchNormalization", "momentum": 0.9, "epsilon": 0.01},
        {"type": "Conv2D", "filters": 10, "kernel_size": 2, "padding": "same"}]},
    {"type": "Activation", "activation": "selu"},
    {"type": "Residual",
     "body": [{"type": "SeparableConv2D", "filters": 6, "kernel_size": 3, "strides": 2, "padding": "same",
               "depth_multiplier": 2, "activation": "gelu"}],
     "shortcut": [{"type": "Conv2D", "filters": 6, "kernel_size": 1, "strides": 2, "use_bias": False}]},
    {"type": "Inception", "branches": [
        [{"type": "Conv2D", "filters": 3, "kernel_size": 1, "activation": "tanh"}],
        [{"type": "Conv2D", "filters": 2, "kernel_size": 3, "padding": "same", "activation": "sigmoid"}],
        [{"type": "AveragePooling2D", "pool_size": 3, "strides": 1, "padding": "same"}]]},
    {"type": "Flatten"},
    {"type": "Dropout", "rate": 0.4},
    {"type": "Dense", "units": 8, "activation": "swish"},
    {"type": "BatchNormalization"},
    {"type": "Dense", "activation": "softmax"},
]}

POOL_NET = {"name": "transfer-pool", "input_shape": [13, 10, 2], "num_classes": 1, "layers": [
    # names that are also Keras' input name and an nn.Module method must work all the same
    {"type": "AveragePooling2D", "name": "input", "pool_size": 3, "strides": 2, "padding": "same"},
    {"type": "SeparableConv2D", "filters": 4, "kernel_size": 2, "padding": "same", "use_bias": False},
    {"type": "BatchNormalization"},
    {"type": "MaxPooling2D", "pool_size": 2, "padding": "same"},
    {"type": "AveragePooling2D", "pool_size": [2, 3], "strides": 1, "padding": "valid"},
    {"type": "Conv2D", "filters": 3, "kernel_size": 1, "activation": "relu"},
    {"type": "GlobalAveragePooling2D"},
    {"type": "Dense", "name": "train", "units": 1, "activation": "sigmoid"},
]}


@pytest.fixture(scope="module")
def backends():
    found = get_registry().backends()
    return found["pytorch"], found["tensorflow"]


def random_weights(backend, model, seed):
    """Non-trivial values for every array, BatchNorm variances positive."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, arrays in backend.get_weights(model).items():
        if len(arrays) == 4 and all(a.ndim == 1 for a in arrays):  # gamma, beta, mean, variance
            c = arrays[0].shape
            out[name] = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.5, c), rng.normal(0, 0.5, c), rng.uniform(0.3, 2, c)]
        else:
            out[name] = [rng.normal(0, 0.4, a.shape) for a in arrays]
        out[name] = [np.asarray(a, np.float32) for a in out[name]]
    return out


@pytest.mark.parametrize("spec", [CONV_NET, POOL_NET], ids=lambda s: s["name"])
def test_weights_copy_both_ways_and_every_layer_agrees(backends, spec):
    pt, tf = backends
    arch = S.parse_architecture(spec)
    x = np.random.default_rng(0).normal(0.3, 1.0, (4, *arch.input_shape)).astype(np.float32)
    names = graph.layer_names(arch)

    keras_model = tf.build(arch, seed=1)
    weights = random_weights(tf, keras_model, seed=11)
    tf.set_weights(keras_model, weights)
    torch_model = pt.build(arch, seed=2)
    pt.set_weights(torch_model, tf.get_weights(keras_model))  # TF -> PyTorch
    for name, arrays in pt.get_weights(torch_model).items():  # the layout conversion is exact both ways
        for got, want in zip(arrays, weights[name]):
            np.testing.assert_array_equal(got, want)

    np.testing.assert_allclose(pt.logits(torch_model, x), tf.logits(keras_model, x), atol=1e-4, rtol=1e-4)
    keras_says = np.asarray(keras_model(x, training=False))  # Keras' own forward, final activation included
    np.testing.assert_allclose(tf.predict(keras_model, x, batch_size=3), keras_says, atol=1e-5)
    np.testing.assert_allclose(pt.predict(torch_model, x, batch_size=3), keras_says, atol=1e-4)
    ours, theirs = pt.activations(torch_model, x, names), tf.activations(keras_model, x, names)
    for name in names:
        assert ours[name].shape == theirs[name].shape == (len(x), *tf.summary(keras_model)[names.index(name)].output_shape)
        np.testing.assert_allclose(ours[name], theirs[name], atol=1e-4, rtol=1e-4, err_msg=name)

    # PyTorch -> TF into a fresh Keras model, from different torch weights
    pt.set_weights(torch_model, random_weights(pt, torch_model, seed=12))
    other = tf.build(arch, seed=3)
    tf.set_weights(other, pt.get_weights(torch_model))
    np.testing.assert_allclose(tf.logits(other, x), pt.logits(torch_model, x), atol=1e-4, rtol=1e-4)


def test_same_seed_gives_same_initial_weights_in_both_backends(backends):
    pt, tf = backends
    arch = S.parse_architecture(POOL_NET)
    a, b = pt.get_weights(pt.build(arch, seed=4)), tf.get_weights(tf.build(arch, seed=4))
    c = tf.get_weights(tf.build(arch, seed=5))
    assert a.keys() == b.keys()
    for name in a:
        for u, v in zip(a[name], b[name]):
            np.testing.assert_array_equal(u, v)
    assert any(not np.array_equal(u, v) for name in a for u, v in zip(b[name], c[name]))


def test_wrong_weights_are_refused_with_a_clear_message(backends):
    arch = S.parse_architecture(POOL_NET)
    for backend in backends:
        model = backend.build(arch)
        weights = backend.get_weights(model)
        with pytest.raises(ValueError, match="separable_conv2d_1"):
            backend.set_weights(model, {"separable_conv2d_1": weights["separable_conv2d_1"][:1]})
        with pytest.raises(ValueError, match="no_such_layer"):
            backend.set_weights(model, {"no_such_layer": []})

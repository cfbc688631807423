"""Property-based tests (Hypothesis): the shape calculator against the real Keras model and the
real torch module on random valid layer stacks, and the convolution maths against scipy on random
images, kernels, strides and paddings. Few examples and small images: each stack builds two models."""

import gc
import os

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import signal
from scipy.ndimage import maximum_filter, uniform_filter

from conftest import require
from workbench import convolution as C
from workbench import shapes
from workbench.spec import parse_architecture

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SMALL = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

pad = st.sampled_from(["valid", "same"])
conv = st.fixed_dictionaries({"type": st.just("Conv2D"), "filters": st.integers(1, 6), "kernel_size": st.integers(1, 4),
                              "strides": st.integers(1, 2), "padding": pad,
                              "activation": st.sampled_from([None, "relu", "tanh"]), "use_bias": st.booleans()})
separable = st.fixed_dictionaries({"type": st.sampled_from(["SeparableConv2D"]), "filters": st.integers(1, 5),
                                   "kernel_size": st.integers(1, 3), "strides": st.integers(1, 2), "padding": pad,
                                   "depth_multiplier": st.integers(1, 2)})
depthwise = st.fixed_dictionaries({"type": st.just("DepthwiseConv2D"), "kernel_size": st.integers(1, 3),
                                   "strides": st.integers(1, 2), "padding": pad, "depth_multiplier": st.integers(1, 2)})
pool = st.fixed_dictionaries({"type": st.sampled_from(["MaxPooling2D", "AveragePooling2D"]),
                              "pool_size": st.integers(1, 3), "strides": st.one_of(st.none(), st.integers(1, 2)),
                              "padding": pad})
plain = st.sampled_from([{"type": "BatchNormalization"}, {"type": "Dropout", "rate": 0.3},
                         {"type": "Activation", "activation": "relu"},
                         {"type": "ZeroPadding2D", "padding": [[1, 0], [0, 2]]}])
spatial = st.one_of(conv, conv, separable, depthwise, pool, plain)
head = st.sampled_from([[{"type": "Flatten"}], [{"type": "GlobalAveragePooling2D"}],
                        [{"type": "Flatten"}, {"type": "Dense", "units": 7, "activation": "relu"}]])


@st.composite
def stacks(draw):
    """A random architecture whose every layer fits its input (checked by the calculator itself:
    a stack it rejects is not a valid stack, and Hypothesis draws another)."""
    side = draw(st.integers(6, 16))
    channels = draw(st.sampled_from([1, 3]))
    layers = [{k: v for k, v in layer.items() if v is not None} for layer in draw(st.lists(spatial, min_size=1, max_size=5))]
    layers += draw(head) + [{"type": "Dense", "activation": "softmax"}]
    arch = parse_architecture({"name": "random-stack", "input_shape": [side, side + draw(st.integers(0, 3)), channels],
                               "num_classes": draw(st.integers(2, 5)), "layers": layers})
    try:
        table = shapes.compute(arch)
    except shapes.ShapeError:
        assume(False)
    return arch, table


@SMALL
@given(stacks())
def test_the_calculator_equals_both_frameworks_on_random_stacks(drawn):
    require("torch")
    require("tensorflow")
    from workbench import lookup

    arch, table = drawn
    want = [(r.name, r.type, tuple(r.output_shape), r.params, r.trainable, r.non_trainable) for r in table.rows]
    for name in ("pytorch", "tensorflow"):
        backend = lookup.backend(name)
        model = backend.build(arch)
        got = [(i.name, i.type, tuple(i.output_shape), i.params, i.trainable, i.non_trainable) for i in backend.summary(model)]
        assert got == want, name
        out = backend.predict(model, np.zeros((1, *arch.input_shape), np.float32))
        assert out.shape == (1, *table.output_shape), name
        del model
        gc.collect()


images = st.tuples(st.integers(3, 12), st.integers(3, 12)).flatmap(
    lambda hw: st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=hw[0] * hw[1], max_size=hw[0] * hw[1])
    .map(lambda v, hw=hw: np.array(v, float).reshape(hw)))
kernels = st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(
    lambda hw: st.lists(st.floats(-5, 5, allow_nan=False, width=32), min_size=hw[0] * hw[1], max_size=hw[0] * hw[1])
    .map(lambda v, hw=hw: np.array(v, float).reshape(hw)))


@settings(max_examples=60, deadline=None)
@given(images, kernels, st.integers(1, 3), st.integers(0, 2))
def test_correlation_and_convolution_equal_scipy(image, kernel, stride, padding):
    padded = np.pad(image, padding)
    assume(padded.shape[0] >= kernel.shape[0] and padded.shape[1] >= kernel.shape[1])
    expected = signal.correlate2d(padded, kernel, mode="valid")[::stride, ::stride]
    ours = C.correlate2d(image, kernel, stride=stride, padding=padding)
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(C.convolve2d(image, kernel, stride=stride, padding=padding),
                               signal.convolve2d(padded, kernel, mode="valid")[::stride, ::stride], rtol=1e-9, atol=1e-9)
    h, w = image.shape
    assert ours.shape == (C.output_size(h, kernel.shape[0], stride, padding), C.output_size(w, kernel.shape[1], stride, padding))


@settings(max_examples=40, deadline=None)
@given(images, st.integers(1, 3), st.one_of(st.none(), st.integers(1, 3)))
def test_pooling_equals_scipy_filters(image, size, stride):
    assume(min(image.shape) >= size)
    step = stride or size
    # the filters' value at each window's top-left corner (scipy centres a window at size // 2)
    corner = lambda f: f[::step, ::step][: (image.shape[0] - size) // step + 1, : (image.shape[1] - size) // step + 1]  # noqa: E731
    origin = -(size // 2)
    maxed = maximum_filter(image, size=size, origin=origin, mode="constant", cval=-np.inf)
    np.testing.assert_allclose(C.pool2d(image, size, stride, "max"), corner(maxed))
    averaged = uniform_filter(image, size=size, origin=origin, mode="constant")
    np.testing.assert_allclose(C.pool2d(image, size, stride, "average"), corner(averaged), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 4), st.integers(0, 3))
def test_output_size_counts_the_windows_a_sliding_view_makes(n, k, stride, padding):
    assume(n + 2 * padding >= k)
    windows = np.lib.stride_tricks.sliding_window_view(np.zeros(n + 2 * padding), k)[::stride]
    assert C.output_size(n, k, stride, padding) == len(windows)

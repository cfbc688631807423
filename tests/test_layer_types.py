"""Each layer type has one home and one entry per backend table; the layers added through that
structure (SqueezeExcite, the hard/smooth activations, identity branches) compute what Keras
computes, in the calculator and in both backends.

Oracles: Keras' own layers (a functional GlobalAveragePooling2D -> Dense -> Dense -> Multiply,
keras.activations), a numpy squeeze-and-excitation, torch's FLOP counter, and the other backend."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")

from workbench import shapes  # noqa: E402
from workbench import spec as S  # noqa: E402
from workbench import weights as W  # noqa: E402
from workbench.model_facts import layers_of  # noqa: E402
from workbench.registry import get_registry  # noqa: E402
from test_backend_transfer import random_weights  # noqa: E402 - non-trivial values, BatchNorm variances positive

NEW_ACTIVATIONS = ["relu6", "swish", "hard_swish", "hard_sigmoid"]


@pytest.fixture(scope="module")
def backends():
    found = get_registry().backends()
    return found["pytorch"], found["tensorflow"]


def parse(layers, input_shape=(9, 7, 6), num_classes=4, name="t"):
    return S.parse_architecture({"name": name, "input_shape": list(input_shape), "num_classes": num_classes,
                                 "layers": layers})


def copy_tf_to_torch(backends, arch, seed=1):
    """A Keras model with random weights and its PyTorch twin holding the same numbers."""
    pt, tf = backends
    keras_model = tf.build(arch, seed=seed)
    tf.set_weights(keras_model, random_weights(tf, keras_model, seed + 10))
    torch_model = pt.build(arch, seed=seed + 1)
    pt.set_weights(torch_model, tf.get_weights(keras_model))
    return keras_model, torch_model


def test_every_layer_type_has_exactly_one_entry_in_each_backend_table():
    from workbench_plugins.tensorflow_backend.builder import KERAS_LAYERS
    from workbench_plugins.torch_backend.layers import MODULES

    types = set(S.LAYER_TYPES.values())
    assert set(KERAS_LAYERS) == types and set(MODULES) == types


# -- SqueezeExcite ------------------------------------------------------------------------
SE = [{"type": "Conv2D", "filters": 6, "kernel_size": 3, "padding": "same", "activation": "relu"},
      {"type": "SqueezeExcite", "units": 3, "name": "se"},
      {"type": "GlobalAveragePooling2D"}, {"type": "Dense", "activation": "softmax"}]


def test_squeeze_excite_in_the_calculator():
    table = shapes.compute(parse(SE))
    row = table.row("se")
    c, units = 6, 3
    assert row.output_shape == row.input_shape == (9, 7, c)
    assert (row.params, row.trainable, row.non_trainable) == (2 * c * units + units + c, 2 * c * units + units + c, 0)
    assert row.formula.endswith(f"= {2 * c * units + units + c})")
    assert row.receptive_field == table.row("conv2d_1").receptive_field
    assert W.weight_shapes(parse(SE))["se"] == [(c, units), (units,), (units, c), (c,)]
    initial = W.initial_weights(parse(SE), seed=0)["se"]
    assert [a.any() for a in initial] == [True, False, True, False]  # Glorot kernels, zero biases


def test_squeeze_excite_parameters_equal_keras_own_layers():
    keras = pytest.importorskip("keras")
    for (h, w, c), units in [((9, 7, 6), 3), ((14, 14, 96), 4), ((7, 7, 320), 80)]:
        x = keras.Input((h, w, c))
        s = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
        s = keras.layers.Dense(units, activation="relu")(s)
        s = keras.layers.Dense(c, activation="sigmoid")(s)
        oracle = keras.Model(x, keras.layers.Multiply()([x, s]))
        row = shapes.compute(parse([{"type": "SqueezeExcite", "units": units, "name": "se"}, {"type": "Flatten"},
                                    {"type": "Dense"}], input_shape=(h, w, c))).row("se")
        assert row.params == oracle.count_params() and row.output_shape == tuple(oracle.output.shape[1:])


def test_squeeze_excite_macs_match_torch_flop_counter(backends):
    from torch.utils.flop_counter import FlopCounterMode

    pt, _ = backends
    arch = parse(SE)
    model = pt.build(arch)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        layers_of(model)["se"](torch.zeros(1, 6, 9, 7))
    row = shapes.compute(arch).row("se")
    # the two Dense products, as the counter counts them; plus the mean and the scaling, one per value
    assert row.macs == counter.get_total_flops() // 2 + 2 * 9 * 7 * 6


@pytest.mark.parametrize("activation,gate", [("relu", "sigmoid"), ("swish", "sigmoid"), ("relu", "hard_sigmoid")])
def test_squeeze_excite_equals_numpy_keras_layers_and_torch(backends, activation, gate):
    keras = pytest.importorskip("keras")
    pt, tf = backends
    layers = [dict(SE[0]), {"type": "SqueezeExcite", "units": 3, "activation": activation, "gate": gate, "name": "se"},
              *SE[2:]]
    arch = parse(layers)
    keras_model, torch_model = copy_tf_to_torch(backends, arch)
    x = np.random.default_rng(0).normal(0, 1, (5, 9, 7, 6)).astype(np.float32)

    inner = tf.activations(keras_model, x, ["conv2d_1", "se"])
    k1, b1, k2, b2 = tf.get_weights(keras_model)["se"]
    act, gate_fn = keras.activations.get(activation), keras.activations.get(gate)
    pooled = inner["conv2d_1"].mean(axis=(1, 2))  # numpy: squeeze, excite, scale
    scale = np.asarray(gate_fn(np.asarray(act(pooled @ k1 + b1)) @ k2 + b2))
    np.testing.assert_allclose(inner["se"], inner["conv2d_1"] * scale[:, None, None, :], atol=1e-5)

    y = keras.Input((9, 7, 6))  # Keras' own layers with the same four arrays
    s = keras.layers.GlobalAveragePooling2D(keepdims=True)(y)
    s = keras.layers.Dense(3, activation=activation)(s)
    s = keras.layers.Dense(6, activation=gate)(s)
    oracle = keras.Model(y, keras.layers.Multiply()([y, s]))
    oracle.set_weights([k1, b1, k2, b2])
    np.testing.assert_allclose(inner["se"], np.asarray(oracle(inner["conv2d_1"])), atol=1e-5)

    np.testing.assert_allclose(pt.activations(torch_model, x, ["se"])["se"], inner["se"], atol=1e-5)
    np.testing.assert_allclose(pt.logits(torch_model, x), tf.logits(keras_model, x), atol=1e-5)
    rows = [[(i.name, i.type, tuple(i.output_shape), i.params) for i in b.summary(m)]
            for b, m in ((pt, torch_model), (tf, keras_model))]
    assert rows[0] == rows[1] and ("se", "SqueezeExcite", (9, 7, 6), 2 * 6 * 3 + 3 + 6) in rows[0]


@pytest.mark.parametrize("layer,key,reason", [
    ({"type": "SqueezeExcite"}, "units", "SqueezeExcite needs 'units'"),
    ({"type": "SqueezeExcite", "units": None}, "units", "must be a positive integer, got None"),
    ({"type": "SqueezeExcite", "units": 4, "gate": "step"}, "gate", "unknown activation 'step'"),
])
def test_squeeze_excite_errors(layer, key, reason):
    with pytest.raises(S.SpecError) as info:
        parse([layer, {"type": "Flatten"}, {"type": "Dense"}])
    assert info.value.key == key and reason in info.value.reason


def test_squeeze_excite_needs_an_image():
    with pytest.raises(shapes.ShapeError, match="needs an image"):
        shapes.compute(parse([{"type": "Flatten"}, {"type": "SqueezeExcite", "units": 2}, {"type": "Dense"}]))


# -- activations --------------------------------------------------------------------------
@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_new_activations_equal_keras_definition_in_both_backends(backends, name):
    keras = pytest.importorskip("keras")
    pt, tf = backends
    arch = parse([{"type": "Activation", "activation": name, "name": "act"}, {"type": "Flatten"}, {"type": "Dense"}],
                 input_shape=(4, 5, 3))
    x = np.linspace(-8, 8, 5 * 4 * 5 * 3, dtype=np.float32).reshape(5, 4, 5, 3)  # across relu6's and hard_*'s kinks
    x[0, 0, 0, :] = [-3.0, 3.0, 6.0]
    want = np.asarray(keras.activations.get(name)(x))
    for backend in (pt, tf):
        got = backend.activations(backend.build(arch), x, ["act"])["act"]
        np.testing.assert_allclose(got, want, atol=1e-6, err_msg=f"{backend.name} {name}")


@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_new_activations_in_every_layer_that_takes_one(backends, name):
    pt, tf = backends
    arch = parse([
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "activation": name},
        {"type": "DepthwiseConv2D", "kernel_size": 3, "padding": "same", "activation": name},
        {"type": "SeparableConv2D", "filters": 5, "kernel_size": 3, "activation": name},
        {"type": "SqueezeExcite", "units": 2, "activation": name, "gate": name},
        {"type": "Activation", "activation": name},
        {"type": "Flatten"},
        {"type": "Dense", "units": 6, "activation": name},
        {"type": "Dense"}])
    keras_model, torch_model = copy_tf_to_torch(backends, arch)
    x = np.random.default_rng(3).normal(0, 2, (4, 9, 7, 6)).astype(np.float32)
    names = [layer.name for layer in S.walk(arch.layers)]
    ours, theirs = pt.activations(torch_model, x, names), tf.activations(keras_model, x, names)
    for layer in names:
        np.testing.assert_allclose(ours[layer], theirs[layer], atol=1e-5, rtol=1e-5, err_msg=layer)
    np.testing.assert_allclose(pt.logits(torch_model, x), tf.logits(keras_model, x), atol=1e-5, rtol=1e-5)


# -- identity branches --------------------------------------------------------------------
DENSE_BLOCK = [
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same", "name": "stem"},
    {"type": "Inception", "name": "concat_1", "branches": [[], [
        {"type": "BatchNormalization", "epsilon": 1.001e-5}, {"type": "Activation", "activation": "relu"},
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "use_bias": False}]]},
    {"type": "Inception", "name": "concat_2", "branches": [[], [
        {"type": "Conv2D", "filters": 4, "kernel_size": 1, "activation": "relu"}], []]},
    {"type": "Residual", "name": "add", "body": [{"type": "Conv2D", "filters": 28, "kernel_size": 3, "padding": "same"}]},
    {"type": "GlobalAveragePooling2D"},
    {"type": "Dense", "activation": "softmax"},
]


def test_identity_branches_in_the_calculator_and_the_file_format():
    arch = parse(DENSE_BLOCK)
    table = shapes.compute(arch)
    assert table.row("concat_1").output_shape == (9, 7, 8 + 4)
    assert table.row("concat_1").formula == "8 + 4 = 12 channels (Concatenate)"
    assert table.row("concat_2").output_shape == (9, 7, 12 + 4 + 12)
    # the concatenation sees what its widest branch sees: the 3x3 conv on top of the stem's 3x3
    assert table.row("concat_1").receptive_field.size == (5, 5)
    assert table.row("concat_2").receptive_field.size == (5, 5)  # a 1x1 branch widens nothing
    assert table.row("add").output_shape == (9, 7, 28)  # an identity shortcut: the body keeps the shape
    assert set(W.weight_shapes(arch)) == {"stem", "batch_normalization_1", "conv2d_1", "conv2d_2", "conv2d_3", "dense_1"}
    again = S.loads_architecture(S.dumps_architecture(arch))
    assert again == arch and again.to_dict()["layers"][1]["branches"][0] == []


def test_residual_needs_matching_shapes_with_an_identity_shortcut():
    bad = [*DENSE_BLOCK[:3], {"type": "Residual", "body": [{"type": "Conv2D", "filters": 5, "kernel_size": 1}]},
           {"type": "Flatten"}, {"type": "Dense"}]
    with pytest.raises(shapes.ShapeError, match=r"body gives \[9, 7, 5\] but the shortcut gives \[9, 7, 28\]"):
        shapes.compute(parse(bad))


def test_identity_branches_in_both_backends(backends):
    pt, tf = backends
    ok = parse(DENSE_BLOCK)
    want = [(r.name, r.type, r.output_shape, r.params, r.trainable, r.non_trainable) for r in shapes.compute(ok).rows]
    keras_model, torch_model = copy_tf_to_torch(backends, ok)
    for backend, model in ((tf, keras_model), (pt, torch_model)):
        got = [(i.name, i.type, tuple(i.output_shape), i.params, i.trainable, i.non_trainable)
               for i in backend.summary(model)]
        assert got == want, backend.name
    x = np.random.default_rng(5).normal(0, 1, (3, 9, 7, 6)).astype(np.float32)
    np.testing.assert_allclose(pt.logits(torch_model, x), tf.logits(keras_model, x), atol=1e-5, rtol=1e-5)
    stem = tf.activations(keras_model, x, ["stem", "concat_1"])
    np.testing.assert_array_equal(stem["concat_1"][..., :8], stem["stem"])  # the identity branch comes first, as is


@pytest.mark.parametrize("relu", ["plain", "guided"])
def test_squeeze_excite_gradients_agree_across_backends(backends, relu):
    """Guided backpropagation reaches the ReLU inside the excitation in both frameworks."""
    from workbench.backend import ClassScore

    pt, tf = backends
    keras_model, torch_model = copy_tf_to_torch(backends, parse(SE))
    x = np.random.default_rng(6).normal(0, 1, (3, 9, 7, 6)).astype(np.float32)
    (_, ours), (_, theirs) = (b.gradients(m, x, ClassScore(2), relu=relu)
                              for b, m in ((pt, torch_model), (tf, keras_model)))
    assert np.abs(theirs).max() > 0
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(theirs).max())

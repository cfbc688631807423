"""The architecture spec: parsing, Keras-style names, clear errors, JSON/YAML round trips."""

import json

import pytest

from workbench import spec
from workbench.registry import get_registry


def spec_architectures():
    return {n: a for n, a in get_registry().architectures().items() if a.is_spec}


def arch(layers, **top):
    return spec.parse_architecture({"name": "t", "input_shape": [32, 32, 3], "num_classes": 10, "layers": layers, **top})


CONV = {"type": "Conv2D", "filters": 8, "kernel_size": 3}


# -- round trips -------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_every_registered_architecture_round_trips(fmt):
    archs = spec_architectures()
    assert len(archs) >= 15
    for a in archs.values():
        text = spec.dumps_architecture(a, fmt)
        assert spec.loads_architecture(text, suffix=f".{fmt}") == a, a.name


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_file_round_trip(tmp_path, suffix):
    a = spec_architectures()["residual-cifar10"]
    path = tmp_path / f"model{suffix}"
    path.write_text(spec.dumps_architecture(a, "json" if suffix == ".json" else "yaml"))
    assert spec.load_architecture_file(path) == a


def test_round_trip_keeps_blocks_and_odd_keys():
    a = arch([
        {"type": "ZeroPadding2D", "padding": [[1, 2], [0, 3]]},
        {"type": "Inception", "branches": [[{**CONV, "kernel_size": [1, 3], "padding": "same"}],
                                           [{"type": "MaxPooling2D", "pool_size": 3, "strides": 1, "padding": "same"}]]},
        {"type": "Residual", "body": [{**CONV, "filters": 16, "padding": "same", "use_bias": False},
                                      {"type": "BatchNormalization", "momentum": 0.9}],
         "shortcut": [{**CONV, "filters": 16, "kernel_size": 1}]},
        {"type": "DepthwiseConv2D", "kernel_size": 3, "depth_multiplier": 2, "activation": "relu6"},
        {"type": "SeparableConv2D", "filters": 4, "kernel_size": 3, "strides": 2},
        {"type": "GlobalAveragePooling2D"},
        {"type": "Dropout", "rate": 0.2},
        {"type": "Dense", "activation": "softmax"},
    ], description="d", source="s", explain_layer="separable_conv2d_1")
    for fmt in ("json", "yaml"):
        assert spec.loads_architecture(spec.dumps_architecture(a, fmt), suffix=f".{fmt}") == a
    assert a.layers[0].padding == ((1, 2), (0, 3))
    assert a.layers[2].shortcut[0].kernel_size == (1, 1)


# -- names -------------------------------------------------------------------------------
def test_keras_style_names_skip_names_already_taken():
    a = arch([{**CONV, "name": "conv2d_1"}, CONV, {"type": "MaxPooling2D"}, CONV, {"type": "Flatten"}, {"type": "Dense"}])
    assert [l.name for l in a.layers] == ["conv2d_1", "conv2d_2", "max_pooling2d_1", "conv2d_3", "flatten_1", "dense_1"]


def test_names_inside_blocks_and_walk_order():
    a = arch([CONV, {"type": "Residual", "body": [{**CONV, "padding": "same"}, {"type": "BatchNormalization"}]}])
    names = [l.name for l in spec.walk(a.layers)]
    # a block's inner layers come before the block itself
    assert names == ["conv2d_1", "conv2d_2", "batch_normalization_1", "residual_1"]


def test_last_dense_takes_num_classes_and_with_classes_resizes_it():
    a = arch([{"type": "Flatten"}, {"type": "Dense", "units": 7}, {"type": "Dense", "activation": "softmax"}])
    assert a.layers[-1].units == 10
    b = a.with_classes(3)
    assert (b.num_classes, b.layers[-1].units, b.layers[-2].units) == (3, 3, 7)
    assert a.with_input((64, 48, 1)).input_shape == (64, 48, 1)


def test_last_conv_is_the_explain_layer_by_default():
    archs = spec_architectures()
    assert archs["mnist-cnn"].last_conv() == "conv2d_3"
    assert archs["vgg16"].last_conv() == "block5_conv3"
    assert archs["alexnet"].last_conv() == "conv5"


# -- errors ------------------------------------------------------------------------------
ERRORS = [
    # (layers, where, key, words in the reason)
    ([{"type": "Conv3D", "filters": 8}], "layers[0]", "type", "unknown layer type 'Conv3D'"),
    ([{"type": "Conv2D", "filters": 8, "kernel_size": 3, "stride": 2}], "layers[0]", "stride", "has no key 'stride'"),
    ([CONV, {**CONV, "padding": "full"}], "layers[1]", "padding", "'valid' or 'same'"),
    ([{"type": "Conv2D", "kernel_size": 3}], "layers[0]", "filters", "needs 'filters'"),
    ([{**CONV, "filters": 0}], "layers[0]", "filters", "positive integer"),
    ([{**CONV, "filters": "8"}], "layers[0]", "filters", "positive integer"),
    ([{**CONV, "kernel_size": [3]}], "layers[0]", "kernel_size", "pair of integers"),
    ([{**CONV, "kernel_size": 0}], "layers[0]", "kernel_size", "at least 1"),
    ([{**CONV, "activation": "relu7"}], "layers[0]", "activation", "unknown activation 'relu7'"),
    ([{**CONV, "use_bias": "yes"}], "layers[0]", "use_bias", "true or false"),
    ([{**CONV, "name": "my conv"}], "layers[0]", "name", "letters, digits and underscores"),
    ([{"type": "Dropout", "rate": 1.5}], "layers[0]", "rate", "[0, 1)"),
    ([{"type": "ZeroPadding2D", "padding": "same"}], "layers[0]", "padding", "((top, bottom), (left, right))"),
    (["Conv2D"], "layers[0]", None, "must be an object with a 'type'"),
    ([CONV, CONV, CONV, {"type": "Residual", "body": [CONV, {"type": "Conv2D", "kernel_size": 3}]}],
     "layers[3].body[1]", "filters", "needs 'filters'"),
    ([{"type": "Residual", "body": [CONV], "shortcut": [{**CONV, "strides": -1}]}],
     "layers[0].shortcut[0]", "strides", "at least 1"),
    ([{"type": "Residual", "body": []}], "layers[0]", "body", "non-empty body"),
    ([{"type": "Inception", "branches": [[CONV], [{"type": "MaxPooling2D", "pool": 3}]]}],
     "layers[0].branches[1][0]", "pool", "has no key 'pool'"),
    ([{"type": "Inception", "branches": []}], "layers[0]", "branches", "non-empty list"),
    ([{"type": "Flatten"}, {"type": "Dense"}, {"type": "Dense", "units": 3}], "layers[1]", "units", "only the last Dense"),
    ([{**CONV, "name": "a"}, {**CONV, "name": "a"}], "architecture", "layers", "unique"),
]


@pytest.mark.parametrize("layers,where,key,reason", ERRORS, ids=[e[3] for e in ERRORS])
def test_errors_name_the_layer_the_key_and_the_reason(layers, where, key, reason):
    with pytest.raises(spec.SpecError) as info:
        arch(layers)
    err = info.value
    assert (err.where, err.key) == (where, key)
    assert reason in err.reason
    message = str(err)
    assert message.startswith(where) and reason in message
    if key:
        assert f"key '{key}'" in message


@pytest.mark.parametrize("top,key", [
    ({"input_shape": [32, 32]}, "input_shape"),
    ({"input_shape": [32, 0, 3]}, "input_shape"),
    ({"num_classes": 0}, "num_classes"),
    ({"name": ""}, "name"),
    ({"layers": []}, "layers"),
    ({"colour": "red"}, "colour"),
])
def test_top_level_errors(top, key):
    data = {"name": "t", "input_shape": [32, 32, 3], "num_classes": 10, "layers": [{"type": "Flatten"}], **top}
    with pytest.raises(spec.SpecError) as info:
        spec.parse_architecture(data)
    assert (info.value.where, info.value.key) == ("architecture", key)


@pytest.mark.parametrize("suffix,text", [(".json", '{"name": "t", '), (".yaml", "name: [t")])
def test_unparseable_files_say_so(suffix, text):
    with pytest.raises(spec.SpecError, match="not valid " + ("JSON" if suffix == ".json" else "YAML")):
        spec.loads_architecture(text, suffix=suffix)


def test_dumped_json_is_the_documented_file_format():
    data = json.loads(spec.dumps_architecture(spec_architectures()["mnist-cnn"]))
    assert list(data)[:3] == ["name", "input_shape", "num_classes"]
    assert data["layers"][0] == {"type": "Conv2D", "name": "conv2d_1", "filters": 32, "kernel_size": 3, "activation": "relu"}

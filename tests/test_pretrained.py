"""Pretrained models (PyTorch side), ImageNet preprocessing/decoding and the offline sample photos.

Oracles: torchvision's own transforms for preprocessing, the efficientnet-lite-pytorch package's
own model for the re-bound EfficientNet, torch.softmax/topk for decoding, known labels of the
photos (a cat, an espresso).
"""

import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import require  # importorskip, but a failure under CI=true

from workbench import imagenet, samples
from workbench.model_facts import arch_of, attach, layers_of

torch_pretrained = require("workbench_plugins.torch_backend.pretrained")

CATS = {"tiger cat", "Egyptian cat", "tabby"}


@pytest.fixture(scope="module")
def model():
    return torch_pretrained.load_pretrained("efficientnet-lite0")


@pytest.fixture(scope="module")
def photos():
    return imagenet.preprocess("efficientnet-lite0", [samples.load("chelsea"), samples.load("coffee")])


def _logits(model, x):
    device = next(model.parameters()).device
    with torch.no_grad():
        return model(torch.from_numpy(x).permute(0, 3, 1, 2).to(device)).cpu().numpy()


# -- preprocessing and decoding ------------------------------------------------------------
def test_preprocessing_equals_torchvision_transforms():
    from torchvision import transforms

    mean, std = [127 / 255] * 3, [128 / 255] * 3
    oracle = transforms.Compose(
        [transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), transforms.Normalize(mean, std)]
    )
    for name in ("chelsea", "coins", "china"):  # landscape, greyscale, 427x640
        image = samples.load(name)
        ours = imagenet.preprocess("efficientnet-lite0", image)
        expected = oracle(Image.fromarray(image)).permute(1, 2, 0).numpy()[None]
        assert ours.shape == (1, 224, 224, 3) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, expected, atol=1e-5)
        assert -1.0 <= ours.min() < 0 < ours.max() <= 1.0


def test_preprocessing_portrait_and_denormalize():
    portrait = np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8)
    prep = imagenet.preprocessing("efficientnet-lite0")
    x = prep(portrait)
    assert x.shape == (1, 224, 224, 3)
    crop = imagenet.resize_center_crop(portrait)
    np.testing.assert_allclose(prep.denormalize(x)[0], crop, atol=1e-3)


def test_zoo_preprocessing_differs_per_backend():
    image = samples.load("coffee")
    torch_x = imagenet.preprocess("vgg16-imagenet", image, backend="pytorch")
    keras_x = imagenet.preprocess("vgg16-imagenet", image, backend="tensorflow")
    crop = imagenet.resize_center_crop(image)
    # keras.applications' caffe mode: BGR, minus the ImageNet mean in 0..255.
    np.testing.assert_allclose(keras_x[0], crop[..., ::-1] - np.array([103.939, 116.779, 123.68]), atol=1e-3)
    np.testing.assert_allclose(torch_x[0], (crop / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225], atol=1e-5)
    with pytest.raises(KeyError, match="backend"):
        imagenet.preprocessing("vgg16-imagenet")
    with pytest.raises(KeyError, match="no preprocessing"):  # the spec VGG16 of the gallery: random weights
        imagenet.preprocessing("vgg16")
    with pytest.raises(KeyError, match="no preprocessing"):
        imagenet.preprocessing("no-such-model")


def test_decode_top_equals_torch_softmax_topk():
    logits = np.random.default_rng(1).normal(size=(3, 1000)).astype(np.float32)
    top = imagenet.decode_top(logits, k=5)
    probs, idx = torch.softmax(torch.from_numpy(logits), 1).topk(5)
    for row, p, i in zip(top, probs.numpy(), idx.numpy()):
        assert [d["index"] for d in row] == list(i)
        np.testing.assert_allclose([d["probability"] for d in row], p, rtol=1e-5)
        assert row[0]["name"] == imagenet.class_names()[i[0]]
    assert len(set(imagenet.class_names())) == 1000


# -- sample photos ---------------------------------------------------------------------------
def test_samples_are_rgb_uint8_and_cached():
    for name in samples.names():
        image = samples.load(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name
    assert samples.load("camera").shape == (512, 512, 3)  # greyscale made RGB
    assert samples.load("chelsea") is samples.load("chelsea")
    with pytest.raises(KeyError, match="known: chelsea"):
        samples.load("nope")


# -- EfficientNet-Lite0 in PyTorch -------------------------------------------------------
def test_efficientnet_recognises_the_photos(model, photos):
    top = imagenet.decode_top(_logits(model, photos))
    assert top[0][0]["name"] in CATS
    assert top[1][0]["name"] == "espresso" and top[1][0]["probability"] > 0.5


def test_efficientnet_equals_the_package_model(model, photos):
    from efficientnet_lite_pytorch import EfficientNet

    package = EfficientNet.from_name("efficientnet-lite0")
    package.load_state_dict(torch_pretrained.efficientnet_state_dict())
    package.eval()
    with torch.no_grad():
        expected = package(torch.from_numpy(photos).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(_logits(model, photos), expected, atol=1e-5)


def test_efficientnet_layers_called_once_with_expected_shapes(model, photos):
    names = list(layers_of(model))
    main = ["stem", *(f"block_{i}" for i in range(16)), "head", "pool", "logits"]
    assert [n for n in names if n in main] == main  # in forward order, inner layers between
    assert {"block_0_dwconv", "block_1_expand_relu", "block_15_project_bn", "head_conv"} <= set(names)
    assert "block_0_expand_conv" not in names  # block 0 has no expansion
    assert arch_of(model).name == "efficientnet-lite0" and arch_of(model).explain_layer == "head"
    assert not model.training
    seen = {}
    hooks = [
        m.register_forward_hook(lambda _m, _i, out, n=n: seen.setdefault(n, []).append(tuple(out.shape)))
        for n, m in layers_of(model).items()
    ]
    try:
        _logits(model, photos[:1])
    finally:
        for h in hooks:
            h.remove()
    assert all(len(v) == 1 for v in seen.values()) and set(seen) == set(names)
    assert seen["stem"] == [(1, 32, 112, 112)] and seen["block_1_expand_relu"] == [(1, 96, 112, 112)]
    assert seen["block_1_dwconv"] == [(1, 96, 56, 56)] and seen["block_2"] == [(1, 24, 56, 56)]
    assert seen["head"] == [(1, 1280, 7, 7)]
    assert seen["pool"] == [(1, 1280)] and seen["logits"] == [(1, 1000)]


def test_shared_module_is_refused():
    from efficientnet_lite_pytorch import EfficientNet

    package = EfficientNet.from_name("efficientnet-lite0").eval()
    from workbench import lookup

    attach(package, arch=lookup.architecture("efficientnet-lite0"))
    # The package calls its one ReLU6 after the stem and after the head.
    attach(package, layers={"stem": package._swish, "logits": package._fc})
    with pytest.raises(torch_pretrained.SharedModuleError, match="'stem' ran 2 times"):
        torch_pretrained.check_layers_called_once(package)
    attach(package, layers={"fc": package._fc, "logits": package._fc})
    with pytest.raises(torch_pretrained.SharedModuleError, match="same module"):
        torch_pretrained.check_layers_called_once(package)


def test_weights_load_weights_only(monkeypatch, tmp_path):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    assert set(torch_pretrained.efficientnet_state_dict()) >= {"_conv_stem.weight", "_fc.bias"}
    assert calls and all(c.get("weights_only") is True for c in calls)

    class Payload:  # pickled code: must not be unpickled
        def __reduce__(self):
            return (print, ("unsafe",))

    evil = tmp_path / "evil.pth"
    torch.save({"_conv_stem.weight": Payload()}, evil)
    monkeypatch.setattr(torch_pretrained, "efficientnet_weights_path", lambda: str(evil))
    with pytest.raises(Exception, match="[Ww]eights only|weights_only"):
        torch_pretrained.efficientnet_state_dict()


def test_new_head_for_fine_tuning():
    model = torch_pretrained.build_efficientnet(num_classes=3, seed=1)
    assert model.logits.out_features == 3 and arch_of(model).num_classes == 3
    assert layers_of(model)["logits"] is model.logits
    with pytest.raises(ValueError, match="224x224x3"):
        torch_pretrained.build_efficientnet(input_shape=(32, 32, 3))


def test_unknown_pretrained_name():
    with pytest.raises(KeyError, match="efficientnet-lite0"):
        torch_pretrained.load_pretrained("alexnet")


# -- the torchvision zoo path --------------------------------------------------------------
@pytest.fixture
def offline_torch_hub(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path


def test_zoo_offline_message(offline_torch_hub):
    with pytest.raises(RuntimeError, match="not in the torch cache.*efficientnet-lite0") as info:
        torch_pretrained.load_pretrained("vgg16-imagenet")
    assert torch_pretrained.zoo_cache_path("vgg16") in str(info.value)
    assert str(offline_torch_hub) in torch_pretrained.zoo_cache_path("vgg16")


def test_zoo_reads_the_cached_file(offline_torch_hub):
    import os

    import torchvision

    torch.manual_seed(0)
    state = torchvision.models.mobilenet_v2(weights=None).state_dict()
    path = torch_pretrained.zoo_cache_path("mobilenet_v2")
    os.makedirs(os.path.dirname(path))
    torch.save(state, path)
    model = torch_pretrained.load_pretrained("mobilenet_v2")
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k].cpu(), v) for k, v in state.items())
    assert arch_of(model).name == "mobilenet_v2-imagenet"
    assert arch_of(model).explain_layer in layers_of(model)
    assert list(layers_of(model))[:3] == ["Conv1_relu", "expanded_conv_project_BN", "block_1_project_BN"]
    assert "block_2_add" in layers_of(model)  # a residual block's output is its Add, as in Keras


def test_zoo_weights_with_the_wrong_hash_are_refused_and_not_kept(monkeypatch, tmp_path):
    """torch.hub's real download from a local mirror whose file does not match the hash in its name."""
    import os

    import torchvision.models as tvm

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    weights = tvm.MobileNet_V2_Weights.IMAGENET1K_V1
    mirror = tmp_path / os.path.basename(weights.url)  # mobilenet_v2-<sha256 prefix>.pth
    mirror.write_bytes(b"not the weights the name promises" * 100)
    monkeypatch.setattr(weights.value, "url", mirror.as_uri())
    with pytest.raises(RuntimeError, match=r"weights of mobilenet_v2 downloaded from file://.*failed their hash "
                                           r"check, so they were refused and deleted"):
        torch_pretrained.load_pretrained("mobilenet_v2-imagenet")
    checkpoints = os.path.dirname(torch_pretrained.zoo_cache_path("mobilenet_v2"))
    assert checkpoints.startswith(str(tmp_path / "home")) and os.listdir(checkpoints) == []  # nor a .partial


def test_registered_as_native_architectures():
    from workbench import lookup

    arch = lookup.architecture("efficientnet-lite0")
    assert not arch.is_spec and set(arch.native) == {"pytorch", "tensorflow"}
    assert arch.input_shape == (224, 224, 3) and arch.num_classes == 1000 and arch.explain_layer == "head"
    assert arch.class_names == imagenet.class_names() and arch.class_names[967] == "espresso"
    assert imagenet.preprocessing(arch.name).crop == arch.input_shape[0]
    zoo = lookup.architecture("vgg16-imagenet")
    assert zoo.explain_layer == "block5_conv3"
    assert imagenet.preprocessing(zoo.name, "pytorch") != imagenet.preprocessing(zoo.name, "tensorflow")

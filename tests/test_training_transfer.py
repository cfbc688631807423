"""Transfer learning from real pretrained weights and models that carry their preprocessing:

- EfficientNet-Lite0 (ImageNet, offline) gets a new head for a dataset's classes, is fed as its
  weights expect (ImageNet normalisation, grey made RGB), and with the base frozen only the head
  learns, in both backends; then fine-tuning from a later block changes that block only.
- A model trained on standardised images keeps its Standardizer (workbench.model_facts)
  through save and load, in either backend, and predicts the same after loading.
"""

import json
import os

import numpy as np
import pytest
from PIL import Image

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")
require("tensorflow")

from workbench import data as D  # noqa: E402
from workbench import imagenet, lookup  # noqa: E402
from workbench.backend import TrainConfig  # noqa: E402
from workbench.cli import main  # noqa: E402
from workbench.spec import parse_architecture  # noqa: E402
from workbench.training import TrainData, prepare  # noqa: E402
from workbench.model_facts import attach, standardizer_of  # noqa: E402

BACKENDS = ["pytorch", "tensorflow"]
TINY = parse_architecture({"name": "tiny", "input_shape": [28, 28, 1], "num_classes": 3, "layers": [
    {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
    {"type": "BatchNormalization"},
    {"type": "Flatten"},
    {"type": "Dense", "units": 3, "activation": "softmax"}]})


@pytest.fixture(scope="module")
def few_shapes():
    """Eight grey 28x28 shapes prepared for EfficientNet-Lite0."""
    return prepare(lookup.dataset("shapes"), lookup.architecture("efficientnet-lite0"), limit=8)


def test_a_pretrained_model_is_fed_as_its_weights_expect(few_shapes):
    arch, splits, standardizer = few_shapes
    shapes = lookup.dataset("shapes")
    assert not arch.is_spec and arch.num_classes == shapes.num_classes and arch.input_shape == (224, 224, 3)
    assert standardizer is None and len(splits["train"][0]) == 8 and len(splits["test"][0]) == len(shapes.load("test")[0])
    x = splits["train"][0]
    raw = D.resize(shapes.load("train")[0][:8], (224, 224, 3))  # grey repeated to three equal channels
    np.testing.assert_allclose(x, imagenet.preprocessing("efficientnet-lite0").normalize(raw * 255), atol=1e-6)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])
    assert x.min() < -0.9 and x.max() > 0.9  # (pixel - 127) / 128, not [0, 1]
    with pytest.raises(ValueError, match="ImageNet normalisation"):
        prepare(shapes, lookup.architecture("efficientnet-lite0"), standardize=True, limit=8)


def changed_layers(before, after) -> set[str]:
    return {name for name in before if any(not np.array_equal(a, b) for a, b in zip(before[name], after[name]))}


@pytest.mark.parametrize("name", BACKENDS)
def test_frozen_base_efficientnet_trains_only_its_new_head(name, few_shapes):
    arch, splits, _ = few_shapes
    backend = lookup.backend(name)
    model = backend.build(arch, seed=0)
    assert backend.predict(model, splits["test"][0][:2]).shape == (2, 3)
    backend.set_trainable(model, "logits")
    before = backend.get_weights(model)
    history = backend.train(model, TrainData(*splits["train"]), TrainConfig(epochs=2, batch_size=4, learning_rate=1e-2))
    assert len(history) == 2
    after = backend.get_weights(model)
    # every weight before the head, BatchNorm's moving statistics included, is the ImageNet one still
    assert changed_layers(before, after) == {"logits"}
    # fine-tuning: from the last block on, that block and the head learn, the earlier ones stay
    backend.set_trainable(model, "block_15_expand_conv")  # a block's own layers come before its name
    few = [a[:4] for a in splits["train"]]
    backend.train(model, TrainData(*few), TrainConfig(epochs=1, batch_size=4, learning_rate=1e-3))
    changed = changed_layers(after, backend.get_weights(model))
    assert "logits" in changed and any(n.startswith("block_15") for n in changed)
    assert not any(n.startswith(("stem", "block_14", "block_0")) for n in changed)


def write_folder(root, n=3):
    """train/val/test with two classes of n colour images each (a dataset in seconds)."""
    for s in ("train", "val", "test"):
        for k, cls in enumerate(("red", "blue")):
            (root / s / cls).mkdir(parents=True)
            for i in range(n):
                colour = (200 - 10 * i, 30, 40) if k == 0 else (30, 40, 200 - 10 * i)
                Image.new("RGB", (20, 20), colour).save(root / s / cls / f"{i}.png")


def test_cli_fine_tunes_efficientnet_and_saves_it(tmp_path, capsys):
    write_folder(tmp_path / "data")
    code = main(["train", "--dataset", f"folder:{tmp_path / 'data'}", "--arch", "efficientnet-lite0", "--backend",
                 "pytorch", "--from-layer", "logits", "--epochs", "1", "--batch-size", "3",
                 "--save", str(tmp_path / "ft"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and np.array(result["test"]["confusion_matrix"]).shape == (2, 2)
    saved = json.loads((tmp_path / "ft.json").read_text())["architecture"]
    assert saved["native"] and saved["name"] == "efficientnet-lite0" and saved["num_classes"] == 2
    backend = lookup.backend("pytorch")
    model = backend.load(result["saved"])
    arch, splits, _ = prepare(lookup.dataset(f"folder:{tmp_path / 'data'}"), lookup.architecture("efficientnet-lite0"))
    pred = backend.predict(model, splits["test"][0]).argmax(1)
    assert (pred == splits["test"][1]).mean() == pytest.approx(result["test"]["accuracy"])
    assert standardizer_of(model) is None


@pytest.mark.parametrize("saver", BACKENDS)
def test_standardizer_is_saved_and_loaded_with_the_model(saver, tmp_path):
    arch, splits, standardizer = prepare(lookup.dataset("shapes"), TINY, standardize=True, limit=120)
    assert isinstance(standardizer, D.Standardizer)
    np.testing.assert_allclose(standardizer.mean, D.resize(lookup.dataset("shapes").load("train")[0][:120],
                                                           TINY.input_shape).mean(0))
    backend = lookup.backend(saver)
    model = backend.build(arch, seed=0)
    attach(model, standardizer=standardizer)
    backend.train(model, TrainData(*splits["train"]), TrainConfig(epochs=1, batch_size=32))
    path = backend.save(model, tmp_path / "std")
    x = splits["test"][0][:16]
    for loader in BACKENDS:  # the spec's Keras-layout file loads in both, statistics included
        loaded = lookup.backend(loader).load(path)
        got = standardizer_of(loaded)
        np.testing.assert_array_equal(got.mean, standardizer.mean)
        np.testing.assert_array_equal(got.std, standardizer.std)
        assert got.eps == standardizer.eps
        np.testing.assert_allclose(lookup.backend(loader).predict(loaded, x), backend.predict(model, x), atol=1e-5)
    # raw images standardised by the loaded statistics are what the model was trained on
    raw = D.resize(lookup.dataset("shapes").load("test")[0][:16], TINY.input_shape)
    np.testing.assert_allclose(standardizer_of(backend.load(path))(raw), x, atol=1e-6)
    # saved again at the same place untrained on standardised images: no stale statistics come back
    attach(model, standardizer=None)
    backend.save(model, tmp_path / "std")
    assert standardizer_of(backend.load(path)) is None


def test_cli_standardize_saves_the_statistics(tmp_path, capsys):
    code = main(["train", "--dataset", "shapes", "--arch", "mnist-cnn", "--backend", "pytorch", "--epochs", "1",
                 "--standardize", "--save", str(tmp_path / "m"), "--json"])
    result = json.loads(capsys.readouterr().out)
    model = lookup.backend("tensorflow").load(result["saved"])
    _, splits, standardizer = prepare(lookup.dataset("shapes"), lookup.architecture("mnist-cnn"), standardize=True)
    np.testing.assert_allclose(standardizer_of(model).mean, standardizer.mean)
    pred = lookup.backend("tensorflow").predict(model, splits["test"][0]).argmax(1)
    assert code == 0 and (pred == splits["test"][1]).mean() == pytest.approx(result["test"]["accuracy"], abs=0.01)


def test_only_models_that_take_a_new_head_are_offered_for_fine_tuning(lesson_app, monkeypatch):
    import dataclasses

    from workbench.registry import get_registry
    from workbench.training import with_dataset_head

    assert lookup.architecture("efficientnet-lite0").new_head
    assert with_dataset_head(lookup.architecture("vgg16-imagenet"), 5).num_classes == 5  # the zoo's builders swap it
    fixed = dataclasses.replace(lookup.architecture("vgg16-imagenet"), new_head=False)
    with pytest.raises(ValueError, match="vgg16-imagenet cannot be given a head for 5 classes"):
        with_dataset_head(fixed, 5)
    registered = dict(get_registry().architectures())
    monkeypatch.setattr(type(get_registry()), "architectures",
                        lambda self: {**registered, "vgg16-imagenet": fixed})
    at = lesson_app("training")
    options = at.selectbox(key="tr_arch").options
    assert any(o.startswith("efficientnet-lite0") for o in options) and "mnist-cnn" in options
    assert any(o.startswith("resnet50-imagenet") for o in options)  # a zoo model takes a new head
    assert not any(o.startswith("vgg16-imagenet") for o in options)  # one that keeps its 1000-class head is not offered

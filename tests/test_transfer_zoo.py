"""Zoo bases (VGG16, VGG19, ResNet50, MobileNetV2 with ImageNet weights) in the transfer experiment,
in both backends: without their weights in the framework's cache (and no network) they are refused
with a message that says where the file goes; with a weights file there (MobileNetV2's architecture
with random weights, saved where the framework looks, as a download would leave it) the experiment
gives it a new head, trains only what each variant should, and leaves the rest as loaded."""

import json
import os
import urllib.error

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = require("torch")
require("tensorflow")

from workbench import lookup  # noqa: E402
from workbench.cli import main  # noqa: E402
from workbench.training import with_dataset_head  # noqa: E402
from workbench.transfer.bases import base  # noqa: E402
from workbench.transfer.experiment import ExperimentSpec, run_experiment  # noqa: E402

ZOO = ("vgg16", "vgg19", "resnet50", "mobilenet_v2")
MOBILENET_H5 = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"  # the file keras.applications reads


def no_network(*args, **kwargs):
    raise urllib.error.URLError("no network")


@pytest.fixture
def empty_caches(monkeypatch, tmp_path):
    """Both frameworks' weight caches in an empty folder, and no network."""
    from keras.src.backend import config
    from keras.src.utils import file_utils

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path / "keras"))  # KERAS_HOME is read at import
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    return tmp_path


def cache_mobilenet(backend: str) -> None:
    """Random MobileNetV2 weights, written where the framework looks for the downloaded file."""
    if backend == "pytorch":
        import torchvision

        from workbench_plugins.torch_backend.pretrained import zoo_cache_path

        torch.manual_seed(0)
        path = zoo_cache_path("mobilenet_v2")
        os.makedirs(os.path.dirname(path))
        torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), path)
    else:
        import h5py
        import keras
        from keras.src.backend import config
        from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

        keras.utils.set_random_seed(0)
        folder = os.path.join(config._KERAS_DIR, "models")
        os.makedirs(folder)
        with h5py.File(os.path.join(folder, MOBILENET_H5), "w") as f:
            save_weights_to_hdf5_group(f, keras.applications.MobileNetV2(weights=None))


@pytest.mark.parametrize("name", ["pytorch", "tensorflow"])
def test_a_zoo_base_without_its_weights_says_where_they_go(empty_caches, capsys, name):
    cache = "torch cache" if name == "pytorch" else "Keras cache"
    # Keras builds a zoo model before it looks for the weights (seconds each): there, MobileNetV2 only
    for zoo in ZOO if name == "pytorch" else ("mobilenet_v2",):
        b = base(f"{zoo}-imagenet")
        assert b.pretrained and b.head_from == "predictions" and b.finetune_from
        with pytest.raises(RuntimeError, match=f"weights of {zoo} are not in the {cache}.*efficientnet-lite0") as info:
            lookup.backend(name).build(with_dataset_head(b.arch, 2), seed=0)
        assert str(empty_caches) in str(info.value)  # the folder the file goes in
    code = main(["transfer", "--dataset", "faces-lfw", "--base", "mobilenet_v2-imagenet", "--variants", "frozen",
                 "--epochs", "1", "--seeds", "1", "--limit", "8", "--backend", name, "--json"])
    error = json.loads(capsys.readouterr().out)["error"]  # stdout holds the JSON alone
    assert code == 2 and f"not in the {cache}" in error and "efficientnet-lite0" in error


@pytest.mark.parametrize("name", ["pytorch", "tensorflow"])
def test_a_cached_zoo_model_gets_a_new_head_on_the_files_weights(empty_caches, name):
    cache_mobilenet(name)
    backend = lookup.backend(name)
    arch = lookup.architecture("mobilenet_v2-imagenet")
    imagenet = backend.get_weights(backend.build(arch))  # the 1000-way model, as the file holds it
    model = backend.build(with_dataset_head(arch, 3), seed=1)
    weights = backend.get_weights(model)
    assert backend.layer_names(model)[-1] == "predictions" and [w.shape for w in weights["predictions"]] == [
        (1280, 3), (3,)]
    assert weights.keys() == imagenet.keys()
    for layer in set(weights) - {"predictions"}:  # every layer but the new head is the file's
        for a, c in zip(weights[layer], imagenet[layer]):
            np.testing.assert_array_equal(a, c)
    x = np.random.default_rng(0).normal(size=(2, 224, 224, 3)).astype(np.float32)
    np.testing.assert_allclose(backend.predict(model, x).sum(axis=1), 1.0, atol=1e-5)


def test_a_model_that_takes_no_new_head_is_refused(monkeypatch):
    import dataclasses

    from workbench.transfer import bases

    fixed = dataclasses.replace(lookup.architecture("mobilenet_v2-imagenet"), new_head=False)
    monkeypatch.setattr(bases.lookup, "architecture", lambda name: fixed)
    with pytest.raises(ValueError, match="1000-class model it was trained as and cannot be given a new head"):
        bases.base("mobilenet_v2-imagenet")


@pytest.mark.slow  # 30 s and more on two cores: a 224x224 base trained through, in both backends
@pytest.mark.parametrize("name", ["pytorch", "tensorflow"])
def test_a_cached_zoo_base_takes_a_new_head_and_trains_only_what_it_should(empty_caches, name):
    cache_mobilenet(name)
    backend = lookup.backend(name)
    b = base("mobilenet_v2-imagenet")
    spec = ExperimentSpec("faces-lfw", base=b.name, backend=name, variants=("frozen", "finetune"), epochs=2,
                          seeds=1, limit=16, batch_size=8)
    exp = run_experiment(spec)
    loaded = backend.get_weights(backend.build(with_dataset_head(b.arch, 2), seed=0))  # the file's weights
    names = backend.layer_names(exp.runs[0].run.model)
    before_head = names[:names.index("predictions")]
    before_tuning = names[:names.index(b.finetune_from)]

    def same(model, layers):
        now = backend.get_weights(model)
        return all(np.array_equal(a, c) for n in layers if n in loaded for a, c in zip(loaded[n], now[n]))

    frozen, tuned = exp.of("frozen")[0], exp.of("finetune")[0]
    assert frozen.cached and frozen.run.test_probs.shape == (30, 2)
    assert (frozen.trainable_tensors, frozen.trainable_params) == (2, 1280 * 2 + 2)  # the new head alone
    assert same(frozen.run.model, before_head)  # BatchNorm statistics included
    assert not same(frozen.run.model, ["predictions"])
    assert same(tuned.run.model, before_tuning)
    assert not same(tuned.run.model, [n for n in names[names.index(b.finetune_from):] if n.startswith("block_16")])
    assert tuned.trainable_tensors > frozen.trainable_tensors

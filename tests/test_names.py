"""Any architecture name a user types works everywhere (issue: "'my mnist net' is not a valid
root scope name"): build, train, save, load and explain in both backends keep the name as typed,
and the TensorFlow backend gives Keras a sanitised one."""

import json
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
pytest.importorskip("torch")
pytest.importorskip("tensorflow")

from workbench import lookup  # noqa: E402
from workbench.backend import TrainConfig  # noqa: E402
from workbench.registry import get_registry  # noqa: E402
from workbench.model_facts import arch_of  # noqa: E402
from workbench.spec import parse_architecture  # noqa: E402
from workbench.training import TrainData, prepare  # noqa: E402

NAMES = ["my mnist net", "réseau/ü 1", "a\\b: c?*<>|", "日本のネット", "--", "123 ok"]
BACKENDS = ["tensorflow", "pytorch"]


def net(name):
    return parse_architecture({"name": name, "input_shape": [28, 28, 1], "num_classes": 3, "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu", "name": "conv"},
        {"type": "MaxPooling2D", "pool_size": 4},
        {"type": "Flatten"},
        {"type": "Dense", "activation": "softmax"}]})


@pytest.fixture(scope="module")
def few_shapes():
    _, splits, _ = prepare(lookup.dataset("shapes"), net("x"))
    (x, y), (xv, yv) = splits["train"], splits["val"]
    return TrainData(x[:24], y[:24], xv[:8], yv[:8])


def test_keras_model_names_are_sanitised_and_valid():
    from workbench_plugins.tensorflow_backend.builder import model_name

    assert model_name("my mnist net") == "my_mnist_net"
    assert model_name("réseau/ü 1") == "reseau_u_1"
    assert model_name("日本のネット") == "model"
    assert model_name("mnist-cnn") == "mnist-cnn"  # a name Keras takes stays as it is
    import re

    for name in NAMES:
        assert re.fullmatch(r"[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*", model_name(name)), name  # TF's root scope rule


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_any_name_builds_trains_saves_loads_and_explains(name, backend_name, few_shapes, tmp_path):
    backend = lookup.backend(backend_name)
    arch = net(name)
    model = backend.build(arch, seed=0)
    assert arch_of(model).name == name
    assert [row.name for row in backend.summary(model)][0] == "conv"

    history = backend.train(model, few_shapes, TrainConfig(epochs=1, batch_size=8))
    assert len(history) == 1 and np.isfinite(history[0]["loss"])

    path = backend.save(model, tmp_path / f"{name.replace('/', '_')} ü")  # a user's file name, spaces and all
    saved = json.loads(path.with_name(path.name.removesuffix(".safetensors") + ".json").read_text())
    assert saved["architecture"]["name"] == name
    x = few_shapes.x_val[:4]
    want = backend.predict(model, x)
    for other_name in BACKENDS:  # the file loads in either backend, under the name as typed
        other = lookup.backend(other_name)
        loaded = other.load(path)
        assert arch_of(loaded).name == name
        np.testing.assert_allclose(other.predict(loaded, x), want, atol=1e-5)

    loaded = backend.load(path)
    explainers = get_registry().explainers()
    for method, params in [("saliency", {}), ("grad-cam", {"layer": "conv"})]:
        maps = explainers[method].explain(backend, loaded, x[:2], [0, 2], **params).maps
        assert maps.shape == (2, 28, 28) and np.isfinite(maps).all() and np.abs(maps).max() > 0, method


def test_the_cli_trains_a_name_with_spaces_in_tensorflow(tmp_path, capsys):
    from workbench.cli import main

    spec = tmp_path / "net.json"
    spec.write_text(json.dumps({"name": "my mnist net", "input_shape": [28, 28, 1], "num_classes": 3, "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
        {"type": "MaxPooling2D", "pool_size": 4}, {"type": "Flatten"}, {"type": "Dense", "activation": "softmax"}]}))
    code = main(["train", "--dataset", "shapes", "--arch", str(spec), "--backend", "tensorflow", "--epochs", "1",
                 "--save", str(tmp_path / "my net"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["architecture"] == "my mnist net" and len(result["history"]) == 1
    assert arch_of(lookup.backend("pytorch").load(tmp_path / "my net")).name == "my mnist net"

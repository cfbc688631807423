"""Exports compute what the workbench computes: ONNX read by onnxruntime, .keras read by Keras in
safe mode, safetensors read by both backends, each on raw pixels in [0, 1] against the model fed
as the workbench feeds it (its standardiser applied by hand here); probabilities equal within 1e-4.
The folded input transform equals the numpy preprocessing it replaces, and `workbench export` prints
its report as JSON."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")
require("tensorflow")
onnxruntime = require("onnxruntime")
require("onnx")

from workbench import export as E  # noqa: E402
from workbench import spec as S  # noqa: E402
from workbench import weights as W  # noqa: E402
from workbench.cli import main  # noqa: E402
from workbench.data import Standardizer  # noqa: E402
from workbench.model_facts import attach  # noqa: E402
from workbench.registry import get_registry  # noqa: E402

# Every kind of part an export must carry: BatchNorm statistics, a residual block, a squeeze-excite,
# Keras' "same" padding at stride 2, a final softmax.
SMALL = S.parse_architecture({"name": "export-small", "input_shape": [9, 9, 3], "num_classes": 4, "layers": [
    {"type": "Conv2D", "filters": 6, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"},
    {"type": "BatchNormalization"},
    {"type": "Residual", "body": [{"type": "Conv2D", "filters": 6, "kernel_size": 3, "padding": "same"}]},
    {"type": "SqueezeExcite", "units": 2},
    {"type": "MaxPooling2D"},
    {"type": "Flatten"},
    {"type": "Dense", "activation": "softmax"},
]})
X = np.random.default_rng(0).random((8, 9, 9, 3), dtype=np.float32)
STANDARDIZER = Standardizer(np.full((9, 9, 3), 0.4, np.float32) + X.mean(0) * 0.1, np.full((9, 9, 3), 0.25, np.float32))


@pytest.fixture(scope="module")
def backends():
    return get_registry().backends()


def trained(backend):
    """A model with trained-looking weights (BatchNorm statistics too) and a standardiser."""
    model = backend.build(SMALL, seed=1)
    rng = np.random.default_rng(7)
    draw = lambda a: rng.normal(0, 0.4, a.shape) if a.ndim > 1 else rng.uniform(0.5, 1.5, a.shape)  # noqa: E731
    backend.set_weights(model, {name: [np.asarray(draw(a), np.float32) for a in arrays]
                                for name, arrays in backend.get_weights(model).items()})
    return attach(model, standardizer=STANDARDIZER)


def as_trained(backend, model, x):
    """What the workbench computes: the model fed standardised images, by hand."""
    return backend.predict(model, (x - STANDARDIZER.mean) / (STANDARDIZER.std + STANDARDIZER.eps))


@pytest.mark.parametrize("source", ["pytorch", "tensorflow"])
def test_onnx_read_by_onnxruntime_equals_the_model(backends, tmp_path, source):
    backend = backends[source]
    model = trained(backend)
    report = E.export(backend, model, "onnx", tmp_path / "model", X)
    assert report.path.endswith("model.onnx") and report.checked_with == ["onnxruntime"]
    session = onnxruntime.InferenceSession(report.path, providers=["CPUExecutionProvider"])
    probs = session.run(None, {session.get_inputs()[0].name: X})[0]
    expected = as_trained(backend, model, X)
    assert probs.shape == (8, 4)
    np.testing.assert_allclose(probs, expected, atol=1e-4)
    assert report.max_abs_diff <= 1e-4 and report.faithful
    assert (report.layout, report.input, report.checked_images) == ("NHWC", "float32 pixels in [0, 1]", 8)
    # the batch axis is free: one image works as well as eight
    np.testing.assert_allclose(session.run(None, {session.get_inputs()[0].name: X[:1]})[0], expected[:1], atol=1e-4)


@pytest.mark.parametrize("source", ["pytorch", "tensorflow"])
def test_keras_file_loads_in_safe_mode_and_equals_the_model(backends, tmp_path, source):
    import keras

    backend = backends[source]
    model = trained(backend)
    report = E.export(backend, model, "keras", tmp_path / "model", X)
    assert report.path.endswith("model.keras")
    loaded = keras.saving.load_model(report.path, safe_mode=True, compile=False)
    np.testing.assert_allclose(np.asarray(loaded(X)), as_trained(backend, model, X), atol=1e-4)
    assert report.max_abs_diff <= 1e-4


@pytest.mark.parametrize("source", ["pytorch", "tensorflow"])
def test_safetensors_export_loads_in_both_backends(backends, tmp_path, source):
    backend = backends[source]
    model = trained(backend)
    report = E.export(backend, model, "safetensors", tmp_path / "model", X)
    assert sorted(report.checked_with) == ["pytorch load", "tensorflow load"]
    expected = as_trained(backend, model, X)
    for other in backends.values():
        loaded = other.load(report.path)
        again = W.read_standardizer(report.path)
        np.testing.assert_allclose(other.predict(loaded, again(X)), expected, atol=1e-4)
    assert report.max_abs_diff <= 1e-4


def test_the_check_sees_a_model_that_differs(backends, tmp_path):
    backend = backends["pytorch"]
    path = E.export(backend, trained(backend), "onnx", tmp_path / "a", X).path
    other = attach(backend.build(SMALL, seed=2), standardizer=STANDARDIZER)  # untrained: other numbers
    assert np.abs(E._onnxruntime(path, X) - as_trained(backend, other, X)).max() > 1e-3


@pytest.mark.parametrize("backend_name", ["pytorch", "tensorflow"])
def test_the_folded_transform_is_the_pretrained_preprocessing(backend_name):
    """keras.applications' caffe mode (RGB->BGR, minus the mean in 0..255) and torchvision's
    (x - mean) / std, from pixels in [0, 1], equal Preprocessing.normalize of 0..255 pixels."""
    from workbench.training import input_normalization

    arch = get_registry().architectures()["vgg16-imagenet"]

    class Model:  # facts are all the transform reads
        pass

    model = attach(Model(), arch=arch)
    x = np.random.default_rng(3).random((2, 224, 224, 3), dtype=np.float32)
    pre = input_normalization(arch, backend_name)
    transform = E.input_transform(model, backend_name)
    assert transform.bgr == pre.bgr
    np.testing.assert_allclose(transform(x), pre.normalize(x * 255.0), rtol=1e-5, atol=1e-3)


def test_cli_export_prints_its_report(backends, tmp_path, capsys):
    backend = backends["tensorflow"]
    saved = backend.save(trained(backend), tmp_path / "run")
    assert main(["export", str(saved), "--format", "onnx", "--out", str(tmp_path / "out"), "--images", "5",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"path", "format", "checked_images", "max_abs_diff"} <= set(report)
    assert report["format"] == "onnx" and report["checked_images"] == 5 and report["max_abs_diff"] <= 1e-4
    assert report["path"] == str(tmp_path / "out.onnx") and (tmp_path / "out.onnx").is_file()


def test_cli_export_of_a_missing_model_is_one_clear_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--format", "keras", "--out", str(tmp_path / "x"),
                 "--json"]) == 2
    assert "no saved model" in json.loads(capsys.readouterr().out)["error"]


@pytest.mark.slow
@pytest.mark.parametrize("backend_name", ["pytorch", "tensorflow"])
def test_a_fine_tuned_pretrained_model_exports_to_every_format_it_offers(backends, tmp_path, backend_name):
    """EfficientNet-Lite0 with a new head (the transfer lesson's model): its ImageNet normalisation
    folded in, each offered format read back equal; a TensorFlow one saves safetensors in the Keras layout."""
    backend = backends[backend_name]
    arch = get_registry().with_role("fine-tune")
    model = backend.build(arch, num_classes=3)
    x = E.check_images(E.arch_of(model), 4)
    offered = E.available_formats(backend, model)
    assert "safetensors" in offered and ("onnx" if backend_name == "pytorch" else "keras") in offered
    for fmt in offered:
        report = E.export(backend, model, fmt, tmp_path / fmt, x)
        assert report.max_abs_diff <= 1e-4, (fmt, report)

"""Gradient targets the explainers need, in both backends through the one graph.target_values:
per-image neurons and channels (each image its own neuron, one backward pass for the batch), and
one-unit sigmoid heads as two classes (class 0 is the negative logit; predictions and the
predicted class read [1 - p, p]). And a trained model's standardisation reaches its inputs."""

import dataclasses
import json
import os

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")
require("tensorflow")

from workbench import samples  # noqa: E402
from workbench import spec as S  # noqa: E402
from workbench.backend import ChannelMean, ClassScore, Neuron  # noqa: E402
from workbench.data import Standardizer  # noqa: E402
from workbench.explain import Occlusion  # noqa: E402
from workbench.explain.compare import run_methods  # noqa: E402
from workbench.explain.inputs import model_inputs, predictions  # noqa: E402
from workbench.registry import get_registry  # noqa: E402
from workbench.model_facts import attach, standardizer_of  # noqa: E402

LAYERS = [
    {"type": "Conv2D", "filters": 5, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "conv1"},
    {"type": "MaxPooling2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 6, "kernel_size": 3, "padding": "same", "activation": "tanh", "name": "conv2"},
    {"type": "GlobalAveragePooling2D"},
    {"type": "Dense", "units": 4, "activation": "tanh", "name": "hidden"},
]
MULTI = S.parse_architecture({"name": "targets-multi", "input_shape": [12, 12, 3], "num_classes": 3,
                              "layers": LAYERS + [{"type": "Dense", "activation": "softmax", "name": "out"}]})
BINARY = dataclasses.replace(S.parse_architecture({
    "name": "targets-binary", "input_shape": [12, 12, 3], "num_classes": 1,
    "layers": LAYERS + [{"type": "Dense", "units": 1, "activation": "sigmoid", "name": "out"}]}),
    class_names=("non-face", "face"))
X = np.random.default_rng(3).random((3, 12, 12, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def backends():
    found = get_registry().backends()
    return found["pytorch"], found["tensorflow"]


def same_models(backends, arch):
    pt, tf = backends
    a = pt.build(arch, seed=5)
    b = tf.build(arch, seed=6)
    tf.set_weights(b, pt.get_weights(a))
    return [(pt, a), (tf, b)]


def test_per_image_neurons_and_channels_are_each_images_own(backends):
    """A batch of per-image targets gives, per image, the gradient of that image's own target."""
    per_image = [Neuron("conv2", [1, 4, 0], [0, 5, 3], [2, 1, 5]), Neuron("hidden", [3, 0, 2]),
                 ChannelMean("conv1", [4, 0, 2])]
    results = []
    for backend, model in same_models(backends, MULTI):
        for target in per_image:
            _, batched = backend.gradients(model, X, target)
            for k in range(len(X)):
                one = {f: (v if np.ndim(v) == 0 else v[k]) for f, v in vars(target).items()}
                _, alone = backend.gradients(model, X[k:k + 1], type(target)(**one))
                np.testing.assert_allclose(batched[k], alone[0], rtol=1e-5, atol=1e-7)
                assert np.abs(alone).max() > 0
            results.append(batched)
    for a, b in zip(results[:3], results[3:]):  # the same numbers in both backends
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_per_image_targets_are_checked(backends):
    for backend, model in same_models(backends, MULTI):
        with pytest.raises(ValueError, match="one per image"):
            backend.gradients(model, X, Neuron("conv2", [0, 1], [0, 0], [0, 0]))
        with pytest.raises(ValueError, match="outside"):
            backend.gradients(model, X, Neuron("conv2", 0, [0, 6, 0], [0, 0, 0]))
        with pytest.raises(ValueError, match="channels"):
            backend.gradients(model, X, ChannelMean("conv1", [0, 5, 0]))


def binary_pair(backends):
    """Both backends' copies of a one-unit head whose bias puts image 0 below 1/2 and image 1 above."""
    models = same_models(backends, BINARY)
    pt, model = models[0]
    logits = pt.logits(model, X)[:, 0]
    order = np.argsort(logits)
    x = X[order[[0, -1]]]  # the least and the most "face" of the three
    weights = pt.get_weights(model)
    weights["out"][1] = weights["out"][1] - np.float32(np.sort(logits)[[0, -1]].mean())
    for backend, m in models:
        backend.set_weights(m, weights)
    return models, x


def test_one_unit_head_class_zero_is_the_negative_logit(backends):
    models, x = binary_pair(backends)
    grads = []
    for backend, model in models:
        _, one = backend.gradients(model, x, ClassScore(1))
        _, zero = backend.gradients(model, x, ClassScore(0))
        _, mixed = backend.gradients(model, x, ClassScore([0, 1]))
        np.testing.assert_allclose(zero, -one, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(mixed, np.stack([zero[0], one[1]]), rtol=1e-6, atol=1e-9)
        assert np.abs(one).max() > 0
        with pytest.raises(ValueError, match="classes"):
            backend.gradients(model, x, ClassScore(2))
        grads.append(zero)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-7)


def test_one_unit_head_predicts_and_explains_both_classes(backends):
    models, x = binary_pair(backends)
    for backend, model in models:
        p = backend.predict(model, x)[:, 0]
        assert p[0] < 0.5 < p[1]
        top = predictions(backend, model, BINARY, x)
        assert [t[0]["name"] for t in top] == ["non-face", "face"]
        assert top[0][0]["probability"] == pytest.approx(1 - p[0]) and top[0][1]["index"] == 1
        result = run_methods(backend, model, x, ["occlusion", "saliency"],
                             {"occlusion": {"window": 4, "stride": 4, "batch": 8}}, steps=4)
        assert result["targets"] == [0, 1]  # image 0 is explained as a non-face
        # occlusion of class 0 measures the drop of 1 - p: the opposite of class 1's drop
        flipped = run_methods(backend, model, x, ["occlusion"], {"occlusion": {"window": 4, "stride": 4, "batch": 8}},
                              targets=[1, 0], steps=4)
        np.testing.assert_allclose(result["explanations"]["occlusion"].maps,
                                   -flipped["explanations"]["occlusion"].maps, rtol=1e-4, atol=1e-6)
        assert np.abs(result["explanations"]["occlusion"].maps).max() > 0
        # and an explainer called directly (not through run_methods) sees the same two classes
        direct = Occlusion().explain(backend, model, x, window=4, stride=4, batch=8)
        assert direct.targets == [0, 1]
        np.testing.assert_allclose(direct.maps, result["explanations"]["occlusion"].maps, rtol=1e-5, atol=1e-7)


def test_a_trained_models_standardisation_reaches_its_inputs(backends, tmp_path, monkeypatch, capsys):
    """A model's standardiser (workbench.model_facts, set by the training run) is applied by model_inputs, the
    CLI and so by the page; the images shown stay in [0, 1]."""
    pt, _ = backends
    model = pt.build(MULTI, seed=1)
    photos = [samples.load("chelsea"), samples.load("coffee")]
    plain, shown = model_inputs(MULTI, pt.name, photos, model)
    rng = np.random.default_rng(0)
    attach(model, standardizer=Standardizer(rng.random((12, 12, 3)).astype(np.float32),
                                            rng.uniform(0.1, 0.3, (12, 12, 3)).astype(np.float32)))
    x, shown_std = model_inputs(MULTI, pt.name, photos, model)
    np.testing.assert_array_equal(shown_std, shown)
    np.testing.assert_allclose(x, standardizer_of(model)(shown), rtol=1e-6)
    assert not np.allclose(x, plain) and 0 <= shown.min() and shown.max() <= 1

    from workbench.cli import main
    from workbench.explain import inputs

    monkeypatch.setattr(inputs, "load_model", lambda backend, name: (model, MULTI))
    assert main(["explain", "sample:chelsea", "sample:coffee", "--model", "x", "--methods", "saliency",
                 "--steps", "2", "--out", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = pt.predict(model, x)
    assert [p[0]["probability"] for p in report["predictions"]] == pytest.approx(expected.max(axis=1), rel=1e-5)

"""Our explainers, written once over the Backend protocol, against the field's libraries on the
same torch model: captum (Saliency, GuidedBackprop, LayerGradCam + bilinear, Occlusion),
pytorch-grad-cam (GradCAM) and lime's own default path. The torch model is built through the
backend; captum gets its nn.Module, which takes NCHW where the workbench speaks NHWC."""

import os

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = require("torch")
captum_attr = require("captum.attr")

from PIL import Image  # noqa: E402

from workbench_plugins.torch_backend.inference import logits_mode  # noqa: E402
from workbench import samples  # noqa: E402
from workbench import spec as S  # noqa: E402
from workbench.explain import GradCAM, GuidedBackprop, Lime, Occlusion, Saliency  # noqa: E402
from workbench.explain.lime_method import superpixels  # noqa: E402
from workbench.registry import get_registry  # noqa: E402
from workbench.model_facts import layers_of  # noqa: E402

TINY = {"name": "explain-tiny", "input_shape": [32, 32, 3], "num_classes": 5, "layers": [
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "conv1"},
    {"type": "MaxPooling2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 12, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "conv2"},
    {"type": "BatchNormalization"},
    {"type": "GlobalAveragePooling2D"},
    {"type": "Dense", "activation": "softmax", "name": "out"},
]}


@pytest.fixture(scope="module")
def torch_setup():
    backend = get_registry().backends()["pytorch"]
    arch = S.parse_architecture(TINY)
    model = backend.build(arch, seed=3)
    rng = np.random.default_rng(0)
    x = rng.random((3, 32, 32, 3), dtype=np.float32)
    targets = [0, 3, 4]
    return backend, model, x, targets


def nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def test_saliency_equals_captum(torch_setup):
    backend, model, x, targets = torch_setup
    ours = Saliency().explain(backend, model, x, targets).maps
    with logits_mode(model):  # captum differentiates the same pre-softmax scores
        theirs = captum_attr.Saliency(model).attribute(nchw(x), target=targets, abs=True)
    theirs = theirs.detach().numpy().max(axis=1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert ours.max() > 0


def test_guided_backprop_equals_captum(torch_setup):
    backend, model, x, targets = torch_setup
    ours = GuidedBackprop().explain(backend, model, x, targets).images
    with logits_mode(model):
        theirs = captum_attr.GuidedBackprop(model).attribute(nchw(x), target=targets)
    theirs = theirs.detach().numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    plain = Saliency().explain(backend, model, x, targets)
    assert not np.allclose(np.abs(ours).max(axis=-1), plain.maps)  # guided is not the plain gradient


def test_grad_cam_equals_captum_bilinear(torch_setup):
    backend, model, x, targets = torch_setup
    ours = GradCAM().explain(backend, model, x, targets, layer="conv2")
    with logits_mode(model):
        cam = captum_attr.LayerGradCam(model, layers_of(model)["conv2"])
        low = cam.attribute(nchw(x), target=targets, relu_attributions=True)
    up = captum_attr.LayerAttribution.interpolate(low, (32, 32), interpolate_mode="bilinear")
    np.testing.assert_allclose(ours.steps["cam"], low.detach().numpy()[:, 0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.maps, up.detach().numpy()[:, 0], rtol=1e-4, atol=1e-6)
    assert ours.maps.max() > 0


def test_grad_cam_equals_pytorch_grad_cam(torch_setup):
    from pytorch_grad_cam import GradCAM as PGC
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    backend, model, x, targets = torch_setup
    ours = GradCAM().explain(backend, model, x, targets, layer="conv1").maps
    with logits_mode(model), PGC(model=model, target_layers=[layers_of(model)["conv1"]]) as cam:
        theirs = cam(input_tensor=nchw(x), targets=[ClassifierOutputTarget(t) for t in targets])
    for a, b in zip(ours, theirs):  # pytorch-grad-cam scales each map to [0, 1]
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999


def test_occlusion_equals_captum(torch_setup):
    backend, model, x, targets = torch_setup
    ours = Occlusion().explain(backend, model, x, targets, window=8, stride=4, fill=0.0, batch=7)
    theirs = captum_attr.Occlusion(model).attribute(  # the model's own softmax: probabilities
        nchw(x), target=targets, sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4), baselines=0.0)
    np.testing.assert_allclose(ours.maps, theirs.numpy()[:, 0], rtol=1e-4, atol=1e-6)
    assert ours.cost.forward_passes == 3 + 3 * 49  # the originals, then 7 x 7 windows per image


def test_occlusion_equals_a_hand_computation():
    """Occlusion has no randomness to seed; instead its map is checked against numpy on a model
    small enough to write out: mean of a 4x4 grey image -> two logits -> softmax."""
    backend = get_registry().backends()["pytorch"]
    arch = S.parse_architecture({"name": "occlusion-by-hand", "input_shape": [4, 4, 1], "num_classes": 2, "layers": [
        {"type": "GlobalAveragePooling2D", "name": "pool"}, {"type": "Dense", "activation": "softmax", "name": "out"}]})
    model = backend.build(arch)
    w, b = np.array([[3.0, -2.0]], np.float32), np.array([0.1, -0.2], np.float32)
    backend.set_weights(model, {"out": [w, b]})
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1) / 16

    def p1(x):  # probability of class 1, by hand
        z = x.mean() * w[0] + b
        return np.exp(z[1]) / np.exp(z).sum()

    total, count = np.zeros((4, 4)), np.zeros((4, 4))
    for r in range(3):  # 2x2 windows, stride 1: corners 0, 1, 2 each way
        for c in range(3):
            covered = image[0, :, :, 0].copy()
            covered[r:r + 2, c:c + 2] = 0.5
            total[r:r + 2, c:c + 2] += p1(image) - p1(covered)
            count[r:r + 2, c:c + 2] += 1
    ours = Occlusion().explain(backend, model, image, [1], window=2, stride=1, fill=0.5, batch=4)
    np.testing.assert_allclose(ours.maps[0], total / count, rtol=1e-5, atol=1e-7)
    assert ours.cost.forward_passes == 1 + 9
    assert np.ptp(ours.maps[0]) > 0  # bright pixels covered with grey lower the mean more


def test_lime_is_deterministic_for_a_seed_with_the_default_quickshift(torch_setup):
    """Same seed, identical maps; another seed, other samples and other maps. Quickshift (LIME's
    default segmentation) is seeded by us: scikit-image 0.26 ignores the seed lime passes it."""
    backend = torch_setup[0]
    model = backend.build(S.parse_architecture(TINY).with_input((64, 64, 3)), seed=3)  # quickshift wants room
    photo = np.asarray(Image.fromarray(samples.load("chelsea")).resize((64, 64)), np.float32)[None] / 255
    runs = [Lime().explain(backend, model, photo, [2], samples=80, seed=s) for s in (5, 5, 6)]
    assert runs[0].params["algorithm"] == "quickshift"
    assert runs[0].steps["superpixels"][0].max() >= 3  # several superpixels, so the samples matter
    np.testing.assert_array_equal(runs[0].maps, runs[1].maps)
    np.testing.assert_array_equal(runs[0].steps["superpixels"][0], runs[2].steps["superpixels"][0])
    assert not np.array_equal(runs[0].maps, runs[2].maps)


def test_lime_equals_lime_default_path(torch_setup):
    """Our batched perturbation feeds lime's own fit the same samples as its default loop does."""
    from lime.lime_image import LimeImageExplainer

    backend, model, x, targets = torch_setup
    ours = Lime().explain(backend, model, x[:1], targets[:1], samples=150, seed=11, algorithm="slic", segments=10)
    segments = superpixels(x[0], "slic", 10)
    reference = LimeImageExplainer(random_state=11).explain_instance(
        x[0].astype(np.float64), lambda imgs: backend.predict(model, imgs.astype(np.float32)),
        labels=(targets[0],), top_labels=None, num_samples=150, segmentation_fn=lambda _: segments,
        random_seed=11)
    expected = np.zeros(segments.max() + 1)
    for feature, weight in reference.local_exp[targets[0]]:
        expected[feature] = weight
    np.testing.assert_array_equal(ours.steps["superpixels"][0], segments)
    np.testing.assert_allclose(ours.steps["coefficients"][0], expected, rtol=1e-4, atol=1e-6)
    assert ours.cost.forward_passes == 150  # targets given: only the samples go forward

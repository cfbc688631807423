"""Oracles for the explainers the mutation audit found unguarded (issue 17): Grad-CAM++ against
pytorch-grad-cam, Integrated Gradients against captum and the completeness axiom, SmoothGrad
against captum's NoiseTunnel fed the same noise, Guided Grad-CAM against captum's GuidedGradCam.
Same tiny torch model as tests/test_explain_oracles.py; captum gets its nn.Module (NCHW)."""

import numpy as np
import pytest

from conftest import require

torch = require("torch")
captum_attr = require("captum.attr")
require("pytorch_grad_cam")

from workbench import lookup  # noqa: E402
from workbench import spec as S  # noqa: E402
from workbench.model_facts import layers_of  # noqa: E402
from workbench.explain import GradCAMPlusPlus, GuidedGradCAM, IntegratedGradients, SmoothGrad  # noqa: E402

TINY = {"name": "explain-tiny", "input_shape": [32, 32, 3], "num_classes": 5, "layers": [
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "conv1"},
    {"type": "MaxPooling2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 12, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "conv2"},
    {"type": "GlobalAveragePooling2D"},
    {"type": "Dense", "activation": "softmax", "name": "out"},
]}


@pytest.fixture(scope="module")
def setup():
    backend = lookup.backend("pytorch")
    model = backend.build(S.parse_architecture(TINY), seed=3)
    x = np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)
    return backend, model, x, [0, 3, 4]


def nchw(x):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x).transpose(0, 3, 1, 2)))


def logits_model(model):
    """The model's pre-softmax scores (what the workbench's ClassScore differentiates), as a module
    captum can hook: the workbench model with its final softmax switched off around each call."""
    from workbench_plugins.torch_backend.inference import logits_mode

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x):
            with logits_mode(model):
                return model(x)
    return Logits().eval()


def test_grad_cam_plus_plus_equals_pytorch_grad_cam(setup):
    """pytorch-grad-cam's GradCAMPlusPlus adds eps = 1e-6 to alpha's denominator, 2 g^2 + sum(A) g^3,
    and zeroes alpha where g = 0; ours has no eps. Reproduced by scaling the logits up 1000-fold
    (every gradient scales with them, so alpha's g^2 / g^3 terms are 1e6 times eps and more) and
    comparing each channel weight divided by that scale."""
    from pytorch_grad_cam import GradCAMPlusPlus as PGCPP
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    backend, model, x, targets = setup
    scale = 1000.0
    scaled = backend.build(S.parse_architecture(TINY), seed=3)
    weights = backend.get_weights(model)
    backend.set_weights(scaled, {**weights, "out": [w * scale for w in weights["out"]]})

    captured = []

    class Capture(PGCPP):
        def get_cam_weights(self, *args):
            captured.append(super().get_cam_weights(*args))
            return captured[-1]

    ours = GradCAMPlusPlus().explain(backend, scaled, x, targets, layer="conv2")
    with Capture(model=logits_model(scaled), target_layers=[layers_of(scaled)["conv2"]]) as cam:
        theirs = cam(input_tensor=nchw(x), targets=[ClassifierOutputTarget(t) for t in targets])
    (their_weights,) = captured
    np.testing.assert_allclose(ours.steps["channel_weights"], their_weights, rtol=1e-4, atol=1e-6 * scale)
    assert np.abs(their_weights).max() > 1e-3 * scale  # weights of a real size, not all zero
    for a, b in zip(ours.maps, theirs):  # pytorch-grad-cam scales each map to [0, 1] (and resizes with cv2)
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
    # Grad-CAM++ is not Grad-CAM: its weights are not the mean gradient
    from workbench.explain import GradCAM
    plain = GradCAM().explain(backend, scaled, x, targets, layer="conv2").steps["channel_weights"]
    assert not np.allclose(plain / np.abs(plain).max(), ours.steps["channel_weights"] / np.abs(ours.steps["channel_weights"]).max(), atol=0.05)


def test_integrated_gradients_equals_captum_and_adds_up(setup):
    backend, model, x, targets = setup
    ours = IntegratedGradients().explain(backend, model, x, targets, steps=64, baseline=0.0, batch=20)
    theirs = captum_attr.IntegratedGradients(logits_model(model)).attribute(
        nchw(x), baselines=0.0, target=targets, n_steps=64, method="riemann_middle")
    theirs = theirs.detach().numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ours.images, theirs, rtol=1e-4, atol=1e-6 * np.abs(theirs).max())
    # completeness: the attributions add up to score(image) - score(baseline), up to the Riemann sum's error
    with torch.no_grad():
        scores = logits_model(model)(nchw(x)).numpy()
        base = logits_model(model)(nchw(np.zeros_like(x))).numpy()
    gap = scores[np.arange(3), targets] - base[np.arange(3), targets]
    np.testing.assert_allclose(ours.steps["attribution_sum"], gap, rtol=0.02, atol=1e-4)
    assert np.abs(gap).min() > 1e-2  # a real difference to add up to
    np.testing.assert_allclose(ours.maps, np.abs(ours.images).sum(axis=-1), rtol=1e-6)


def test_smoothgrad_equals_captum_noise_tunnel_with_the_same_noise(setup, monkeypatch):
    """NoiseTunnel draws its noise with torch.normal; it is handed the noise our SmoothGrad draws for
    the same seed (numpy's default_rng, one draw per image in turn), so both average the same copies.
    NoiseTunnel averages whatever attribution it wraps: here |gradient| maximised over the channels."""
    backend, model, x, targets = setup
    samples, noise, seed = 6, 0.2, 7
    ours = SmoothGrad().explain(backend, model, x, targets, samples=samples, noise=noise, seed=seed, batch=4)

    rng = np.random.default_rng(seed)
    draws = np.concatenate([rng.normal(0, noise * float(im.max() - im.min()), (samples, *im.shape)).astype(np.float32)
                            for im in x])
    monkeypatch.setattr(torch, "normal", lambda mean, std: nchw(draws).to(std.dtype))

    class MaxAbsSaliency(captum_attr.Saliency):
        def attribute(self, inputs, **kwargs):
            grads = super().attribute(inputs, abs=True, **kwargs)
            return grads.amax(dim=1, keepdim=True).expand_as(inputs)
        attribute.__wrapped__ = attribute  # NoiseTunnel calls the undecorated method (captum's log_usage)

    tunnel = captum_attr.NoiseTunnel(MaxAbsSaliency(logits_model(model)))
    theirs = tunnel.attribute(nchw(x), nt_type="smoothgrad", nt_samples=samples, stdevs=1.0, target=targets)
    np.testing.assert_allclose(ours.maps, theirs.detach().numpy()[:, 0], rtol=1e-4, atol=1e-7)
    assert ours.maps.max() > 0


def test_guided_grad_cam_equals_captum(setup):
    backend, model, x, targets = setup
    ours = GuidedGradCAM().explain(backend, model, x, targets, layer="conv2")
    net = logits_model(model)
    theirs = captum_attr.GuidedGradCam(net, layers_of(model)["conv2"]).attribute(
        nchw(x), target=targets, interpolate_mode="bilinear")
    theirs = theirs.detach().numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ours.images, theirs, rtol=1e-4, atol=1e-6 * np.abs(theirs).max())
    np.testing.assert_allclose(ours.maps, np.abs(theirs).max(axis=-1), rtol=1e-4, atol=1e-6 * np.abs(theirs).max())
    assert np.abs(theirs).max() > 0


def top_jaccard(runs, top):
    """Mean Jaccard index |A & B| / |A | B| of the top superpixels over every pair of runs, by hand."""
    tops = [set(np.argsort(-r.steps["coefficients"][0])[:top].tolist()) for r in runs]
    pairs = [(a, b) for i, a in enumerate(tops) for b in tops[i + 1:]]
    return float(np.mean([len(a & b) / len(a | b) for a, b in pairs]))


def test_lime_stability_jaccard_and_spearman_by_hand(setup):
    """Issue 17, mutation 6: a Jaccard computed so it is always 1. Few samples make the seeds disagree."""
    from scipy.stats import spearmanr

    from workbench.explain.sanity import lime_stability

    from PIL import Image

    from workbench import samples

    backend, model, _, targets = setup  # a photo: slic cuts random noise into one segment
    photo = np.asarray(Image.fromarray(samples.load("chelsea")).resize((32, 32)), np.float32) / 255
    result = lime_stability(backend, model, photo, targets[0], seeds=(0, 1, 2), top=5, samples=30,
                            algorithm="slic", segments=30)
    runs = result["runs"]
    assert result["seeds"] == [0, 1, 2] and len(runs) == 3
    assert runs[0].steps["superpixels"][0].max() >= 10
    expected = top_jaccard(runs, 5)
    assert result["top_jaccard"] == pytest.approx(expected)
    assert expected < 1  # the seeds picked different top superpixels: a real value, not the range's end
    rho = np.mean([spearmanr(runs[i].steps["coefficients"][0], runs[j].steps["coefficients"][0]).statistic
                   for i, j in ((0, 1), (0, 2), (1, 2))])
    assert result["coefficient_spearman"] == pytest.approx(rho)
    same = lime_stability(backend, model, photo, targets[0], seeds=(4, 4), top=5, samples=30,
                          algorithm="slic", segments=30)
    assert same["top_jaccard"] == 1.0 and same["coefficient_spearman"] == pytest.approx(1.0)

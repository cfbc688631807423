"""TensorFlow and PyTorch explain the pretrained EfficientNet-Lite0 alike: the Keras model gets the
PyTorch package's weights through the workbench's converter, both load offline, and the same
explainer code gives the same maps in both.

"Alike" allows for one thing float rounding does on real photos: a ReLU6 input within 1e-6 of 0
or 6 (measured: one of 200,000 in block_1_bn on chelsea) lands on a different side in each
framework, and the pixels that reach the logits through that one neuron differ by up to 1% of the
map's maximum. So: all but 0.5% of the pixels within 1e-3 of the maximum, and the whole map within
1e-2 in L2. Gradient ascent compounds such flips step by step: after three steps its climbed
inputs agree to 5% in L2 (measured 0.6-2.6%), its activation gains to 1e-3.

The whole module takes 10-25 s on the 2-core CPU (both models load in about 7 s), so it is in the
default run.
"""

import os

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")
require("tensorflow")

from workbench import samples  # noqa: E402
from workbench.explain.inputs import model_inputs  # noqa: E402
from workbench.registry import get_registry  # noqa: E402

NEURON = {"neuron_layer": "block_5_expand_relu", "neuron_channel": 4}


@pytest.fixture(scope="module")
def both():
    registry = get_registry()
    arch = registry.architectures()["efficientnet-lite0"]
    photos = [samples.load(n) for n in ("chelsea", "coffee")]
    out = {}
    for name in ("pytorch", "tensorflow"):
        backend = registry.backends()[name]
        out[name] = (backend, backend.build(arch), model_inputs(arch, name, photos)[0])
    return out


def explain_both(both, method, images=slice(None), targets=None, **params):
    explainer = get_registry().explainers()[method]
    return [explainer.explain(b, m, x[images], None if targets is None else targets[images], **params)
            for b, m, x in both.values()]


def assert_alike(a, b):
    """a and b equal but for the few pixels behind a flipped ReLU6 (see the module's docstring)."""
    scale = np.abs(a).max()
    assert scale > 0
    off = np.abs(a - b) > 1e-3 * scale
    assert off.mean() < 5e-3, f"{off.sum()} of {off.size} values differ by more than 1e-3 of the maximum"
    assert np.linalg.norm(a - b) < 1e-2 * np.linalg.norm(a)


def test_grad_cam_and_saliency_are_the_same_in_both_backends(both):
    """The quickest check: one photo, one backward pass per method and backend."""
    for method in ("grad-cam", "saliency"):
        a, b = explain_both(both, method, slice(1), [282])
        assert_alike(a.maps, b.maps)


@pytest.mark.parametrize("method, params", [("saliency", {}), ("guided-backprop", {}), ("grad-cam", {}),
                                            ("guided-backprop", NEURON)], ids=["saliency", "guided", "cam", "neuron"])
def test_gradient_maps_are_the_same_in_both_backends(both, method, params):
    a, b = explain_both(both, method, targets=[282, 967], **params)
    assert_alike(a.maps, b.maps)
    if params:  # the same neuron found in each image
        assert a.steps["neurons"] == b.steps["neurons"]


def test_max_patches_are_the_same_in_both_backends(both):
    a, b = explain_both(both, "max-patches")
    assert [p["channel"] for p in a.steps["patches"]] == [p["channel"] for p in b.steps["patches"]]
    for p, q in zip(a.steps["patches"], b.steps["patches"]):
        assert (p["image"], p["neuron"], p["window"]) == (q["image"], q["neuron"], q["window"])
        assert abs(p["score"] - q["score"]) < 1e-3 * abs(p["score"])
    (grid_a,), (grid_b,) = a.grids.values(), b.grids.values()
    assert np.abs(grid_a.astype(int) - grid_b.astype(int)).max() <= 1  # uint8 rounding


def test_filter_patterns_agree_in_both_backends(both):
    from workbench.explain.patterns import grey_noise

    one = explain_both(both, "filter-patterns", channels=2, steps=1)
    start = grey_noise(both["pytorch"][2], 0)[0][0]
    assert_alike(one[0].steps["inputs"] - start, one[1].steps["inputs"] - start)  # the first step: one gradient
    a, b = explain_both(both, "filter-patterns", channels=2, steps=3)
    assert a.steps["channels"] == b.steps["channels"]
    np.testing.assert_allclose(a.steps["activation_gain"], b.steps["activation_gain"], rtol=1e-3)
    for u, v in zip(a.steps["inputs"] - start, b.steps["inputs"] - start):  # what the climb changed
        assert np.linalg.norm(u - v) / np.linalg.norm(u) < 5e-2

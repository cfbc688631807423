"""The same explanation code gives the same maps in TensorFlow and PyTorch for the same weights
(copied with get_weights / set_weights), and the sanity check leaves the explained model alone."""

import os

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")
require("tensorflow")

from workbench import spec as S  # noqa: E402
from workbench.explain.sanity import cascading_randomisation  # noqa: E402
from workbench.registry import get_registry  # noqa: E402

TINY = {"name": "explain-tiny-both", "input_shape": [24, 24, 3], "num_classes": 4, "layers": [
    {"type": "Conv2D", "filters": 6, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "conv1"},
    {"type": "MaxPooling2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu", "name": "conv2"},
    {"type": "BatchNormalization"},
    {"type": "GlobalAveragePooling2D"},
    {"type": "Dense", "activation": "softmax", "name": "out"},
]}

# method -> parameters kept small; every one of these returns (N, H, W) maps
METHODS = {
    "saliency": {}, "guided-backprop": {}, "grad-cam": {"layer": "conv2"}, "grad-cam-plus-plus": {"layer": "conv2"},
    "guided-grad-cam": {"layer": "conv2"}, "occlusion": {"window": 6, "stride": 6},
    "lime": {"samples": 60, "algorithm": "slic", "segments": 8, "seed": 2},
    "integrated-gradients": {"steps": 8}, "smoothgrad": {"samples": 3, "seed": 1},
}


@pytest.fixture(scope="module")
def pair():
    registry = get_registry()
    torch_b, tf_b = registry.backends()["pytorch"], registry.backends()["tensorflow"]
    arch = S.parse_architecture(TINY)
    torch_m, tf_m = torch_b.build(arch, seed=1), tf_b.build(arch, seed=2)
    tf_b.set_weights(tf_m, torch_b.get_weights(torch_m))
    x = np.random.default_rng(4).random((2, 24, 24, 3), dtype=np.float32)
    return torch_b, torch_m, tf_b, tf_m, x


@pytest.mark.parametrize("method", list(METHODS))
def test_same_maps_in_both_backends(pair, method):
    torch_b, torch_m, tf_b, tf_m, x = pair
    explainer = get_registry().explainers()[method]
    targets = [1, 3]
    a = explainer.explain(torch_b, torch_m, x, targets, **METHODS[method]).maps
    b = explainer.explain(tf_b, tf_m, x, targets, **METHODS[method]).maps
    assert a.shape == b.shape == (2, 24, 24)
    scale = max(np.abs(a).max(), 1e-12)
    assert np.abs(a - b).max() <= 1e-3 * scale, f"{method}: max difference {np.abs(a - b).max()} of {scale}"
    assert np.abs(a).max() > 0


def test_feature_maps_and_filters_in_both_backends(pair):
    torch_b, torch_m, tf_b, tf_m, x = pair
    explainers = get_registry().explainers()
    for name, params in (("feature-maps", {"layers": "conv1"}), ("filters", {})):
        a = explainers[name].explain(torch_b, torch_m, x, **params).grids
        b = explainers[name].explain(tf_b, tf_m, x, **params).grids
        assert list(a) == list(b)
        for key in a:  # uint8 pictures: allow one grey level of rounding
            assert np.abs(a[key].astype(int) - b[key].astype(int)).max() <= 1


def test_randomisation_sanity_check_changes_the_map_not_the_model(pair):
    torch_b, torch_m, _, _, x = pair
    before = torch_b.get_weights(torch_m)
    explainer = get_registry().explainers()["grad-cam"]
    strip = cascading_randomisation(torch_b, torch_m, explainer, x, [1, 3], stages=3, layer="conv2")
    assert strip[0]["spearman"] == 1.0 and len(strip) == 4
    assert strip[-1]["randomised"] == len([k for k, v in before.items() if v])
    assert strip[-1]["spearman"] < 0.9  # every layer randomised: the map must change
    after = torch_b.get_weights(torch_m)
    for name in before:
        for u, v in zip(before[name], after[name]):
            np.testing.assert_array_equal(u, v)

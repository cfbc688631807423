"""What the activation methods and guided backprop's neuron mode show, on the pretrained
EfficientNet-Lite0 (a native model: windows from gradients) and on small spec models (windows
from the core's receptive-field maths):

- max-patches: each patch is the window that neuron sees, smaller than the image and around the
  neuron's centre, for the channel it was found in; channels ranked without ties at ReLU6's 6.0;
- guided backprop of one neuron: each image its own strongest neuron, masks where the gradient is;
- filter patterns: a mid-depth layer by default, channels that do not respond are skipped;
- feature maps: a picture per chosen layer, in the PNG and for the page.
"""

import os

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")

from workbench import samples, shapes  # noqa: E402
from workbench import spec as S  # noqa: E402
from workbench.explain import FeatureMaps, FilterPatterns, GuidedBackprop, MaxPatches  # noqa: E402
from workbench.explain.inputs import model_inputs  # noqa: E402
from workbench.explain.layers import middle_layer  # noqa: E402
from workbench.explain.render import grid_png, pictures  # noqa: E402
from workbench.registry import get_registry  # noqa: E402

SPEC = S.parse_architecture({"name": "methods-spec", "input_shape": [32, 32, 3], "num_classes": 3, "layers": [
    {"type": "Conv2D", "filters": 6, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "conv1"},
    {"type": "MaxPooling2D", "pool_size": 2, "name": "pool1"},
    {"type": "Conv2D", "filters": 8, "kernel_size": 5, "strides": 2, "padding": "same", "activation": "relu", "name": "conv2"},
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "valid", "activation": "relu", "name": "conv3"},
    {"type": "GlobalAveragePooling2D"},
    {"type": "Dense", "activation": "softmax", "name": "out"},
]})
PHOTOS = ["chelsea", "coffee"]


@pytest.fixture(scope="module")
def torch_backend():
    return get_registry().backends()["pytorch"]


@pytest.fixture(scope="module")
def pretrained(torch_backend):
    arch = get_registry().architectures()["efficientnet-lite0"]
    x, _ = model_inputs(arch, torch_backend.name, [samples.load(n) for n in PHOTOS])
    return torch_backend.build(arch), x


@pytest.fixture(scope="module")
def spec_model(torch_backend):
    x, _ = model_inputs(SPEC, torch_backend.name, [samples.load(n) for n in PHOTOS])
    return torch_backend.build(SPEC, seed=2), x


def test_max_patches_on_a_native_model_are_the_neurons_own_windows(torch_backend, pretrained):
    model, x = pretrained
    e = MaxPatches().explain(torch_backend, model, x, channels=4, top=3)
    assert e.steps["layer"] == "block_5_expand_relu" and e.steps["ranked_at"] == "block_5_expand_bn"
    assert not e.steps["untraced"]
    side = x.shape[1] / 28  # input pixels per position of the 28x28 layer
    for patch in e.steps["patches"]:
        top, left, bottom, right = patch["window"]
        assert (bottom - top) * (right - left) < x.shape[1] * x.shape[2] / 4  # a part of the image
        cy, cx = (patch["neuron"][0] + 0.5) * side, (patch["neuron"][1] + 0.5) * side
        assert top <= cy < bottom and left <= cx < right, patch
    # ranked before the ReLU6: no ties at its ceiling of 6.0, the strongest first in each channel
    scores = [p["score"] for p in e.steps["patches"]]
    assert len(set(scores)) == len(scores)
    for k in range(0, len(scores), 3):
        assert scores[k] >= scores[k + 1] >= scores[k + 2]


def test_max_patches_traces_every_channel_at_the_border(torch_backend, pretrained):
    """The audit's case: channel 4 at neuron (27, 0) of block_5_expand_relu came back as the whole
    image (the gradient of a clipped channel 0 was zero). Before the ReLU6 every channel traces."""
    from workbench.explain.patches import gradient_windows

    model, x = pretrained
    i, j = 27, 0
    windows = gradient_windows(torch_backend, model, x, "block_5_expand_bn", [(0, i, j, c) for c in range(8)])
    assert all(w is not None for w in windows)
    for top, left, bottom, right in windows:
        assert top <= (i + 0.5) * 8 < bottom and left <= (j + 0.5) * 8 < right
        assert bottom - top < 100 and right - left < 100  # EfficientNet's field there is 67 pixels


def test_max_patches_on_a_spec_model_use_the_receptive_field_maths(torch_backend, spec_model):
    model, x = spec_model
    e = MaxPatches().explain(torch_backend, model, x, layer="conv3", channels=3, top=2)
    field = {r.name: r for r in shapes.compute(SPEC).rows}["conv3"].receptive_field
    assert len(e.steps["patches"]) == 6
    for patch in e.steps["patches"]:
        assert patch["window"] == field.window(*patch["neuron"], (32, 32))
    assert e.cost.backward_passes == 0  # no gradient needed: the spec says where each neuron looks


def test_guided_backprop_of_a_neuron_picks_each_images_own(torch_backend, pretrained):
    model, x = pretrained
    params = {"neuron_layer": "block_5_expand_relu", "neuron_channel": 4}
    both = GuidedBackprop().explain(torch_backend, model, x, **params)
    alone = [GuidedBackprop().explain(torch_backend, model, x[k:k + 1], **params) for k in range(2)]
    assert both.steps["neurons"][0] != both.steps["neurons"][1]  # two photos, two places
    for k in range(2):
        assert both.steps["neurons"][k] == alone[k].steps["neurons"][0]
        np.testing.assert_allclose(both.images[k], alone[k].images[0], rtol=1e-4, atol=1e-7)
        assert np.abs(both.maps[k]).max() > 0


def test_guided_backprop_masks_in_neuron_mode_are_where_the_gradient_is(torch_backend, pretrained):
    model, x = pretrained
    e = GuidedBackprop().explain(torch_backend, model, x, neuron_layer="block_5_expand_relu", neuron_channel=4,
                                 show_masks=True)
    names = [r.name for r in torch_backend.summary(model)]
    assert names.index(e.steps["mask_layer"]) < names.index("block_5_expand_relu")
    for k in range(2):
        backward = e.steps["backward_mask"][k]
        assert np.count_nonzero(backward) > 1 and np.count_nonzero(e.steps["passes"][k]) > 1
        i, j = e.steps["neurons"][k]  # the 28x28 neuron's own place, on the mask layer's grid
        scale = backward.shape[0] / 28
        rows, cols = np.nonzero(backward)
        assert rows.min() <= (i + 0.5) * scale <= rows.max() + 1 and cols.min() <= (j + 0.5) * scale <= cols.max() + 1


def test_filter_patterns_default_to_a_middle_layer_and_grow(torch_backend, pretrained):
    model, x = pretrained
    e = FilterPatterns().explain(torch_backend, model, x, channels=3, steps=3)
    assert e.steps["layer"] == middle_layer(torch_backend, model, 224) == "block_5_expand_relu"
    assert e.steps["climbed"] == "block_5_expand_bn"
    assert len(e.steps["channels"]) == 3 and min(e.steps["activation_gain"]) > 0


def test_filter_patterns_skip_dead_channels(torch_backend, spec_model):
    model, x = spec_model
    weights = torch_backend.get_weights(model)
    weights["conv2"][1] = weights["conv2"][1].copy()
    weights["conv2"][1][[0, 2]] = -1e4  # channels 0 and 2 never fire: ReLU at 0, zero gradient
    clone = torch_backend.build(SPEC, seed=2)
    torch_backend.set_weights(clone, weights)
    e = FilterPatterns().explain(torch_backend, clone, x, layer="conv2", channels=3, steps=4)
    assert e.steps["channels"] == [1, 3, 4] and e.steps["skipped"] == [0, 2]
    assert min(e.steps["activation_gain"]) > 0
    assert e.steps["patterns"].shape[0] == 3


def test_feature_maps_show_every_chosen_layer(torch_backend, spec_model, tmp_path):
    from PIL import Image

    model, x = spec_model
    e = FeatureMaps().explain(torch_backend, model, x, layers="conv1,conv2,conv3")
    for k in range(2):
        shown = pictures(e, k, x[k])
        assert [label for label, _ in shown] == ["conv1", "conv2", "conv3"]
        assert shown[0][1].shape != shown[2][1].shape  # each layer's own grid
    rows = grid_png(x, [e], tmp_path / "grid.png", cell=100)
    assert rows == [("image", ""), ("feature-maps", "conv1"), ("feature-maps", "conv2"), ("feature-maps", "conv3")]
    with Image.open(tmp_path / "grid.png") as png:
        assert png.size[0] == 130 + 100 * len(x) and png.size[1] >= 18 + 100 + 3 * 40  # image row, 3 layer rows

"""The explainers' plumbing and small maths on a tiny torch model, against hand numbers and numpy:
targets, cost counting, resizing, defaults, the steps the page reads, feature maps and filters,
the randomisation strip and LIME's stability. Fast, so `bin/mutate explain` can run them for
every mutant (the field's libraries as oracles: tests/test_explain_oracles.py)."""

import numpy as np
import pytest
from conftest import require
from PIL import Image
from scipy.stats import spearmanr

torch = require("torch")
captum_attr = require("captum.attr")

from skimage import segmentation

from workbench import model_facts, samples
from workbench import spec as S
from workbench.backend import ChannelMean, ClassScore, Neuron
from workbench.data import Standardizer
from workbench.explain import (
    FeatureMaps,
    FilterPatterns,
    GradCAM,
    GradCAMPlusPlus,
    GuidedBackprop,
    GuidedGradCAM,
    IntegratedGradients,
    Lime,
    MaxPatches,
    Occlusion,
    Saliency,
    SmoothGrad,
    activations,
    base,
    batching,
    gradients,
    inputs,
    layers,
    patches,
    patterns,
    sanity,
)
from workbench.explain.activations import Filters
from workbench.explain.cam import class_matrix
from workbench.explain.heads import TwoClassHead, two_class_view
from workbench.explain.lime_method import superpixels
from workbench.explain.occlusion import windows
from workbench.registry import get_registry

TINY = S.parse_architecture({"name": "units-tiny", "input_shape": [8, 8, 3], "num_classes": 3, "layers": [
    {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "conv1"},
    {"type": "MaxPooling2D", "pool_size": 2, "name": "pool"},
    {"type": "Conv2D", "filters": 5, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "conv2"},
    {"type": "GlobalAveragePooling2D", "name": "gap"},
    {"type": "Dense", "activation": "softmax", "name": "out"}]}, class_names=("a", "b", "c"))


@pytest.fixture(scope="module")
def setup():
    backend = get_registry().backends()["pytorch"]
    model = backend.build(TINY, seed=1)
    x = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)
    return backend, model, x


def test_params_check_their_values_by_kind_and_bounds():
    p = base.Param("n", 4, 1, 10)
    assert p.check(3.0) == 3 and type(p.check(3.0)) is int and p.check(1) == 1 and p.check(10) == 10
    for bad, message in ((0, "n must be at least 1, not 0"), (11, "n must be at most 10, not 11"),
                         (2.5, "n must be a whole number, not 2.5"), (True, "whole number"),
                         (float("nan"), "whole number"), ("3", "whole number"), (None, "needs a value")):
        with pytest.raises(ValueError, match=message):
            p.check(bad)
    f = base.Param("noise", 0.1, 0.0, 1.0)
    assert f.check(1) == 1.0 and type(f.check(1)) is float
    with pytest.raises(ValueError, match="noise must be a number"):
        f.check(float("inf"))
    assert base.Param("flag", False).check(True) is True
    with pytest.raises(ValueError, match="flag must be true or false, not 1"):
        base.Param("flag", False).check(1)
    assert base.Param("layer", None).check("conv1") == "conv1" and base.Param("layer", None).check(None) is None
    assert base.Param("window", None, 1, 512).check(7.0) == 7.0  # float bound 1? no: int bounds, kind int
    with pytest.raises(ValueError, match="algo must be one of a, b, not 'c'"):
        base.Param("algo", "a", choices=("a", "b")).check("c")


def test_unknown_parameters_are_named(setup):
    backend, model, x = setup
    with pytest.raises(ValueError, match=r"occlusion has no parameter size, zoom; it takes window, stride, fill, batch"):
        Occlusion().explain(backend, model, x, [0, 1], zoom=2, size=3)
    with pytest.raises(ValueError, match=r"saliency has no parameter x; it takes none"):
        Saliency().explain(backend, model, x, [0, 1], x=1)
    with pytest.raises(ValueError, match=r"images must be a batch \(N, H, W, C\), got shape \(8, 8, 3\)"):
        Saliency().explain(backend, model, x[0], [0])


def test_targets_and_the_cost_are_counted_per_image(setup):
    backend, model, x = setup
    predicted = backend.predict(model, x).argmax(1).tolist()
    out = Saliency().explain(backend, model, x)  # no targets: each image's predicted class
    assert out.targets == predicted and out.method == "saliency" and out.params == {}
    assert out.cost.as_dict() == {"forward_passes": 4, "backward_passes": 2, "seconds": out.cost.seconds,
                                  "peak_memory": out.cost.peak_memory}  # 2 to predict, 2 through the gradient
    assert 0 < out.cost.seconds < 60
    given = Saliency().explain(backend, model, x, 2)
    assert given.targets == [2, 2] and given.cost.forward_passes == 2 and given.cost.backward_passes == 2
    assert Saliency().explain(backend, model, x, ClassScore([1, 0])).targets == [1, 0]
    neuron = Neuron("conv2", 1, 0, 0)
    assert base.resolve_targets(backend, model, x, neuron) is neuron
    assert base.as_target(neuron) is neuron and base.as_target([1, 2]) == ClassScore([1, 2])
    with pytest.raises(ValueError, match="3 targets for 2 images"):
        base.resolve_targets(backend, model, x, [0, 1, 2])
    meter = base.Metered(backend)
    meter.predict(model, x)
    meter.logits(model, x)
    meter.activations(model, x[:1], ["conv1"])
    assert (meter.forward, meter.backward) == (5, 0) and meter.name == backend.name  # the rest passes through


def test_bilinear_upsampling_equals_torch_interpolate():
    maps = np.random.default_rng(1).random((2, 3, 5)).astype(np.float32)
    for size in ((7, 11), (6, 4)):
        theirs = torch.nn.functional.interpolate(torch.from_numpy(maps)[:, None], size=size, mode="bilinear",
                                                 align_corners=False)[:, 0].numpy()
        ours = base.upsample(maps, size)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_chunks_normalise_and_the_layers_by_hand(setup):
    backend, model, _ = setup
    assert base.chunks(5, 2) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    scaled = base.normalise(np.array([[[1.0, 3.0], [2.0, 2.0]], [[0.0, 10.0], [5.0, 5.0]], [[4.0, 4.0], [4.0, 4.0]]]))
    np.testing.assert_allclose(scaled, [[[0, 1], [0.5, 0.5]], [[0, 1], [0.5, 0.5]], [[0, 0], [0, 0]]])  # each map its own
    assert scaled.dtype == np.float32
    assert base.conv_layers(backend, model) == ["conv1", "pool", "conv2"]
    assert base.explain_layer(backend, model) == "conv2"  # the last conv layer
    pooled = S.parse_architecture({"name": "pool-only", "input_shape": [4, 4, 1], "num_classes": 2, "layers": [
        {"type": "Conv2D", "filters": 2, "kernel_size": 1, "name": "c"}, {"type": "MaxPooling2D", "name": "p"},
        {"type": "Flatten"}, {"type": "Dense", "activation": "softmax"}]})
    assert base.explain_layer(backend, backend.build(pooled)) == "c"  # a conv before a later pool
    flat = S.parse_architecture({"name": "flat", "input_shape": [4, 4, 1], "num_classes": 2, "layers": [
        {"type": "Flatten"}, {"type": "Dense", "activation": "softmax"}]})
    with pytest.raises(ValueError, match=r"^this model has no layer with a spatial \(H, W, C\) output to explain$"):
        base.explain_layer(backend, backend.build(flat))
    assert layers.layers_before(backend, model, "conv2") == ["pool", "conv1"]  # nearest first
    assert layers.layers_before(backend, model, "gap") == [] and layers.layers_before(backend, model, "conv1") == []
    chosen = S.parse_architecture({**TINY.to_dict(), "explain_layer": "conv1"})
    assert base.explain_layer(backend, backend.build(chosen)) == "conv1"


def test_a_one_unit_head_is_read_as_two_classes(setup):
    backend, _, x = setup
    arch = S.parse_architecture({"name": "one-unit", "input_shape": [8, 8, 3], "num_classes": 1, "layers": [
        {"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 1, "activation": "sigmoid"}]})
    model = backend.build(arch)
    p = backend.predict(model, x)[:, 0]
    view = two_class_view(backend)
    assert isinstance(view, TwoClassHead) and two_class_view(view) is view and view.name == backend.name
    np.testing.assert_allclose(view.predict(model, x), np.stack([1 - p, p], 1), rtol=1e-6)
    rows = inputs.predictions(backend, model, arch, x, k=2)
    assert [[r["index"] for r in row] for row in rows] == [[int(q > 0.5), int(q <= 0.5)] for q in p]
    assert rows[0][0]["name"] == f"class {rows[0][0]['index']}"
    np.testing.assert_allclose([r["probability"] for r in rows[0]], sorted([p[0], 1 - p[0]], reverse=True), rtol=1e-6)


def test_predictions_are_the_top_k_with_the_architectures_names(setup):
    backend, model, x = setup
    probs = backend.predict(model, x)
    rows = inputs.predictions(backend, model, TINY, x, k=2)
    for row, p in zip(rows, probs):
        order = np.argsort(-p)[:2]
        assert [r["index"] for r in row] == order.tolist() and [r["name"] for r in row] == [TINY.class_names[i] for i in order]
        np.testing.assert_allclose([r["probability"] for r in row], p[order], rtol=1e-6)
    assert len(inputs.predictions(backend, model, TINY, x)[0]) == 3  # k=5 of three classes
    assert inputs.class_names(TINY, 3) == ["a", "b", "c"] and inputs.class_names(TINY, 2) == ["class 0", "class 1"]
    assert inputs.class_names(None, 2) == ["class 0", "class 1"]  # a loaded model without its architecture
    seven = TINY.with_classes(7)
    assert len(inputs.predictions(backend, backend.build(seven), seven, x)[0]) == 5  # the top 5 by default


def test_images_and_models_are_loaded_by_name_or_file(setup, tmp_path):
    backend, _, _ = setup
    np.testing.assert_array_equal(inputs.load_image("sample:chelsea"), samples.load("chelsea"))
    picture = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    Image.fromarray(picture).save(tmp_path / "p.png")
    np.testing.assert_array_equal(inputs.load_image(str(tmp_path / "p.png")), picture)
    with pytest.raises(FileNotFoundError, match=r"no image file .*nothing.png \(or use sample:NAME, one of .*chelsea"):
        inputs.load_image(str(tmp_path / "nothing.png"))
    model, arch = inputs.load_model(backend, "mnist-cnn")
    assert arch.name == "mnist-cnn" and backend.predict(model, np.zeros((1, 28, 28, 1), np.float32)).shape == (1, 10)
    (tmp_path / "a.json").write_text(S.dumps_architecture(TINY))
    model, arch = inputs.load_model(backend, str(tmp_path / "a.json"))
    assert arch.name == "units-tiny" and backend.predict(model, np.zeros((1, 8, 8, 3), np.float32)).shape == (1, 3)
    for suffix in (".yaml", ".YML"):  # architecture files, not saved models
        (tmp_path / f"a{suffix}").write_text(S.dumps_architecture(TINY, "yaml"))
        assert inputs.load_model(backend, str(tmp_path / f"a{suffix}"))[1].name == "units-tiny"
    saved = backend.save(backend.build(TINY, seed=4), tmp_path / "saved") or tmp_path / "saved"
    model, arch = inputs.load_model(backend, str(saved))
    assert arch.name == "units-tiny"
    assert inputs.preprocessing(TINY, "pytorch") is None


def test_a_workbench_model_is_fed_its_photo_resized_and_scaled(setup):
    photo = np.zeros((20, 30, 3), np.uint8)
    photo[...] = (200, 100, 50)
    x, _ = inputs.model_inputs(TINY, "pytorch", [photo])
    assert x.shape == (1, 8, 8, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 3, 3], np.array([200, 100, 50]) / 255, atol=1e-6)
    grey = S.parse_architecture({**TINY.to_dict(), "input_shape": [8, 8, 1]})
    x, _ = inputs.model_inputs(grey, "pytorch", [photo])
    luma = round(200 * 0.299 + 100 * 0.587 + 50 * 0.114)  # PIL's "L"
    np.testing.assert_allclose(x[0, 2, 2, 0], luma / 255, atol=1 / 255)


def test_grad_cam_defaults_to_the_last_conv_layer_and_fills_its_steps(setup):
    backend, model, x = setup
    out = GradCAM().explain(backend, model, x, [0, 2])
    acts, grads = backend.gradients(model, x, ClassScore([0, 2]), layer="conv2")
    weights = grads.mean(axis=(1, 2))
    cam = np.maximum((acts * weights[:, None, None, :]).sum(-1), 0)
    assert out.steps["layer"] == "conv2" and out.maps.shape == (2, 8, 8)
    np.testing.assert_allclose(out.steps["channel_weights"], weights, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out.steps["cam"], cam, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"layer 'out' has no spatial output \(shape \(3,\)\); pick a conv layer"):
        GradCAM().explain(backend, model, x, [0, 2], layer="out")
    guided = GuidedGradCAM().explain(backend, model, x, [0, 2], layer="conv1")
    assert guided.method == "guided-grad-cam" and guided.steps["layer"] == "conv1"
    np.testing.assert_allclose(guided.steps["grad_cam"], GradCAM().explain(backend, model, x, [0, 2], layer="conv1").maps)
    _, g = backend.gradients(model, x, ClassScore([0, 2]), relu="guided")
    np.testing.assert_allclose(guided.steps["guided_backprop"], g, rtol=1e-6)
    matrix = class_matrix(backend, model, x, [2, 0], layer="conv1")
    assert matrix.shape == (2, 2, 8, 8)
    for k, c in enumerate([2, 0]):
        np.testing.assert_allclose(matrix[k], GradCAM().explain(backend, model, x, [c, c], layer="conv1").maps)
    np.testing.assert_allclose(class_matrix(backend, model, x, [1])[0], GradCAM().explain(backend, model, x, 1).maps)


def sized(backend, h, w, seed=1):
    return backend.build(S.parse_architecture({**TINY.to_dict(), "input_shape": [h, w, 3]}), seed=seed)


def test_occlusion_defaults_scale_with_the_image_and_its_steps_are_kept(setup):
    backend = setup[0]
    wide, x = sized(backend, 14, 21), np.random.default_rng(2).random((1, 14, 21, 3), dtype=np.float32)
    big = Occlusion().explain(backend, wide, x, [1], batch=8)  # 14 // 7 = 2 px windows, stride 1
    by_hand = Occlusion().explain(backend, wide, x, [1], window=2, stride=1, batch=8)
    np.testing.assert_array_equal(big.maps, by_hand.maps)
    assert big.steps["window"] == 2 and big.steps["corners"] == windows(14, 21, 2, 1) and big.steps["batch"] == 8
    assert big.steps["drops"].shape == (1, 13 * 20)
    p0 = backend.predict(wide, x)[0, 1]
    covered = x.copy()
    covered[0, 0:2, 0:2] = 0.0
    np.testing.assert_allclose(big.steps["drops"][0, 0], p0 - backend.predict(wide, covered)[0, 1], rtol=1e-4, atol=1e-6)
    assert Occlusion().explain(backend, wide, x, [1], window=30, batch=8).steps["window"] == 14  # never taller than the image
    tall, y = sized(backend, 7, 5), np.random.default_rng(3).random((1, 7, 5, 3), dtype=np.float32)
    assert Occlusion().explain(backend, tall, y, [1], batch=4).steps["window"] == 1  # 5 // 7, at least a pixel
    assert Occlusion().explain(backend, tall, y, [1], window=9, batch=4).steps["window"] == 5  # nor wider
    measured = Occlusion().explain(backend, tall, y, [1], window=4)
    assert measured.steps["corners"] == windows(7, 5, 4, 2)  # stride: half the window
    assert measured.steps["batch"] == batching.batch_size_for(backend, tall, y[0])  # the measured size, remembered


def test_occlusion_windows_touch_every_border():
    assert windows(5, 5, 2, 2) == [(r, c) for r in (0, 2, 3) for c in (0, 2, 3)]
    assert windows(4, 6, 4, 3) == [(0, 0), (0, 2)]
    assert windows(3, 3, 3, 1) == [(0, 0)]


def test_batch_sizes_are_tried_on_the_device_and_remembered(setup):
    backend, model, x = setup

    class OnGpu:
        def __init__(self, device):
            self.device = lambda: device

    assert batching.candidates(OnGpu("cpu"), (224, 224, 3)) == batching.CPU_SIZES
    assert batching.candidates(OnGpu("cuda:0"), (224, 224, 3)) == batching.GPU_SIZES
    assert batching.candidates(OnGpu("MPS"), (1024, 1024, 3)) == (16, 32, 64)  # 12 MiB an image, 1 GiB at most
    assert batching.candidates(OnGpu("gpu"), (8192, 8192, 4)) == (1,)
    assert batching.candidates(OnGpu("cuda"), (1200, 1000, 3)) == (16, 32, 64)  # 4 bytes a value: 64 of them in 0.9 GiB
    assert batching.candidates(OnGpu("cuda"), (4096, 4096, 1)) == (16,)  # exactly 1 GiB is allowed
    size, times = batching.fastest(backend, model, x[0], (1, 2))
    assert size in (1, 2) and set(times) <= {1, 2} and all(t > 0 for t in times.values())
    chosen = batching.batch_size_for(base.Metered(backend), model, x[0])
    assert chosen in batching.CPU_SIZES
    assert batching._chosen[model][((8, 8, 3), str(backend.device()))] == chosen


def test_feature_maps_and_filters_are_the_seeds_pictures(setup):
    backend, model, x = setup
    channel = np.array([[0.0, 1.0], [2.0, 5.0]])
    z = (channel - 2.0) / np.std(channel)
    np.testing.assert_array_equal(activations.seed_001_scale(channel), np.clip(z * 64 + 128, 0, 255).astype(np.uint8))
    np.testing.assert_array_equal(activations.seed_001_scale(np.array([[0.0, 0.0], [0.0, 9.0]])), [[91, 91], [91, 238]])
    np.testing.assert_array_equal(activations.seed_001_scale(np.full((2, 2), 3.0)), 128)  # flat: grey
    np.testing.assert_array_equal(activations.seed_001_scale(np.array([0.0, 0.5])), [64, 192])  # a std under 1 too
    spike = np.array([0.0] * 9 + [100.0])  # mean 10, std 30: the spike at +3 sigma, clipped to 255
    np.testing.assert_array_equal(activations.seed_001_scale(spike), [106] * 9 + [255])
    np.testing.assert_array_equal(activations.seed_001_scale(-spike), [149] * 9 + [0])
    out = FeatureMaps().explain(backend, model, x, max_channels=3, per_row=2)
    assert out.steps == {"layers": ["conv1", "conv2"]} and set(out.grids) == {
        "conv1 (image 1)", "conv1 (image 2)", "conv2 (image 1)", "conv2 (image 2)"}
    acts = backend.activations(model, x, ["conv2"])["conv2"][1]
    expected = activations.tile(np.stack([activations.seed_001_scale(acts[..., k]) for k in range(3)]), 2)
    np.testing.assert_array_equal(out.grids["conv2 (image 2)"], expected)
    assert out.grids["conv2 (image 2)"].shape == (2 * 4 + 1, 2 * 4 + 1)
    assert set(FeatureMaps().explain(backend, model, x, layers="conv1, pool,").grids) >= {"pool (image 1)"}
    assert FeatureMaps().explain(backend, model, x, layers=["pool"]).steps["layers"] == ["pool"]
    with pytest.raises(ValueError, match=r"layer 'gap' has no spatial output \(shape \(5,\)\); pick a conv layer"):
        FeatureMaps().explain(backend, model, x, layers="gap")
    assert activations._first_and_last(["a"]) == ["a"]
    with pytest.raises(ValueError, match="^this model has no layer with a spatial output$"):
        activations._first_and_last([])
    kernel = backend.get_weights(model)["conv1"][0]  # (3, 3, 3, 4): the first layer reads the RGB image
    out = Filters().explain(backend, model, x, per_row=3, zoom=2)
    assert list(out.grids) == ["conv1"] and out.steps["kernel"] is not None
    np.testing.assert_array_equal(out.steps["kernel"], kernel)
    grid = out.grids["conv1"]
    assert grid.shape == (2 * 6 + 1, 3 * 6 + 2, 3) and grid.dtype == np.uint8
    for k in range(4):
        r, c = divmod(k, 3)
        picture = grid[r * 7:r * 7 + 6, c * 7:c * 7 + 6]
        w = kernel[..., k]
        by_hand = ((w - w.min()) / (w.max() - w.min()) * 255).astype(np.uint8).repeat(2, 0).repeat(2, 1)
        np.testing.assert_array_equal(picture, by_hand)
    second = Filters().explain(backend, model, x, layer="conv2", per_row=5, zoom=1).grids["conv2"]
    w = backend.get_weights(model)["conv2"][0][:, :, 0, 4]  # not RGB: each filter's first input channel
    np.testing.assert_array_equal(second[:, 16:19], ((w - w.min()) / (w.max() - w.min()) * 255).astype(np.uint8))
    with pytest.raises(ValueError, match=r"no conv kernel to show for layer 'gap'; layers with kernels: conv1, conv2$"):
        Filters().explain(backend, model, x, layer="gap")
    dense = S.parse_architecture({"name": "dense", "input_shape": [8, 8, 3], "num_classes": 2, "layers": [
        {"type": "Flatten"}, {"type": "Dense", "activation": "softmax"}]})
    with pytest.raises(ValueError, match=r"no conv kernel to show for layer None; layers with kernels: none$"):
        Filters().explain(backend, backend.build(dense), x)
    flat = backend.get_weights(model)
    flat["conv1"][0][..., 0] = 0.5  # a flat filter is shown black, not divided by zero
    flat_model = backend.build(TINY, seed=1)
    backend.set_weights(flat_model, flat)
    np.testing.assert_array_equal(Filters().explain(backend, flat_model, x, zoom=1).grids["conv1"][:3, :3], 0)


def test_tile_by_hand():
    pictures = np.arange(1, 4)[:, None, None] * np.ones((3, 2, 2), np.uint8)
    grid = activations.tile(pictures, per_row=2, gap=1)
    assert grid.shape == (5, 5)
    np.testing.assert_array_equal(grid, [[1, 1, 0, 2, 2], [1, 1, 0, 2, 2], [0] * 5, [3, 3, 0, 0, 0], [3, 3, 0, 0, 0]])


def test_rank_correlation_and_randomised_weights():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert sanity.rank_correlation(a, a**3) == 1.0 and sanity.rank_correlation(a, -a) == -1.0
    assert sanity.rank_correlation(a, np.ones(4)) == 0.0 and sanity.rank_correlation(np.ones(4), a) == 0.0
    unit = np.array([0.0, 0.5, 1.0])  # a range of exactly 1 is not flat
    assert sanity.rank_correlation(unit, unit) == 1.0 and sanity.rank_correlation(unit[::-1] * 3, unit) == -1.0
    b = np.array([2.0, 1.0, 4.0, 3.0])
    assert sanity.rank_correlation(a, b) == pytest.approx(spearmanr(a, b).statistic)
    weights = {"x": [np.arange(6.0).reshape(2, 3)], "y": [np.arange(3.0)]}
    out = sanity.randomised(weights, ["x"], np.random.default_rng(0))
    assert out["y"] is weights["y"] and out["x"][0].shape == (2, 3)
    assert sorted(out["x"][0].ravel()) == list(range(6)) and not np.array_equal(out["x"][0], weights["x"][0])


def test_the_randomisation_strip_goes_from_the_top_layer_down_and_leaves_the_model_alone(setup):
    backend, model, x = setup
    before = backend.get_weights(model)
    strip = sanity.cascading_randomisation(backend, model, Saliency(), x, [0, 1], stages=2, seed=3)
    assert [s["randomised"] for s in strip] == [0, 1, 3] and [s["top_layer"] for s in strip] == [None, "out", "conv1"]
    original = Saliency().explain(backend, model, x, [0, 1]).maps
    np.testing.assert_allclose(strip[0]["maps"], original)
    assert strip[0]["spearman"] == 1.0
    for name, arrays in backend.get_weights(model).items():  # the model explained is untouched
        for a, b in zip(arrays, before[name]):
            np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(3)
    rng_weights = sanity.randomised(before, ["out"], rng)
    clone = sanity.copy_model(backend, model)
    backend.set_weights(clone, rng_weights)
    maps = Saliency().explain(backend, clone, x, [0, 1]).maps
    np.testing.assert_allclose(strip[1]["maps"], maps, rtol=1e-5)
    rho = np.mean([spearmanr(np.abs(o).ravel(), np.abs(m).ravel()).statistic for o, m in zip(original, maps)])
    assert strip[1]["spearman"] == pytest.approx(rho)
    three = sanity.cascading_randomisation(backend, model, Saliency(), x, 1, stages=3)
    assert [s["randomised"] for s in three] == [0, 1, 2, 3]  # linspace(1, 3, 3)
    assert three[0]["maps"].shape == (2, 8, 8)
    cam = sanity.cascading_randomisation(backend, model, GradCAM(), x, [0, 1], stages=1, layer="conv1")
    np.testing.assert_allclose(cam[0]["maps"], GradCAM().explain(backend, model, x, [0, 1], layer="conv1").maps)
    rng = np.random.default_rng(0)
    clone = sanity.copy_model(backend, model)
    backend.set_weights(clone, sanity.randomised(before, ["out"], rng))
    np.testing.assert_allclose(cam[1]["maps"], GradCAM().explain(backend, clone, x, [0, 1], layer="conv1").maps, rtol=1e-5)
    with pytest.raises(ValueError, match=r"^the sanity check needs a model built by the workbench \(it rebuilds a copy\)$"):
        sanity.copy_model(backend, torch.nn.Linear(2, 2))


def test_lime_stability_explains_the_target_it_is_given(setup):
    backend, model, x = setup
    predicted = int(backend.predict(model, x[:1]).argmax())
    other = (predicted + 1) % 3
    out = sanity.lime_stability(backend, model, x[0], target=other, seeds=(0, 1), top=3, samples=20,
                                algorithm="slic", segments=4, batch=8)
    assert out["top"] == 3 and out["seeds"] == [0, 1] and [r.targets for r in out["runs"]] == [[other], [other]]
    assert sanity.lime_stability(backend, model, x[0], seeds=(0, 1), samples=20, algorithm="slic", segments=4,
                                 batch=8)["runs"][0].targets == [predicted]


def biased(backend, model, seed=0):
    """The model with random biases: with the zero biases it is built with, a ReLU net is linear along
    every ray from 0, and a path method cannot tell where on the path it took its gradients."""
    rng = np.random.default_rng(seed)
    weights = backend.get_weights(model)
    backend.set_weights(model, {name: [a if k == 0 else rng.normal(0, 0.3, a.shape).astype(a.dtype)
                                       for k, a in enumerate(arrays)] for name, arrays in weights.items()})
    return model


def test_integrated_gradients_from_a_grey_baseline_equals_captum(setup):
    from test_mutations_explain import logits_model

    backend, _, x = setup
    model = biased(backend, backend.build(TINY, seed=5))
    ours = IntegratedGradients().explain(backend, model, x, [0, 2], steps=6, baseline=0.3, batch=4)
    theirs = captum_attr.IntegratedGradients(logits_model(model)).attribute(
        torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), baselines=0.3, target=[0, 2], n_steps=6,
        method="riemann_middle").detach().numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ours.images, theirs, rtol=1e-4, atol=1e-6 * np.abs(theirs).max())
    np.testing.assert_allclose(ours.steps["attribution_sum"], theirs.sum(axis=(1, 2, 3)), rtol=1e-4)


def test_filter_patterns_start_from_the_seeds_grey_noise_and_are_deprocessed_as_it_does():
    np.testing.assert_array_equal(patterns.deprocess(np.array([0.0, 1.0, 2.0, 3.0])), [93, 116, 138, 161])
    spike = patterns.deprocess(np.array([0.0] * 99 + [1000.0]))  # +9.95 sigma: clipped to white
    assert spike[0] == 124 and spike[-1] == 255
    assert patterns.deprocess(-np.array([0.0] * 99 + [1000.0]))[-1] == 0
    images = np.array([-1.0, 3.0]).reshape(1, 1, 2, 1) * np.ones((2, 3, 2, 1))
    start, span = patterns.grey_noise(images, seed=4)
    noise = np.random.default_rng(4).random((1, 3, 2, 1), dtype=np.float32)
    assert span == 4.0 and start.shape == (1, 3, 2, 1)
    np.testing.assert_allclose(start, 1.0 + noise * 20 / 255 * 4.0, rtol=1e-6)  # 128 + 20 random, of 0..255
    start, span = patterns.grey_noise(np.full((1, 2, 2, 1), 5.0), seed=4)
    assert span == 1.0 and 5.0 <= start.min() and start.max() < 5.0 + 20 / 255  # flat images: a range of 1


def test_superpixels_of_a_grey_image_are_those_of_its_rgb_copy_and_follow_lime():
    photo = np.asarray(Image.fromarray(samples.load("chelsea")).resize((40, 32)), np.float32) / 255
    grey = photo.mean(axis=-1, keepdims=True)
    for algorithm in ("quickshift", "slic", "felzenszwalb"):
        labels = superpixels(grey, algorithm, 12)
        np.testing.assert_array_equal(labels, superpixels(np.repeat(grey, 3, axis=-1), algorithm, 12))
        assert labels.shape == (32, 40) and np.array_equal(np.unique(labels), np.arange(labels.max() + 1))
    # lime's own default segmentation: quickshift with kernel 4, max_dist 200, ratio 0.2, on [0, 1] colours
    theirs = segmentation.quickshift(base.normalise(photo[None])[0].astype(np.float64), kernel_size=4,
                                     max_dist=200, ratio=0.2, rng=0)
    np.testing.assert_array_equal(superpixels(photo), np.unique(theirs, return_inverse=True)[1].reshape(theirs.shape))
    counts = {n: superpixels(photo, "felzenszwalb", n).max() + 1 for n in (4, 40)}
    assert counts[4] < counts[40] and counts[40] >= 10  # more asked, more given (segments of 20 px at least)
    counts = {n: superpixels(photo, "slic", n).max() + 1 for n in (4, 40)}
    assert counts[4] <= 6 and 20 <= counts[40] <= 60
    with pytest.raises(ValueError, match="superpixel algorithm must be one of quickshift, slic, felzenszwalb, not 'x'"):
        superpixels(photo, "x")


def test_lime_fills_a_grey_image_with_its_mean_or_the_value_given(setup):
    backend = setup[0]
    arch = S.parse_architecture({**TINY.to_dict(), "input_shape": [8, 8, 1]})
    model = biased(backend, backend.build(arch, seed=2))
    image = np.tile(np.array([0.0, 0.5]), 32).reshape(1, 8, 8, 1).astype(np.float32)  # mean 0.25
    run = {fill: Lime().explain(backend, model, image, [1], algorithm="slic", segments=4, samples=30, fill=fill,
                                batch=8) for fill in ("mean", 0.25, 0.9)}
    np.testing.assert_array_equal(run["mean"].maps, run[0.25].maps)
    assert not np.allclose(run["mean"].maps, run[0.9].maps)
    steps = run["mean"].steps
    assert steps["batch"] == 8 and len(steps["fit_r2"]) == 1 and isinstance(steps["fit_r2"][0], float)
    assert steps["superpixels"].shape == (1, 8, 8) and run["mean"].maps.dtype == np.float32
    assert steps["superpixels"].max() + 1 <= 6  # about the 4 segments asked for


class Clock:
    """A device whose forward passes take a set time per image count, on a clock of its own."""

    def __init__(self, device="cpu", per_image=None):
        self.now, self.calls, self.per_image, self._device = 0.0, [], per_image or {}, device

    def device(self):
        return self._device

    def predict(self, model, x, batch_size=64):
        self.calls.append((len(x), batch_size, x.dtype))
        self.now += self.per_image.get(len(x), 1.0) * len(x)
        return np.zeros((len(x), 2), np.float32)


def test_the_fastest_batch_size_is_measured_per_image_and_bigger_ones_stop_once_slower(monkeypatch):
    device = Clock(per_image={1: 1.0, 2: 0.5, 4: 0.25, 8: 2.0, 16: 0.1})
    monkeypatch.setattr(batching.time, "perf_counter", lambda: device.now)
    assert batching.seconds_per_image(device, None, np.zeros((4, 2, 2, 1), np.float32)) == 0.25
    assert device.calls == [(4, 4, np.float32)] * 3  # one untimed pass, best of two timed
    size, times = batching.fastest(device, None, np.zeros((2, 2, 1)), (1, 2, 4, 8, 16))
    assert size == 4 and times == {1: 1.0, 2: 0.5, 4: 0.25, 8: 2.0}  # 8 is slower: 16 is never tried
    assert batching.fastest(device, None, np.zeros((2, 2, 1)), (1, 2))[0] == 2
    gpu = Clock("cuda:0", {16: 0.1, 32: 0.05, 64: 0.5})
    monkeypatch.setattr(batching.time, "perf_counter", lambda: gpu.now)
    model = torch.nn.Linear(1, 1)
    assert batching.batch_size_for(gpu, model, np.zeros((2, 2, 1), np.float32)) == 32
    assert batching._chosen[model] == {((2, 2, 1), "cuda:0"): 32}
    before = len(gpu.calls)
    assert batching.batch_size_for(base.Metered(gpu), model, np.zeros((2, 2, 1), np.float32)) == 32
    assert len(gpu.calls) == before  # remembered: not measured again
    assert batching.batch_size_for(gpu, object(), np.zeros((2, 2, 1), np.float32)) == 32  # no weak reference: measured
    assert batching.on_gpu(Clock("CUDA:0")) and batching.on_gpu(Clock("GPU:1")) and not batching.on_gpu(Clock("cpu"))


def test_grad_cam_plus_plus_where_the_gradient_is_zero(setup):
    """At a layer before max-pooling most gradients are exactly 0 (the positions the pool drops):
    their alpha is 0 / 0, which the paper's weights take as 0."""
    backend, model, x = setup
    out = GradCAMPlusPlus().explain(backend, model, x, [0, 2], layer="conv1")
    acts, g = backend.gradients(model, x, ClassScore([0, 2]), layer="conv1")
    assert (g == 0).mean() > 0.5
    denom = 2 * g**2 + acts.sum(axis=(1, 2), keepdims=True) * g**3
    alpha = np.divide(g**2, denom, out=np.zeros_like(g), where=denom != 0)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(1, 2))
    assert np.isfinite(out.steps["channel_weights"]).all()
    np.testing.assert_allclose(out.steps["channel_weights"], weights, rtol=1e-5, atol=1e-8)


LINEAR = S.parse_architecture({"name": "units-linear", "input_shape": [9, 9, 3], "num_classes": 2, "layers": [
    {"type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same", "name": "conv1"},
    {"type": "Conv2D", "filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "name": "conv2"},
    {"type": "GlobalAveragePooling2D"}, {"type": "Dense", "activation": "softmax", "name": "out"}]})


def test_a_neurons_gradient_reaches_exactly_its_receptive_field(setup):
    """Two ways to the window a neuron sees: the shape maths' receptive field (spec models) and the
    input pixels with a non-zero gradient (native models). Without ReLUs every pixel of the field moves it."""
    backend = setup[0]
    model = backend.build(LINEAR, seed=2)
    images = np.random.default_rng(4).random((2, 9, 9, 3), dtype=np.float32)
    neurons = [(0, 0, 0, 1), (1, 2, 3, 0), (0, 4, 4, 3), (1, 4, 0, 2)] * 5  # 20: two backward batches of 16
    np.testing.assert_array_equal(patches.gradient_windows(backend, model, images, "conv2", neurons),
                                  patches.spec_windows(LINEAR, "conv2", neurons, (9, 9)))


def test_max_patches_by_hand_on_a_small_spec_model(setup):
    backend = setup[0]
    model = backend.build(LINEAR, seed=2)
    images = np.random.default_rng(4).random((2, 9, 9, 3), dtype=np.float32) * 4 - 1  # shown as (x + 1) / 4
    out = MaxPatches().explain(backend, model, images, channels=2, top=2, size=8)
    acts = backend.activations(model, images, ["conv2"])["conv2"]  # 5x5: the deepest layer at 9/8 or more
    peaks = acts.max(axis=(0, 1, 2))
    chosen = [int(c) for c in np.argsort(-peaks)[:2]]
    steps = out.steps
    assert steps["layer"] == "conv2" and steps["ranked_at"] == "conv2" and steps["channels"] == chosen
    assert steps["untraced"] == [] and list(out.grids) == [f"conv2: channels {chosen[0]}, {chosen[1]}"]
    first = steps["patches"][0]
    n, i, j = np.unravel_index(np.argmax(acts[..., chosen[0]]), acts.shape[:3])
    window = patches.spec_windows(LINEAR, "conv2", [(n, i, j, chosen[0])], (9, 9))[0]
    assert first == {"channel": chosen[0], "image": n, "neuron": (i, j), "activation": pytest.approx(acts[n, i, j, chosen[0]]),
                     "score": pytest.approx(acts[n, i, j, chosen[0]]), "window": tuple(window)}
    grid = out.grids[f"conv2: channels {chosen[0]}, {chosen[1]}"]
    assert grid.shape == (2 * 8 + 2, 2 * 8 + 2, 3) and grid.dtype == np.uint8  # a row per channel, 2 px apart
    t, left, b, r = window
    crop = (images[n, t:b, left:r] + 1) / 4
    theirs = torch.nn.functional.interpolate(torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))[None],
                                             size=(8, 8), mode="bilinear", align_corners=False)[0].numpy()
    np.testing.assert_allclose(grid[:8, :8], (theirs.transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8), atol=1)
    many = MaxPatches().explain(backend, model, images[:1], layer="conv2", channels=1, top=30, size=8)
    assert len(many.steps["patches"]) == 25  # 5x5 neurons in one image: the other 5 places stay black
    assert many.grids[next(iter(many.grids))].shape == (8, 30 * 8 + 29 * 2, 3)
    np.testing.assert_array_equal(many.grids[next(iter(many.grids))][:, -8:], 0)
    with pytest.raises(ValueError, match=r"^layer 'out' has no spatial output; pick a conv layer$"):
        MaxPatches().explain(backend, model, images, layer="out")


def test_lime_explains_a_class_outside_the_top_five(setup):
    """lime's own default explains only the 5 likeliest labels (top_labels=5); the workbench asks for
    the target's, whichever rank it has (an ImageNet class far down the list)."""
    backend, _, x = setup
    seven = TINY.with_classes(7)
    model = biased(backend, backend.build(seven, seed=3))
    last = int(np.argsort(backend.predict(model, x[:1])[0])[0])
    out = Lime().explain(backend, model, x[:1], [last], algorithm="slic", segments=4, samples=20, batch=8)
    assert out.targets == [last] and np.abs(out.maps).max() > 0


def test_guided_backprop_of_each_images_strongest_neuron_and_its_masks(setup):
    backend, model, x = setup
    acts = backend.activations(model, x, ["conv2"])["conv2"]
    out = GuidedBackprop().explain(backend, model, x, neuron_layer="conv2", neuron_channel=4)
    peaks = [np.unravel_index(np.argmax(a[..., 4]), a.shape[:2]) for a in acts]
    assert out.steps["explained_at"] == "conv2" and out.steps["neurons"] == [tuple(map(int, p)) for p in peaks]
    first = GuidedBackprop().explain(backend, model, x, neuron_layer="conv2", neuron_channel=0)
    assert first.steps["neurons"] is not None
    dense = GuidedBackprop().explain(backend, model, x, neuron_layer="out", neuron_channel=2)
    _, g = backend.gradients(model, x, Neuron("out", 2), relu="guided")
    assert dense.steps["explained_at"] == "out" and dense.steps["neurons"] is None
    np.testing.assert_allclose(dense.images, g, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^layer 'conv2' has 5 channels; channel 5 is out of range$"):
        GuidedBackprop().explain(backend, model, x, neuron_layer="conv2", neuron_channel=5)
    early = backend.build(S.parse_architecture({**TINY.to_dict(), "explain_layer": "conv1"}), seed=1)
    masks = GuidedBackprop().explain(backend, early, x, [0, 2], show_masks=True).steps  # before max-pooling:
    a, g = backend.gradients(early, x, ClassScore([0, 2]), layer="conv1", relu="guided")  # zeros, and a ReLU above
    assert masks["mask_layer"] == "conv1" and masks["forward_mask"].shape == (2, 8, 8) and (g == 0).any()
    np.testing.assert_allclose(masks["forward_mask"], (a > 0).mean(-1))
    np.testing.assert_allclose(masks["backward_mask"], (g > 0).mean(-1))
    np.testing.assert_allclose(masks["passes"], ((a > 0) & (g > 0)).mean(-1))
    assert not np.allclose(masks["passes"], ((a > 0) | (g > 0)).mean(-1))


def test_gradient_ascent_by_hand_on_a_linear_model(setup):
    """Without ReLUs a channel's mean has one gradient everywhere: every step adds step * g / rms(g),
    each copy its own channel's g and rms."""
    backend = setup[0]
    model = backend.build(LINEAR, seed=2)
    images = np.random.default_rng(5).random((1, 9, 9, 3), dtype=np.float32)
    start, span = patterns.grey_noise(images, 0)
    x = patterns.gradient_ascent(backend, model, "conv2", [0, 3], start, 3, 0.01)
    _, g = backend.gradients(model, np.repeat(start, 2, axis=0), ChannelMean("conv2", [0, 3]))
    rms = np.sqrt((g**2).mean(axis=(1, 2, 3), keepdims=True))
    np.testing.assert_allclose(x, start + 3 * 0.01 * g / (rms + 1e-5), rtol=1e-4, atol=1e-6)
    out = FilterPatterns().explain(backend, model, images, layer="conv2", channels=2, steps=3, step=3.0)
    climbed = patterns.gradient_ascent(backend, model, "conv2", [0, 1], start, 3, 3.0 / 255 * span)
    np.testing.assert_allclose(out.steps["inputs"], climbed, rtol=1e-4, atol=1e-6)
    before = backend.activations(model, start, ["conv2"])["conv2"][0]
    after = backend.activations(model, climbed, ["conv2"])["conv2"]
    gains = [after[k, ..., c].mean() - before[..., c].mean() for k, c in enumerate([0, 1])]
    np.testing.assert_allclose(out.steps["activation_gain"], gains, rtol=1e-4)
    assert out.steps["channels"] == [0, 1] and list(out.grids) == ["conv2 channels 0, 1"]
    assert out.grids["conv2 channels 0, 1"].shape == (9, 2 * 9 + 2, 3)  # the inputs, 8 to a row, 2 px apart


def test_filter_patterns_of_a_dead_layer_say_so(setup):
    backend, model, x = setup
    dead = backend.get_weights(model)
    dead["conv2"] = [np.zeros_like(dead["conv2"][0]), np.full_like(dead["conv2"][1], -1.0)]  # ReLU(-1): 0 everywhere
    dead_model = backend.build(TINY, seed=1)
    backend.set_weights(dead_model, dead)
    with pytest.raises(ValueError, match=r"^no channel of 'conv2' grew under gradient ascent \(tried 4\); pick another layer$"):
        FilterPatterns().explain(backend, dead_model, x, layer="conv2", channels=1, steps=2)


def test_a_pretrained_model_is_fed_its_own_recipe_and_a_standardised_one_its_statistics(setup):
    photo = np.zeros((300, 260, 3), np.uint8)
    photo[...] = (200, 100, 50)
    vgg = get_registry().architectures()["vgg16-imagenet"]
    x, shown = inputs.model_inputs(vgg, "tensorflow", [photo])  # Keras' VGG16: BGR less the ImageNet means
    assert x.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(x[0, 100, 100], [50 - 103.939, 100 - 116.779, 200 - 123.68], atol=1e-3)
    np.testing.assert_allclose(shown[0, 100, 100], np.array([200, 100, 50]) / 255, atol=1e-6)
    backend = setup[0]
    model = backend.build(TINY, seed=1)
    model_facts.attach(model, standardizer=Standardizer(np.full((8, 8, 3), 0.5, np.float32), np.full((8, 8, 3), 0.25, np.float32)))
    x, shown = inputs.model_inputs(TINY, "pytorch", [photo], model=model)
    np.testing.assert_allclose(shown[0, 0, 0], np.array([200, 100, 50]) / 255, atol=1e-6)
    np.testing.assert_allclose(x[0, 0, 0], (np.array([200, 100, 50]) / 255 - 0.5) / (0.25 + 1e-4), rtol=1e-5)
    assert x.dtype == np.float32


def test_a_neuron_is_read_before_an_activation_layer_of_its_own(setup):
    backend = setup[0]
    arch = S.parse_architecture({"name": "units-act", "input_shape": [8, 8, 3], "num_classes": 2, "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "name": "conv"},
        {"type": "Activation", "activation": "relu", "name": "act"},
        {"type": "BatchNormalization", "name": "bn"},
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "fused"},
        {"type": "GlobalAveragePooling2D", "name": "gap"}, {"type": "Dense", "activation": "softmax", "name": "out"}]})
    model = backend.build(arch)
    assert [layers.pre_activation(backend, model, n) for n in ("conv", "act", "bn", "fused", "out")] == [
        "conv", "conv", "bn", "fused", "out"]  # only a separate activation of the same shape hands back
    with pytest.raises(ValueError, match=r"^no layer named 'nope'; the layers are: conv, act, bn, fused, gap, out$"):
        layers.pre_activation(backend, model, "nope")


def test_the_cost_counts_every_pass_and_methods_without_targets_predict_nothing(setup):
    backend, model, x = setup
    smooth = SmoothGrad().explain(backend, model, x[:1], [0], samples=4, batch=2)
    assert (smooth.cost.forward_passes, smooth.cost.backward_passes) == (4, 4)  # two chunks of two copies
    assert FeatureMaps().explain(backend, model, x).cost.forward_passes == 2  # no prediction for targets
    out = GuidedBackprop().explain(backend, model, x, neuron_layer="out", neuron_channel=2)
    _, g = backend.gradients(model, x, Neuron("out", 2), relu="guided")
    np.testing.assert_allclose(out.maps, np.abs(g).max(axis=-1), rtol=1e-6)
    assert out.steps["neuron_layer"] == "out"


def chain(layers, input_shape, name="units-chain"):
    """A spec stack of convs (one filter unless said, fused ReLUs, same padding) with a small head."""
    return S.parse_architecture({"name": name, "input_shape": input_shape, "num_classes": 2, "layers": [
        *({"type": "Conv2D", "filters": 1, "activation": "relu", "padding": "same", **layer} for layer in layers),
        {"type": "GlobalAveragePooling2D", "name": "gap"}, {"type": "Dense", "activation": "softmax", "name": "out"}]})


def test_the_mask_layer_is_the_nearest_where_a_neurons_guided_gradient_spreads(setup):
    """r -> s (3x3) -> t (3x3, two taps: t[i, j] reads s[i, j] and s[i, j + 1]) -> a, d (1x1). A neuron
    of d sits on one position back through a and t; at s it covers two (one at the right border,
    where the other tap reads padding); at r, s's 3x3 spreads it further. Positive weights and
    inputs: every ReLU open, guided = plain."""
    backend = setup[0]
    arch = chain([{"kernel_size": 1, "name": "r"}, {"kernel_size": 3, "name": "s"}, {"kernel_size": 3, "name": "t"},
                  {"kernel_size": 1, "name": "a"}, {"kernel_size": 1, "name": "d"}], [5, 5, 1])
    model = backend.build(arch, seed=0)
    weights = backend.get_weights(model)
    taps = np.zeros((3, 3, 1, 1), np.float32)
    taps[1, 1:] = 1.0
    kernels = {"r": np.ones((1, 1, 1, 1)), "s": np.full((3, 3, 1, 1), 1 / 9), "t": taps,
               "a": np.ones((1, 1, 1, 1)), "d": np.ones((1, 1, 1, 1))}
    for name, kernel in kernels.items():
        weights[name] = [kernel.astype(np.float32), np.zeros(1, np.float32)]
    backend.set_weights(model, weights)
    x = np.random.default_rng(6).uniform(0.1, 1.0, (2, 5, 5, 1)).astype(np.float32)
    assert layers.layers_before(backend, model, "d") == ["a", "t", "s", "r"]
    spread = gradients.spread_layer
    assert spread(backend, model, x, Neuron("d", 0, [2, 2], [1, 4])) == "s"  # the first image's neuron
    assert spread(backend, model, x, Neuron("d", 0, 2, 4)) == "r"  # one tap on padding: one position at s
    assert spread(backend, model, x, Neuron("r", 0, 2, 1)) == "r"  # nothing before the first layer
    # d = relu(10 - a): a's gradient is negative, which guided backprop stops at a's ReLU (plain
    # backprop lets it through, to spread at s); nowhere spread, the farthest layer tried
    weights["d"] = [-np.ones((1, 1, 1, 1), np.float32), np.full(1, 10.0, np.float32)]
    backend.set_weights(model, weights)
    assert spread(backend, model, x, Neuron("d", 0, 2, 1)) == "r"


def test_the_middle_layer_is_the_deepest_at_an_eighth_of_the_input_height(setup):
    """17x40 input, stride-2 convs: heights 9, 5, 3, 2, 1 and widths 20, 10, 5, 3, 2. 17 / 8 = 2.125:
    c3 (3 rows) is the deepest fine enough; c4 (2 rows) is not, though 3 columns and 2 > 17 / 9 are."""
    backend = setup[0]
    arch = chain([{"kernel_size": 3, "strides": 2, "filters": 4, "name": f"c{k}"} for k in range(1, 6)], [17, 40, 3])
    model = backend.build(arch, seed=0)
    assert [r.output_shape[:2] for r in backend.summary(model)[:5]] == [(9, 20), (5, 10), (3, 5), (2, 3), (1, 2)]
    assert layers.middle_layer(backend, model, 17) == "c3"
    assert layers.middle_layer(backend, model, 200) == "c5"  # none at 25 rows: the explained (last conv) layer
    x = np.random.default_rng(7).random((1, 17, 40, 3), dtype=np.float32)
    assert MaxPatches().explain(backend, model, x, channels=1, top=1, size=8).steps["layer"] == "c3"
    assert FilterPatterns().explain(backend, model, x, channels=1, steps=1).steps["layer"] == "c3"


def test_a_workbench_models_photo_is_resized_bilinearly(setup):
    photo = np.random.default_rng(8).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    wide = S.parse_architecture({**TINY.to_dict(), "input_shape": [8, 12, 3]})
    _, shown = inputs.model_inputs(wide, "pytorch", [photo])
    bilinear = np.asarray(Image.fromarray(photo).resize((12, 8), Image.BILINEAR), np.float32) / 255
    bicubic = np.asarray(Image.fromarray(photo).resize((12, 8)), np.float32) / 255  # PIL's default filter
    assert np.abs(bilinear - bicubic).max() > 10 / 255
    np.testing.assert_array_equal(shown[0], bilinear)


class OneByOne(torch.nn.Module):
    """A native (not spec) model: one 1x1 conv and its ReLU as one layer, "block"."""

    def __init__(self):
        super().__init__()
        conv = torch.nn.Conv2d(3, 2, 1)
        with torch.no_grad():  # block[0] = relu(x0 - 1/2), block[1] = relu(x1 / 4)
            conv.weight.zero_()
            conv.weight[0, 0], conv.weight[1, 1] = 1.0, 0.25
            conv.bias.copy_(torch.tensor([-0.5, 0.0]))
        self.block = torch.nn.Sequential(conv, torch.nn.ReLU())
        self.head = torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.head(self.block(x).mean(dim=(2, 3)))


def test_max_patches_of_a_native_model_list_a_neuron_no_pixel_moves_and_show_it_black(setup):
    """Each neuron of a 1x1 conv sees one pixel: its patch is that pixel's colour, a uint8 by hand
    (eighths times 255, floored). Block 0 is dead at (1, 0) (7/8 ... 2/8 less 1/2): no gradient."""
    backend = setup[0]
    model = OneByOne().eval()
    model_facts.attach(model, arch=S.Architecture("units-native", (2, 2, 3), 2), layers={"block": model.block})
    x = np.array([[[7, 3, 0], [6, 1, 8]], [[2, 7, 4], [5, 5, 2]]], np.float32)[None] / 8  # min 0, max 1: shown as is
    out = MaxPatches().explain(backend, model, x, channels=2, top=4, size=8)
    steps = out.steps
    assert steps["layer"] == "block" and steps["channels"] == [0, 1]  # peaks 3/8 and 7/32
    assert [p["neuron"] for p in steps["patches"]] == [(0, 0), (0, 1), (1, 1), (1, 0), (1, 0), (1, 1), (0, 0), (0, 1)]
    assert [p["window"] for p in steps["patches"]] == [(0, 0, 1, 1), (0, 1, 1, 2), (1, 1, 2, 2), None,
                                                       (1, 0, 2, 1), (1, 1, 2, 2), (0, 0, 1, 1), (0, 1, 1, 2)]
    assert steps["untraced"] == ["channel 0, image 1, neuron (1, 0): no input pixel moves it"]
    assert patches.gradient_windows(backend, model, x, "block", [(0, 1, 0, 0), (0, 1, 0, 1)]) == [None, (1, 0, 2, 1)]
    grid = out.grids["block: channels 0, 1"]
    colour = {(0, 0): (223, 95, 0), (0, 1): (191, 31, 255), (1, 0): (63, 223, 127), (1, 1): (159, 159, 63)}
    rows = [[(0, 0), (0, 1), (1, 1), None], [(1, 0), (1, 1), (0, 0), (0, 1)]]
    for k, row in enumerate(rows):
        for m, pixel in enumerate(row):
            patch = grid[k * 10:k * 10 + 8, m * 10:m * 10 + 8]
            np.testing.assert_array_equal(patch, np.broadcast_to((0, 0, 0) if pixel is None else colour[pixel], (8, 8, 3)))


def test_what_each_method_reads_of_the_images_is_its_cache_key(setup):
    """Explainer.input_key, what the class-wide cache keys a method's result on: the images
    themselves by default; filters only their shape; filter patterns their shape and value range;
    max-patches ranked over a dataset only their shape. Checked on photos that differ as a student's
    would (other pixels, other range, other size)."""
    from workbench.explain.patches import MaxPatches
    from workbench.explain.patterns import FilterPatterns

    _, _, x = setup
    other = x[::-1].copy()  # other photos, the same size and (nearly) the same range
    wider = x * 2.0  # the same photos scaled: another range
    small = x[:, :4, :6]  # another size, not square
    key = lambda method, images, **params: method.input_key(images, method.resolve_params(params))  # noqa: E731
    assert key(get_registry().explainers()["saliency"], x) is x
    assert key(Filters(), x) == key(Filters(), other) == (8, 8, 3) and key(Filters(), small) == (4, 6, 3)
    patterns = FilterPatterns()
    assert key(patterns, x) == ((8, 8, 3), float(x.min()), float(x.max()))
    assert key(patterns, wider) == ((8, 8, 3), float(wider.min()), float(wider.max())) != key(patterns, x)
    patches = MaxPatches()
    assert key(patches, x) is x  # ranked over the photos given: the photos themselves
    assert key(patches, x, dataset="digits-8x8") == key(patches, other, dataset="digits-8x8") == (8, 8, 3)
    assert key(patches, small, dataset="digits-8x8") == (4, 6, 3)


def test_a_datasets_images_are_fed_as_the_pages_photos_are(setup):
    """dataset_inputs: the first N test images of a registered dataset, as uint8 photos through
    model_inputs, the oracle (what the page does with a dataset's images)."""
    from workbench import lookup
    from workbench.explain.inputs import dataset_inputs, model_inputs

    backend, model, _ = setup
    x = lookup.dataset("digits-8x8").load("test")[0][:3]
    photos = [(np.clip(image, 0, 1) * 255).astype(np.uint8) for image in x]
    expected = model_inputs(TINY, "pytorch", photos, model)[0]
    got = dataset_inputs(backend, model, "digits-8x8", 3)
    assert got.shape == (3, 8, 8, 3) and np.array_equal(got, expected)
    assert not np.array_equal(got[0], got[1])
    # a model trained standardised is fed its dataset's images standardised, by hand
    standardised = backend.build(TINY, seed=1)
    model_facts.attach(standardised, standardizer=Standardizer(np.full((8, 8, 3), 0.5, np.float32),
                                                               np.full((8, 8, 3), 0.25, np.float32)))
    got = dataset_inputs(backend, standardised, "digits-8x8", 3)
    np.testing.assert_allclose(got, (expected - 0.5) / (0.25 + 1e-4), rtol=1e-5, atol=1e-5)

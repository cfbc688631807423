"""The shape calculator's formulas against independent oracles: Keras/TensorFlow for output sizes
and "same" padding, TensorFlow autograd for receptive fields, torch's FLOP counter for MACs."""

import itertools

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

from workbench import shapes, spec
from workbench.registry import get_registry
from workbench.shapes import ShapeError


def registered(name):
    return get_registry().architectures()[name]


def arch(layers, input_shape=(32, 32, 3)):
    return spec.parse_architecture({"name": "t", "input_shape": list(input_shape), "num_classes": 10, "layers": layers})


# -- output sizes and "same" padding vs Keras --------------------------------------------
SIZES = list(itertools.product([5, 6, 7, 8, 13, 14], [1, 2, 3, 4, 5], [1, 2, 3]))  # (W, F, S): odd/even all round


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_output_size_matches_keras(padding):
    keras = require("keras")
    for w, f, s in SIZES:
        if padding == "valid" and f > w:
            continue
        out, total, formula = shapes.conv_output_size(w, f, s, padding)
        conv = keras.layers.Conv2D(1, f, strides=s, padding=padding).compute_output_shape((None, w, w + 1, 1))
        pool = keras.layers.MaxPooling2D(f, strides=s, padding=padding).compute_output_shape((None, w, w + 1, 1))
        assert out == conv[1] == pool[1], (w, f, s)
        assert formula.endswith(f"= {out}") or f"= {out} " in formula
        if padding == "valid":
            assert total == 0 and formula == f"floor(({w} - {f} + 2*0) / {s}) + 1 = {out}"


def test_same_padding_split_matches_tensorflow():
    """Keras pads total//2 before and the rest after: explicit padding + 'valid' gives the same numbers."""
    tf = require("tensorflow")
    rng = np.random.default_rng(0)
    for h, w in [(7, 8), (6, 9), (13, 14)]:
        x = rng.normal(size=(1, h, w, 1)).astype("float32")
        for f, s in itertools.product([2, 3, 4, 5], [1, 2, 3]):
            k = rng.normal(size=(f, f, 1, 1)).astype("float32")
            same = tf.nn.conv2d(x, k, s, "SAME").numpy()
            pads = [[0, 0], list(shapes.same_padding(h, f, s)), list(shapes.same_padding(w, f, s)), [0, 0]]
            explicit = tf.nn.conv2d(tf.pad(x, pads), k, s, "VALID").numpy()
            np.testing.assert_allclose(explicit, same, rtol=1e-5, atol=1e-5, err_msg=f"{(h, w, f, s)}")


# -- receptive fields --------------------------------------------------------------------
def test_vgg16_receptive_fields():
    table = shapes.compute(registered("vgg16"))
    rf = table.row("block5_conv3").receptive_field
    assert (rf.size, rf.jump) == ((196, 196), (16, 16))  # the textbook value for conv5_3
    assert table.row("block5_pool").receptive_field.size == (212, 212)
    assert table.row("block1_conv1").receptive_field.size == (3, 3)
    assert table.row("fc1").receptive_field is None  # a Dense unit sees the whole image


def test_mnist_receptive_field_by_hand():
    # conv 3: r=3, j=1 | pool 2: r=3+1*1=4, j=2 | conv 3: r=4+2*2=8 | pool 2: r=8+1*2=10, j=4 | conv 3: r=10+2*4=18
    # start (centre of output pixel 0): 1 -> 1.5 -> 3.5 -> 4.5 -> 8.5, i.e. input pixels 0..17.
    rows = shapes.compute(registered("mnist-cnn")).rows
    fields = [(r.receptive_field.size[0], r.receptive_field.jump[0], r.receptive_field.start[0]) for r in rows[:5]]
    assert fields == [(3, 1, 1.0), (4, 2, 1.5), (8, 2, 3.5), (10, 4, 4.5), (18, 4, 8.5)]
    rf = rows[4].receptive_field
    assert rf.window(0, 0, (28, 28)) == (0, 0, 18, 18)
    assert rf.window(2, 1, (28, 28)) == (8, 4, 26, 22)


def _tf_receptive_window(tf, arch, upto, i, j):
    """Which input pixels change output (i, j) of layer `upto`: the bounding box of a nonzero gradient
    through the same convolutions and pools (ones as weights, average for max pooling: same support)."""
    h, w, _ = arch.input_shape
    x = tf.Variable(tf.ones((1, h, w, 1)))
    with tf.GradientTape() as tape:
        y = x
        for layer in arch.layers:
            if isinstance(layer, spec.CONV_TYPES):
                kernel = tf.ones((*layer.kernel_size, 1, 1))
                y = tf.nn.conv2d(y, kernel, layer.strides, layer.padding.upper())
            elif isinstance(layer, (spec.MaxPooling2D, spec.AveragePooling2D)):
                y = tf.nn.avg_pool2d(y, layer.pool_size, layer.strides or layer.pool_size, layer.padding.upper())
            elif isinstance(layer, spec.ZeroPadding2D):
                y = tf.pad(y, [[0, 0], list(layer.padding[0]), list(layer.padding[1]), [0, 0]])
            if layer.name == upto:
                break
        target = y[0, i, j, 0]
    grad = tape.gradient(target, x).numpy()[0, :, :, 0]
    rows, cols = np.nonzero(grad)
    if not len(rows):  # the output sees only zero padding
        return None
    return rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


ODD = arch([
    {"type": "Conv2D", "filters": 4, "kernel_size": 4, "strides": 2, "padding": "same"},
    {"type": "MaxPooling2D", "pool_size": 3, "strides": 2, "padding": "same"},
    {"type": "ZeroPadding2D", "padding": [[1, 2], [0, 1]]},
    {"type": "Conv2D", "filters": 4, "kernel_size": 2, "padding": "same", "name": "even_same"},
    {"type": "DepthwiseConv2D", "kernel_size": [3, 5], "strides": [1, 2], "name": "last"},
], input_shape=(37, 41, 1))


@pytest.mark.parametrize("name,layer", [
    ("architecture-2", "max_pooling2d_3"), ("mnist-cnn", "conv2d_3"), ("lenet-5", "c5"),
    ("odd", "even_same"), ("odd", "last"), ("vgg16", "block4_conv1"),
])
def test_receptive_field_windows_match_tensorflow_gradients(name, layer):
    tf = require("tensorflow")
    a = ODD if name == "odd" else registered(name)
    if name == "vgg16":
        a = a.with_input((112, 112, 1))  # the same geometry at a quarter of the work
    row = shapes.compute(a).row(layer)
    oh, ow = row.output_shape[:2]
    for i, j in {(0, 0), (oh - 1, ow - 1), (oh // 2, ow // 3), (0, ow - 1)}:
        expected = _tf_receptive_window(tf, a, layer, i, j)
        top, left, bottom, right = row.receptive_field.window(i, j, a.input_shape[:2])
        if expected is None:
            assert bottom <= top or right <= left, (i, j)
        else:
            assert (top, left, bottom, right) == expected, (i, j)


# -- impossible layers -------------------------------------------------------------------
def test_too_small_an_input_names_the_row():
    with pytest.raises(ShapeError) as info:
        shapes.compute(registered("mnist-cnn"), input_shape=(8, 8, 1))  # 8 -> 6 -> 3 -> 1, then a 2x2 pool
    err = info.value
    assert (err.row, err.name, err.layer_type) == (4, "max_pooling2d_2", "MaxPooling2D")
    assert err.where == "layers[3]"  # the place in the architecture file, counted from 0 as SpecError does
    assert str(err).startswith("layers[3] (max_pooling2d_2, MaxPooling2D): its 2x2 window is larger than its 1x1 input")


@pytest.mark.parametrize("layers,row,where,words", [
    ([{"type": "Conv2D", "filters": 8, "kernel_size": 3}, {"type": "Dense", "units": 4}], 2, "layers[1]", "add Flatten"),
    ([{"type": "Flatten"}, {"type": "Conv2D", "filters": 8, "kernel_size": 3}], 2, "layers[1]", "needs an image"),
    ([{"type": "Conv2D", "filters": 8, "kernel_size": 40}], 1, "layers[0]", "larger than its 32x32 input"),
    ([{"type": "Residual", "body": [{"type": "Conv2D", "filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}]}],
     2, "layers[0]", "body gives [16, 16, 3] but the shortcut gives [32, 32, 3]"),
    ([{"type": "Inception", "branches": [[{"type": "Conv2D", "filters": 3, "kernel_size": 3}],
                                         [{"type": "Conv2D", "filters": 3, "kernel_size": 1}]]}],
     3, "layers[0]", "differ in height/width"),
    # inside a block: the file's own path to the layer, not the calculator's row count
    ([{"type": "Conv2D", "filters": 3, "kernel_size": 3},
      {"type": "Residual", "body": [{"type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same"},
                                    {"type": "Conv2D", "filters": 3, "kernel_size": 31}]}],
     3, "layers[1].body[1]", "larger than its 30x30 input"),
])
def test_impossible_layers_raise_shape_errors(layers, row, where, words):
    with pytest.raises(ShapeError) as info:
        shapes.compute(arch(layers))
    assert info.value.row == row and info.value.where == where and words in str(info.value)
    assert str(info.value).startswith(f"{where} (")


# -- parameters and MACs -----------------------------------------------------------------
def test_batch_norm_moving_statistics_are_not_trainable():
    row = shapes.compute(registered("naive-cnn-cifar10")).row("batch_normalization_1")
    assert (row.params, row.trainable, row.non_trainable) == (256, 128, 128)


def _torch_macs(torch, jobs):
    """Multiply-accumulates of conv/dense layers as torch's FLOP counter counts them (2 FLOPs each).

    (It needs triton loaded before tensorflow, as tests/conftest.py arranges; otherwise it segfaults.)"""
    from torch.utils.flop_counter import FlopCounterMode

    F = torch.nn.functional
    out = []
    for kind, (h, w, cin), pads, kernel, strides, cout, mult in jobs:
        counter = FlopCounterMode(display=False)
        with counter:
            if kind == "Dense":
                F.linear(torch.zeros(1, h), torch.zeros(cout, h))
            else:
                x = F.pad(torch.zeros(1, cin, h, w), pads)
                if kind == "Conv2D":
                    F.conv2d(x, torch.zeros(cout, cin, *kernel), stride=strides)
                else:  # depthwise (groups = channels), then for a separable conv the pointwise 1x1
                    y = F.conv2d(x, torch.zeros(cin * mult, 1, *kernel), stride=strides, groups=cin)
                    if kind == "SeparableConv2D":
                        F.conv2d(y, torch.zeros(cout, cin * mult, 1, 1))
        out.append(counter.get_total_flops() // 2)
    return out


def _flop_counter_job(row, layer):
    if isinstance(layer, spec.Dense):
        return ["Dense", [row.input_shape[0], 1, 1], None, None, None, layer.units, None]
    h, w, cin = row.input_shape
    pads = [0, 0, 0, 0]
    if layer.padding == "same":
        (t, b), (l, r) = (shapes.same_padding(n, k, s) for n, k, s in zip((h, w), layer.kernel_size, layer.strides))
        pads = [l, r, t, b]
    return [layer.type, [h, w, cin], pads, list(layer.kernel_size), list(layer.strides),
            getattr(layer, "filters", None), getattr(layer, "depth_multiplier", 1)]


def test_conv_and_dense_macs_match_torch_flop_counter():
    torch = require("torch")
    mixed = arch([
        {"type": "Conv2D", "filters": 8, "kernel_size": [3, 5], "strides": 2, "padding": "same"},
        {"type": "DepthwiseConv2D", "kernel_size": 3, "depth_multiplier": 2},
        {"type": "SeparableConv2D", "filters": 6, "kernel_size": 3, "strides": 2, "padding": "same"},
        {"type": "Flatten"}, {"type": "Dense"},
    ], input_shape=(33, 30, 3))
    rows, jobs = [], []
    for a in (mixed, registered("architecture-3"), registered("lenet-5"), registered("inception-cifar10")):
        layers = {l.name: l for l in spec.walk(a.layers)}
        for row in shapes.compute(a).rows:
            if isinstance(layers[row.name], (*spec.CONV_TYPES, spec.Dense)):
                rows.append((a.name, row.name, row.macs))
                jobs.append(_flop_counter_job(row, layers[row.name]))
    counted = _torch_macs(torch, jobs)
    assert len(rows) >= 20
    assert [r[2] for r in rows] == counted, [(r, c) for r, c in zip(rows, counted) if r[2] != c]


def test_activation_memory_is_float32_outputs():
    table = shapes.compute(registered("mnist-cnn"))
    assert table.row("conv2d_1").memory_bytes == 26 * 26 * 32 * 4


# -- receptive fields by brute force (no framework: issue 17's framework-free mutation run) ---
def _reaches(layers, hw):
    """Per layer, reached[p, i, j]: whether input pixel p changes output (i, j). Each pixel's
    one-hot image is pushed through the windows with scipy (ones as weights, so a pixel counts
    once it is in a window), "same" padding as TensorFlow splits it (the smaller half before)."""
    from scipy.signal import correlate2d

    reached = [[] for _ in layers]
    for p in range(hw[0] * hw[1]):
        y = np.zeros(hw)
        y.flat[p] = 1.0
        for depth, ((kh, kw), (sh, sw), padding) in enumerate(layers):
            if padding == "same":
                total = [max((-(-n // s) - 1) * s + k - n, 0) for n, k, s in zip(y.shape, (kh, kw), (sh, sw))]
                y = np.pad(y, [(t // 2, t - t // 2) for t in total])
            y = correlate2d(y, np.ones((kh, kw)), mode="valid")[::sh, ::sw]
            reached[depth].append(y != 0)
    return [np.array(r) for r in reached]


def _box(reached, i, j, width):
    rows, cols = np.divmod(np.flatnonzero(reached[:, i, j]), width)
    return rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


def test_receptive_field_windows_of_a_non_square_stack_match_brute_force():
    """Kernels, strides and paddings that differ between rows and columns, so no mix-up of the
    two axes (start[0] for start[1], size[0] for size[1]) goes unseen."""
    layers = [((3, 5), (1, 2), "valid"), ((2, 3), (2, 1), "same"), ((3, 1), (1, 3), "same"), ((4, 4), (2, 2), "same")]
    stack = arch([{"type": "Conv2D", "filters": 2, "kernel_size": list(k), "strides": list(s), "padding": p}
                  for k, s, p in layers], input_shape=(13, 19, 1))
    table = shapes.compute(stack)
    for row, reached in zip(table.rows, _reaches(layers, (13, 19))):
        assert reached.shape[1:] == row.output_shape[:2]
        for i, j in np.ndindex(*reached.shape[1:]):
            assert row.receptive_field.window(i, j, (13, 19)) == _box(reached, i, j, 19), (row.name, i, j)
    # "same" pads (s * (ceil(n / s) - 1) + k - n) in all, the smaller half before, as the formula says
    assert [r.formula for r in table.rows[1:3]] == [
        "H: ceil(11 / 2) = 6  (same: pad 0+1); W: ceil(8 / 1) = 8  (same: pad 1+1)",
        "H: ceil(6 / 1) = 6  (same: pad 1+1); W: ceil(8 / 3) = 3  (same: pad 0+0)"]


@pytest.mark.parametrize("wide_first", [True, False])
def test_a_block_sees_what_its_widest_part_sees(wide_first):
    """Inception: a 1x1 branch beside two 3x3s (5x5 together); Residual: a 3x3 body beside the identity."""
    conv = {"type": "Conv2D", "filters": 2, "padding": "same"}
    narrow, wide = [{**conv, "kernel_size": 1}], [{**conv, "kernel_size": 3}, {**conv, "kernel_size": 3}]
    table = shapes.compute(arch([
        {"type": "Inception", "name": "mixed", "branches": [wide, narrow] if wide_first else [narrow, wide]},
        {"type": "Residual", "name": "add", "body": [{**conv, "kernel_size": 3, "filters": 4}], "shortcut": []},
    ], input_shape=(9, 9, 1)))
    assert table.row("mixed").receptive_field == table.rows[1 if wide_first else 2].receptive_field  # the second 3x3
    assert table.row("mixed").receptive_field.size == (5, 5)
    assert table.row("add").receptive_field.size == (7, 7)  # 5 + (3 - 1), the body's; the identity adds nothing


def test_rows_are_numbered_nested_and_costed_by_hand():
    conv = {"type": "Conv2D", "filters": 8, "kernel_size": 3}
    table = shapes.compute(arch([
        {**conv, "name": "first"},
        {"type": "Residual", "name": "add", "body": [{**conv, "padding": "same", "name": "inner"}], "shortcut": []},
        {"type": "Flatten", "name": "flat"}, {"type": "Dense", "units": 4, "name": "out"},
    ], input_shape=(10, 12, 1)))
    assert (table.architecture, table.input_shape) == ("t", (10, 12, 1))
    assert [(r.row, r.name, r.depth) for r in table.rows] == [
        (1, "first", 0), (2, "inner", 1), (3, "add", 0), (4, "flat", 0), (5, "out", 0)]
    # MACs: output positions x filters x the window's weights; the Add one per value; Dense inputs x units
    assert [r.macs for r in table.rows] == [8 * 10 * 8 * 3 * 3 * 1, 8 * 10 * 8 * 3 * 3 * 8, 8 * 10 * 8, 0, 8 * 10 * 8 * 4]
    assert table.row("first").formula.startswith("H: ")  # a 10x12 input: each axis its own formula
    square = shapes.compute(arch([{**conv, "name": "first"}], input_shape=(10, 10, 1))).row("first")
    assert square.formula.startswith("W_out = ")


def test_a_window_too_tall_for_a_valid_input_says_so():
    with pytest.raises(ShapeError, match=r"its 5x1 window is larger than its 3x8 input"):
        shapes.compute(arch([{"type": "Conv2D", "filters": 2, "kernel_size": [5, 1]}], input_shape=(3, 8, 1)))

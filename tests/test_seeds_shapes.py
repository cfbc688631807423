"""The registered architectures reproduce the seeds' own numbers, and the calculator agrees with
real models: Keras layers built straight from each spec's dicts, keras.applications' VGG16/VGG19,
and the models the TensorFlow and PyTorch backends build.

The seed tables below are copied from /work/shared/seeds (text extracted from PDFs: underscores
lost in places, cells tab-separated); the tests parse them rather than restating their numbers.
"""

import dataclasses
import gc
import re

import pytest

from conftest import require  # importorskip, but a failure under CI=true

from workbench_plugins.architectures.landmarks import LANDMARKS
from workbench import shapes, sources, spec
from workbench.registry import get_registry


def registered(name):
    return get_registry().architectures()[name]


def spec_architectures():
    return {n: a for n, a in sorted(get_registry().architectures().items()) if a.is_spec}


# -- the seeds' printed model summaries --------------------------------------------------
SEED_001_MNIST = """
conv2d 1 (Conv2D) (None, 26, 26, 32) 320
max pooling2d 1 (MaxPooling2 (None, 13, 13, 32) 0
conv2d 2 (Conv2D) (None, 11, 11, 64) 18496
max pooling2d 2 (MaxPooling2 (None, 5, 5, 64) 0
conv2d 3 (Conv2D) (None, 3, 3, 64) 36928
flatten 1 (Flatten) (None, 576) 0
dense 1 (Dense) (None, 64) 36928
dense 2 (Dense) (None, 10) 650
Total params: 93,322 Trainable params: 93,322 Non-trainable params: 0
"""

SEED_003_NAIVE_CATS_DOGS = """
conv2d_12 (Conv2D)	(None, 148, 148, 32)	896
max_pooling2d_12 (MaxPoolin g2D)	(None, 74, 74, 32)	0
conv2d_13 (Conv2D)	(None, 72, 72, 64)	18496
batch_normalization_3 (BatchNormalization)	(None, 72, 72, 64)	256
max_pooling2d_13 (MaxPoolin g2D)	(None, 36, 36, 64)	0
dropout_3 (Dropout)	(None, 36, 36, 64)	0
conv2d_14 (Conv2D)	(None, 34, 34, 128)	73856
max_pooling2d_14 (MaxPoolin g2D)	(None, 17, 17, 128)	0
conv2d_15 (Conv2D)	(None, 15, 15, 128)	147584
max_pooling2d_15 (MaxPoolin g2D)	(None, 7, 7, 128)	0
flatten_4 (Flatten)	(None, 6272)	0
dense_8 (Dense)	(None, 256)	1605888
dense_9 (Dense)	(None, 1)	257
"""

SEED_003_NAIVE_CIFAR10 = """
conv2d (Conv2D)	(None, 32, 32, 32)	896
<pre>max_pooling2d (MaxPooling2D)</pre>	(None, 16, 16, 32)	0
conv2d_1 (Conv2D)	(None, 16, 16, 64)	18496
<pre>batch_normalization (BatchN ormalization)</pre>	(None, 16, 16, 64)	256
<pre>max_pooling2d_1 (MaxPooling 2D)</pre>	(None, 8, 8, 64)	0
dropout (Dropout)	(None, 8, 8, 64)	0
conv2d_2 (Conv2D)	(None, 8, 8, 128)	73856
<pre>max_pooling2d_2 (MaxPooling 2D)</pre>	(None, 4, 4, 128)	0
conv2d_3 (Conv2D)	(None, 4, 4, 128)	147584
<pre>max_pooling2d_3 (MaxPooling 2D)</pre>	(None, 2, 2, 128)	0
flatten (Flatten)	(None, 512)	0
dense (Dense)	(None, 256)	131328
dense_1 (Dense)	(None, 10)	2570

Total params: 374,986 Trainable params: 374,858 Non-trainable params: 128
"""

SEED_003_RESIDUAL = """
input_1 (InputLayer)	[(None, 32, 32, 3)]	0	[]
conv2d (Conv2D)	(None, 32, 32, 32)	896	['input_1[0][0]']
max_pooling2d (MaxPooling2D)	(None, 16, 16, 32)	0	['conv2d[0][0]']
conv2d_1 (Conv2D)	(None, 16, 16, 64)	18496	['max_pooling2d[0][0]']
<pre>batch_normalization (BatchNorm alization)</pre>	(None, 16, 16, 64)	256	['conv2d_1[0][0]']
<pre>max_pooling2d_1 (MaxPooling2D)</pre>	(None, 8, 8, 64)	0	['batch_normalization[0][0]']
dropout (Dropout)	(None, 8, 8, 64)	0	['max_pooling2d_1[0][0]']
conv2d_2 (Conv2D)	(None, 8, 8, 64)	36928	['dropout[0][0]']
<pre>batch_normalization_1 (BatchNo rmalization)</pre>	(None, 8, 8, 64)	256	['conv2d_2[0][0]']
dropout_1 (Dropout)	(None, 8, 8, 64)	0	['batch_normalization_1[0][0]'
add (Add)	(None, 8, 8, 64)	0	['dropout[0][0]', 'dropout_1[0][0]']
flatten (Flatten)	(None, 4096)	0	['add[0][0]']
dense (Dense)	(None, 256)	1048832	['flatten[0][0]']
dropout_2 (Dropout)	(None, 256)	0	['dense[0][0]']
dense_1 (Dense)	(None, 10)	2570	['dropout_2[0][0]']
"""

ROW = re.compile(r"^(?P<name>[\w ]+?) \((?P<type>[A-Za-z0-9 ]+?)\)?\s*\(None, (?P<shape>[\d, ]+)\)\s+(?P<params>\d+)")
TOTALS = re.compile(r"Total params: ([\d,]+)\s+Trainable params: ([\d,]+)\s+Non-trainable params: ([\d,]+)")
KERAS_TYPE = {"Residual": "Add", "Inception": "Concatenate"}


def parse_summary(text):
    """Rows (name, type, output shape, params) and the totals of a printed Keras model.summary()."""
    rows = []
    for line in text.strip().splitlines():
        m = ROW.match(re.sub(r"</?pre>", "", line))
        if m:
            shape = tuple(int(v) for v in m["shape"].split(","))
            rows.append((m["name"].replace(" ", "_"), m["type"].replace(" ", ""), shape, int(m["params"])))
    totals = TOTALS.search(text)
    return rows, (tuple(int(v.replace(",", "")) for v in totals.groups()) if totals else None)


def calculator_rows(arch):
    return [(r.name, KERAS_TYPE.get(r.type, r.type), r.output_shape, r.params) for r in shapes.compute(arch).rows]


def assert_same_summary(arch, text, names=False):
    printed, totals = parse_summary(text)
    ours = calculator_rows(arch)
    assert len(printed) == len(ours) > 5
    for p, o in zip(printed, ours):
        # Keras truncates long type names in the summary's column ("MaxPooling2").
        assert o[1].startswith(p[1]) and p[2:] == o[2:], (p, o)
        if names:
            assert p[0] == o[0]
    if totals:
        table = shapes.compute(arch)
        assert totals == (table.total_params, table.trainable_params, table.non_trainable_params)


def test_seed_001_mnist_summary():
    """26/13/11/5/3, 93,322 params, and the same layer names as the slide's Keras session."""
    assert_same_summary(registered("mnist-cnn"), SEED_001_MNIST, names=True)


@pytest.mark.parametrize("name,text", [
    ("naive-cnn-cats-dogs", SEED_003_NAIVE_CATS_DOGS),
    ("naive-cnn-cifar10", SEED_003_NAIVE_CIFAR10),
    ("residual-cifar10", SEED_003_RESIDUAL),
])
def test_seed_003_summaries(name, text):
    assert_same_summary(registered(name), text)


def test_seed_003_residual_block_is_an_identity_skip_over_conv_bn_dropout():
    block = next(l for l in registered("residual-cifar10").layers if isinstance(l, spec.Residual))
    # the summary's `add` is connected to 'dropout' (the block's input) and 'dropout_1' (the body's end)
    assert block.name == "add" and block.shortcut == ()
    assert [l.type for l in block.body] == ["Conv2D", "BatchNormalization", "Dropout"]


# -- seed 002's feature-map tables -------------------------------------------------------
SEED_002_TABLES = {
    "architecture-1": r"""
Input Layer (224 x 224 x 3)	Convolution	(11 X 11)	8	4	0	$\frac{(224-11+0)}{4} + 1 = 54$	(54 x 54 x 8)
Layer 1 (54 x 54 x 8)	Max Pooling	(3 X 3)	-	2	0	$\frac{(54-3+0)}{2} + 1 = 26$	(26 x 26 x 8)
Layer 2 (26 x 26 x 8)	Convolution	(5 X 5)	16	1	0	$\frac{(26-5+0)}{1} + 1 = 22$	(22 x 22 x 16)
Layer 3 (22 x 22 x 16)	Max Pooling	(3 X 3)	-	2	0	$\frac{(22-3+0)}{2} + 1 = 10$	(10 x 10 x 16)
""",
    "architecture-2": r"""
Input Layer (224 x 224 x 3)	Convolution	(11 X 11)	8	4	0	$\frac{(224-11+0)}{4} + 1 = 54$	(54 x 54 x 8)
Layer 1 (54 x 54 x 8)	Max Pooling	(3 X 3)	-	2	0	$\frac{(54-3+0)}{2} + 1 = 26$	(26 x 26 x 8)
Layer 2 (26 x 26 x 8)	Convolution	(5 X 5)	16	1	0	$\frac{(26-5+0)}{1} + 1 = 22$	(22 x 22 x 16)
Layer 3 (22 x 22 x 16)	Max Pooling	(3 X 3)	-	2	0	$\frac{(22-3+0)}{2} + 1 = 10$	(10 x 10 x 16)
Layer 4 (10 x 10 x 16)	Convolution	(3 X 3)	32	1	0	$\frac{(10-3+0)}{1} + 1 = 8$	(8 x 8 x 32)
Layer 5 (8 x 8 x 32)	Max Pooling	(3 X 3)	-	2	0	$\frac{(8-3+0)}{2} + 1 = 3$	(3 x 3 x 32)
""",
    "architecture-3": r"""
Input Layer (224 x 224 x 3)	Convolution	(11 X 11)	8	4	0	$\frac{(224-11+0)}{4} + 1 = 54$	(54 x 54 x 8)
Layer 1 (54 x 54 x 8)	Max Pooling	(3 X 3)	-	2	0	$\frac{(54-3+0)}{2} + 1 = 26$	(26 x 26 x 8)
Layer 2 (26 x 26 x 8)	Convolution	(5 X 5)	16	1	0	$\frac{(26-5+0)}{1} + 1 = 22$	(22 x 22 x 16)
Layer 3 (22 x 22 x 16)	Max Pooling	(3 X 3)	-	2	0	$\frac{(22-3+0)}{2} + 1 = 10$	(10 x 10 x 16)
Layer 4 (10 x 10 x 16)	Convolution	(3 X 3)	32	1	0	$\frac{(16-3+0)}{1} + 1 = 8$	(8 x 8 x 32)
Layer 5 (8 x 8 x 32)	Convolution	(3 X 3)	64	1	0	$\frac{(8-3+0)}{1} + 1 = 6$	(6 x 6 x 64)
Layer 6 (6 x 6 x 64)	Max Pooling	(3 X 3)	-	2	0	$\frac{(6-3+0)}{2} + 1 = 2$	(2 x 2 x 64)
""",
}
DIMS = r"\((\d+) x (\d+) x (\d+)\)"
TABLE_ROW = re.compile(
    rf"^(?:Input Layer|Layer \d+) {DIMS}\t(Convolution|Max Pooling)\t\((\d+) X (\d+)\)\t(\d+|-)\t(\d+)\t(\d+)\t"
    rf".*= (\d+)\$\t{DIMS}$"
)


@pytest.mark.parametrize("name", sorted(SEED_002_TABLES))
def test_seed_002_feature_map_tables(name):
    rows = [TABLE_ROW.match(line).groups() for line in SEED_002_TABLES[name].strip().splitlines()]
    table = shapes.compute(registered(name))
    ours = [r for r in table.rows if r.type in ("Conv2D", "MaxPooling2D")]
    assert len(ours) == len(rows)
    layers = {l.name: l for l in registered(name).layers}
    for row, r in zip(rows, ours):
        h, w, c, op, kh, kw, filters, stride, pad, result, oh, ow, oc = row
        layer = layers[r.name]
        assert r.type == {"Convolution": "Conv2D", "Max Pooling": "MaxPooling2D"}[op]
        assert r.input_shape == (int(h), int(w), int(c))
        assert r.output_shape == (int(oh), int(ow), int(oc)) and int(result) == int(oh)
        kernel = layer.kernel_size if op == "Convolution" else layer.pool_size
        assert kernel == (int(kh), int(kw)) and (layer.strides or kernel) == (int(stride), int(stride))
        assert int(pad) == 0 and layer.padding == "valid"
        if filters != "-":
            assert layer.filters == int(filters)
        # The calculator writes the table's calculation out: (W - F + 2P)/S + 1 with the input's W.
        # (Table 5's Layer 4 prints "(16-3+0)": a typo for the 10x10x16 input it lists.)
        assert r.formula == f"W_out = floor(({w} - {kw} + 2*0) / {stride}) + 1 = {ow}"


# -- the numbers the seeds state in words ------------------------------------------------
def test_vgg_totals():
    assert shapes.compute(registered("vgg16")).total_params == 138_357_544  # "138 million" (seed 001)
    assert shapes.compute(registered("vgg19")).total_params == 143_667_240


def test_seed_004_cnn1_and_cnn2_parameter_counts():
    # "cnn2 ... has less parameters (~36k) than cnn1 (~251k weights)"
    assert shapes.compute(registered("cnn2")).total_params // 1000 == 36
    assert shapes.compute(registered("cnn1")).total_params // 1000 == 251


def test_lenet_has_about_sixty_thousand_parameters():
    total = shapes.compute(registered("lenet-5")).total_params  # seed 001's table: "60 thousand"
    assert abs(total - 60_000) / 60_000 < 0.05


def test_every_seed_model_is_registered_with_a_source_and_description():
    archs = spec_architectures()
    expected = {"mnist-cnn", "cats-vs-dogs-cnn", "alexnet", "vgg16", "vgg19", "architecture-1", "architecture-2",
                "architecture-3", "naive-cnn-cats-dogs", "naive-cnn-cifar10", "inception-cifar10",
                "residual-cifar10", "cnn1", "cnn2", "lenet-5"}
    assert expected <= set(archs)
    for a in archs.values():  # each cites the course document it comes from (workbench.sources' keys)
        assert sources.keys_in(a.source) and len(a.description) > 40, a.name


def test_fine_tuning_from_block5_conv1_is_seed_000s_layer_15():
    # Seed 000 freezes model.layers[:15]; Keras counts the InputLayer as layer 0.
    names = ["input"] + [l.name for l in registered("vgg16").layers]
    assert names[15] == "block5_conv1"


# -- Keras as the oracle -----------------------------------------------------------------
# The 4096-wide Dense layers dominate the big models; a smaller input keeps every layer type and
# name while building a few times faster. The full sizes run under -m slow.
SMALL_INPUT = {"vgg16": (32, 32, 3), "vgg19": (32, 32, 3), "vgg16-gap": (32, 32, 3), "alexnet": (163, 163, 3)}


def keras_model(keras, arch):
    """A Keras model made directly from the spec's dicts: the file format is Keras' own vocabulary."""
    def apply(layers, x):
        for layer in layers:
            if isinstance(layer, spec.Residual):
                x = keras.layers.Add(name=layer.name)([apply(layer.body, x), apply(layer.shortcut, x)])
            elif isinstance(layer, spec.Inception):
                x = keras.layers.Concatenate(name=layer.name)([apply(b, x) for b in layer.branches])
            else:
                # every key, defaults included: Keras has no default for Dropout's rate or Activation's function
                kwargs = {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)}
                x = getattr(keras.layers, layer.type)(**kwargs)(x)
        return x

    inputs = keras.Input(arch.input_shape)
    return keras.Model(inputs, apply(arch.layers, inputs))


def keras_rows(model):
    import numpy as np

    def count(weights):
        return int(sum(np.prod(w.shape) for w in weights))

    return {
        layer.name: (tuple(layer.output.shape[1:]), layer.count_params(), count(layer.trainable_weights),
                     count(layer.non_trainable_weights))
        for layer in model.layers[1:]  # after the InputLayer
    }


def test_calculator_matches_keras_for_every_registered_architecture():
    keras = require("keras")
    for name, arch in spec_architectures().items():
        if name in ("vgg16", "vgg19") or name in LANDMARKS:
            continue  # checked against keras.applications / torchvision: test_vgg_matches_keras_applications, test_landmarks.py
        if name in SMALL_INPUT:
            arch = arch.with_input(SMALL_INPUT[name])
        model = keras_model(keras, arch)
        expected = keras_rows(model)
        table = shapes.compute(arch)
        ours = {r.name: (r.output_shape, r.params, r.trainable, r.non_trainable) for r in table.rows}
        assert ours == expected, arch.name
        if not any(isinstance(l, spec.BLOCK_TYPES) for l in arch.layers):
            assert [r.name for r in table.rows] == [l.name for l in model.layers[1:]]  # and the same order
        assert table.total_params == model.count_params()
    keras.backend.clear_session()  # once: a collection per model costs more than the models


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_vgg_matches_keras_applications(name):
    keras = require("keras")
    model = getattr(keras.applications, name.upper())(weights=None)
    try:
        expected = [(l.name, tuple(l.output.shape[1:]), l.count_params()) for l in model.layers[1:]]
    finally:
        del model
        keras.backend.clear_session()
        gc.collect()
    ours = [(r.name, r.output_shape, r.params) for r in shapes.compute(registered(name)).rows]
    assert ours == expected


# -- the backends' real models -----------------------------------------------------------
def backend_or_skip(name):
    backends = get_registry().backends()
    if name not in backends:
        pytest.skip(f"the {name} backend is not registered")
    return backends[name]


def assert_backend_matches_calculator(backend, arch):
    model = backend.build(arch)
    got = [(i.name, i.type, tuple(i.output_shape), i.params, i.trainable, i.non_trainable) for i in backend.summary(model)]
    table = shapes.compute(arch)
    assert got == [(r.name, r.type, r.output_shape, r.params, r.trainable, r.non_trainable) for r in table.rows], arch.name


@pytest.mark.parametrize("backend_name", ["tensorflow", "pytorch"])
def test_backends_match_calculator_for_every_registered_architecture(backend_name):
    backend = backend_or_skip(backend_name)
    for name, arch in spec_architectures().items():
        if name in SMALL_INPUT:
            arch = arch.with_input(SMALL_INPUT[name])
        assert_backend_matches_calculator(backend, arch)
    gc.collect()


@pytest.mark.slow
@pytest.mark.parametrize("backend_name", ["tensorflow", "pytorch"])
@pytest.mark.parametrize("name", sorted(SMALL_INPUT))
def test_backends_match_calculator_at_full_size(backend_name, name):
    assert_backend_matches_calculator(backend_or_skip(backend_name), registered(name))


@pytest.mark.parametrize("backend_name", ["tensorflow", "pytorch"])
def test_seed_001_freezing_the_vgg16_base_leaves_4_trainable_weights(backend_name):
    """Seed 001: 30 trainable weight tensors, 4 once the conv base is frozen; then fine-tune from block5_conv1."""
    backend = backend_or_skip(backend_name)
    model = backend.build(registered("vgg16-cats-dogs"))
    weights = backend.get_weights(model)

    def trainable():
        rows = [info for info in backend.summary(model) if info.trainable]
        return sum(len(weights[info.name]) for info in rows), sum(info.trainable for info in rows)

    assert trainable() == (30, 16_812_353)
    backend.set_trainable(model, "flatten")  # conv_base.trainable = False
    assert trainable() == (4, 2_097_665)
    backend.set_trainable(model, "block5_conv1")  # seed 001's fine-tuning loop
    assert trainable() == (10, 3 * 2_359_808 + 2_097_665)

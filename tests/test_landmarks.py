"""The landmark architecture files against the libraries whose layout they follow.

The oracle is the library itself, built here with weights=None (nothing is downloaded):
keras.applications for ResNet50, MobileNet, MobileNetV2, Xception, EfficientNet-B0 and
DenseNet-121, torchvision.models for GoogLeNet and ResNet-18. For each the trainable and
non-trainable parameter counts must be equal, in total, per stage and per layer, and so must
the output shapes; first from the shape calculator, then from the models the workbench's
TensorFlow and PyTorch backends build from the same file. What a library model holds that the
spec has no word for (EfficientNet-B0's input Rescaling and Normalization) is named here and
left out of the comparison.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import os
from functools import lru_cache

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if importlib.util.find_spec("torchvision") is not None:
    import torchvision.models  # noqa: F401 - before keras.applications, or the process crashes (OFFLINE.md)

from workbench_plugins.architectures.landmarks import LANDMARKS, SPECS, files  # noqa: E402
from workbench import shapes, sources  # noqa: E402
from workbench.registry import get_registry  # noqa: E402

# name -> (keras.applications function, stage boundaries: block outputs every later layer depends on)
KERAS = {
    "resnet50": ("ResNet50", ["conv1_relu", "pool1_pool", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out",
                              "conv5_block3_out", "avg_pool", "predictions"]),
    "mobilenet": ("MobileNet", ["conv1_relu", "conv_pw_1_relu", "conv_pw_3_relu", "conv_pw_5_relu", "conv_pw_11_relu",
                                "conv_pw_13_relu", "predictions"]),
    "mobilenet-v2": ("MobileNetV2", ["Conv1_relu", "expanded_conv_project_BN", "block_2_add", "block_5_add",
                                     "block_9_add", "block_12_add", "block_15_add", "block_16_project_BN", "out_relu",
                                     "predictions"]),
    "xception": ("Xception", ["block1_conv2_act", "block5_sepconv1_act", "block12_sepconv3_act", "block14_sepconv1_act",
                              "block14_sepconv2_act", "avg_pool", "predictions"]),  # Keras leaves its adds unnamed
    "efficientnet-b0": ("EfficientNetB0", ["stem_activation", "block1a_project_bn", "block2b_add", "block3b_add",
                                           "block4c_add", "block5c_add", "block6d_add", "block7a_project_bn",
                                           "top_activation", "avg_pool", "predictions"]),
    "densenet121": ("DenseNet121", ["pool1", "conv2_block6_concat", "pool2_pool", "conv3_block12_concat", "pool3_pool",
                                    "conv4_block24_concat", "pool4_pool", "conv5_block16_concat", "relu", "avg_pool",
                                    "predictions"]),
}
# Keras layer types the spec has no word for: left out of the file, their weights out of the comparison.
NOT_IN_SPEC = {"efficientnet-b0": {"Rescaling", "Normalization"}}
# name -> (torchvision.models function, its keyword arguments, stage module -> the spec layer that is its output)
TORCHVISION = {
    "resnet18": ("resnet18", {}, {"layer1": "layer1_1", "layer2": "layer2_1", "layer3": "layer3_1", "layer4": "layer4_1"}),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": False}, {}),
}
TORCHVISION_STAGES = {
    "resnet18": ["conv1", "bn1", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"],
    "googlenet": ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                  "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
                  "inception5a", "inception5b", "avgpool", "fc"],
}


def test_every_landmark_is_compared_with_its_library():
    assert set(LANDMARKS) == set(KERAS) | set(TORCHVISION)


def squeezed(shape) -> tuple:
    """A shape without its 1s: Keras' GlobalAveragePooling2D(keepdims=True) gives (1, 1, C) where the
    spec gives (C,), torch's adaptive pool (C, 1, 1); the numbers are the same."""
    return tuple(d for d in shape if d != 1)


def table(name: str) -> shapes.ShapeTable:
    return shapes.compute(get_registry().architectures()[name])


# -- the files ---------------------------------------------------------------------------
def test_the_committed_files_are_the_generators_output():
    for file_name, text in files().items():
        assert (SPECS / file_name).read_text(encoding="utf-8") == text, f"{file_name}: run python -m plugins.architectures.landmarks"


@pytest.mark.parametrize("name", LANDMARKS)
def test_registered_with_a_description_a_source_and_a_layer_to_explain(name):
    arch = get_registry().architectures()[name]
    assert arch.is_spec and arch.input_shape[2] == 3 and arch.num_classes == 1000
    assert len(arch.description) > 200 and ("keras.applications" in arch.source or "torchvision" in arch.source)
    assert " 20" in arch.source  # the paper: "He et al. 2015, ..."
    assert sources.keys_in(arch.source) == ["cnn-slides"]  # where the lecture names it, cited by title
    row = table(name).row(arch.explain_layer)  # Grad-CAM's layer: the last map before the pooling
    assert len(row.output_shape) == 3 and row.output_shape[0] == table(name).row(next(
        r.name for r in table(name).rows if r.type == "GlobalAveragePooling2D")).input_shape[0]


# -- keras.applications ------------------------------------------------------------------
def _count(weights) -> int:
    return int(sum(math.prod(w.shape) for w in weights))


def facts_of(model) -> dict:
    """Per layer of a Keras model: type, output shape, trainable and non-trainable counts, in the
    model's (topological) order."""
    return {
        layer.name: (type(layer).__name__, tuple(layer.output.shape[1:]), _count(layer.trainable_weights),
                     _count(layer.non_trainable_weights))
        for layer in model.layers[1:]  # after the InputLayer
    }


@lru_cache(maxsize=None)
def keras_model_facts(name: str) -> dict:
    """facts_of keras.applications.<model>(weights=None), built once, then let go."""
    keras = pytest.importorskip("keras")
    model = getattr(keras.applications, KERAS[name][0])(weights=None)
    try:
        return facts_of(model)
    finally:
        del model
        keras.backend.clear_session()
        gc.collect()


def keras_totals(name: str) -> tuple[int, int]:
    """(trainable, non-trainable) of the Keras model, less the layers the spec has no word for."""
    kept = [v for v in keras_model_facts(name).values() if v[0] not in NOT_IN_SPEC.get(name, ())]
    return sum(v[2] for v in kept), sum(v[3] for v in kept)


def keras_pairs(name: str, facts: dict | None = None) -> list[tuple]:
    """(spec row, the Keras layers it stands for): by name (Keras' own names are the spec's), for
    SqueezeExcite Keras' five se_ layers, and the layers with weights Keras leaves unnamed (Xception's
    shortcut convolutions, whose automatic names depend on what the process built before) in order,
    type by type. ``facts``: of another build of the same model (its automatic names differ)."""
    facts = facts or keras_model_facts(name)
    pairs, left = [], []
    for row in table(name).rows:
        if row.type == "SqueezeExcite":
            prefix = row.name.removesuffix("excite")  # block1a_se_excite -> block1a_se_
            pairs.append((row, [n for n in facts if n.startswith(prefix)]))
        elif row.name in facts:
            pairs.append((row, [row.name]))
        elif row.params:
            left.append(row)
    named = {n for _, group in pairs for n in group}
    unnamed = [n for n, v in facts.items() if n not in named and v[2] + v[3] and v[0] not in NOT_IN_SPEC.get(name, ())]
    for kind in dict.fromkeys(r.type for r in left):
        ours = [r for r in left if r.type == kind]
        theirs = [n for n in unnamed if facts[n][0] == kind]
        assert len(ours) == len(theirs), (kind, [r.name for r in ours], theirs)
        pairs += [(r, [n]) for r, n in zip(ours, theirs)]
    return pairs


@pytest.mark.parametrize("name", sorted(KERAS))
def test_calculator_equals_keras_applications(name):
    facts, ours = keras_model_facts(name), table(name)
    assert (ours.trainable_params, ours.non_trainable_params) == keras_totals(name)
    pairs = keras_pairs(name)
    for row, group in pairs:
        assert squeezed(row.output_shape) == squeezed(facts[group[-1]][1]), row.name
        assert (row.trainable, row.non_trainable) == (sum(facts[n][2] for n in group), sum(facts[n][3] for n in group)), row.name
    # Every layer with weights has its counterpart, except the Keras layers the spec has no word for (and says so).
    paired = {n for _, group in pairs for n in group}
    assert {r.name for r in ours.rows if r.params} <= {r.name for r, _ in pairs}
    unmatched = {n: v for n, v in facts.items() if n not in paired and v[2] + v[3]}
    assert {v[0] for v in unmatched.values()} <= NOT_IN_SPEC.get(name, set()), sorted(unmatched)
    if name in NOT_IN_SPEC:
        assert unmatched and all(t in get_registry().architectures()[name].description for t in NOT_IN_SPEC[name])
    assert sum(len(g) for _, g in pairs) > len(facts) * 0.9  # names are Keras' own: nearly every layer pairs up


@pytest.mark.parametrize("name", sorted(KERAS))
def test_keras_stages_have_the_same_shapes_and_parameters_so_far(name):
    facts, ours = keras_model_facts(name), table(name)
    skipped = NOT_IN_SPEC.get(name, set())
    keras_order = [n for n, v in facts.items() if v[0] not in skipped]
    ours_order = [r.name for r in ours.rows]
    for stage in KERAS[name][1]:
        row = ours.row(stage)
        assert squeezed(row.output_shape) == squeezed(facts[stage][1]), stage
        upto_keras = keras_order[: keras_order.index(stage) + 1]
        upto_ours = ours.rows[: ours_order.index(stage) + 1]
        assert (sum(r.trainable for r in upto_ours), sum(r.non_trainable for r in upto_ours)) == (
            sum(facts[n][2] for n in upto_keras), sum(facts[n][3] for n in upto_keras)), stage


# -- torchvision -------------------------------------------------------------------------
@lru_cache(maxsize=None)
def torchvision_facts(name: str) -> dict:
    """Per named module of torchvision.models.<model>(weights=None), its path with underscores:
    (output shape as H, W, C, trainable parameters, running statistics), from one forward pass."""
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision.models")
    function, kwargs, _ = TORCHVISION[name]
    model = getattr(tv, function)(weights=None, **kwargs).eval()
    outputs, hooks = {}, []
    for path, module in model.named_modules():
        if path:
            hooks.append(module.register_forward_hook(
                lambda m, i, o, path=path: outputs.__setitem__(path, tuple(o.shape[1:]))))
    with torch.inference_mode():
        model(torch.zeros(1, 3, 224, 224))
    for h in hooks:
        h.remove()
    facts = {}
    for path, module in model.named_modules():
        if not path:
            continue
        shape = outputs.get(path)
        if shape is not None and len(shape) == 3:
            shape = (shape[1], shape[2], shape[0])
        trainable = sum(p.numel() for p in module.parameters())
        statistics = sum(b.numel() for key, b in module.named_buffers() if not key.endswith("num_batches_tracked"))
        facts[path.replace(".", "_")] = (shape, trainable, statistics, next(module.children(), None) is None)
    return facts


def _inside(ours, name):
    return [r for r in ours.rows if r.name == name or r.name.startswith(name + "_")]


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_calculator_equals_torchvision(name):
    facts, ours = torchvision_facts(name), table(name)
    top = [f for path, f in facts.items() if "_" not in path]  # the top-level modules hold every weight once
    assert (ours.trainable_params, ours.non_trainable_params) == (sum(f[1] for f in top), sum(f[2] for f in top))
    rows = {r.name: r for r in ours.rows}
    for path, (shape, trainable, statistics, leaf) in facts.items():
        inside = _inside(ours, path)
        if leaf and trainable:
            assert path in rows, f"torchvision's {path} has no spec layer of that name"
        if inside:  # a module's weights are those of the spec layers under its name
            assert (sum(r.trainable for r in inside), sum(r.non_trainable for r in inside)) == (trainable, statistics), path
        if path in rows and shape is not None:
            assert squeezed(rows[path].output_shape) == squeezed(shape), path


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_stages_have_the_same_shapes(name):
    facts, ours = torchvision_facts(name), table(name)
    outputs = TORCHVISION[name][2]
    for stage in TORCHVISION_STAGES[name]:
        assert squeezed(ours.row(outputs.get(stage, stage)).output_shape) == squeezed(facts[stage][0]), stage
        assert sum(r.params for r in _inside(ours, stage)) == facts[stage][1] + facts[stage][2], stage


# -- both backends -----------------------------------------------------------------------
def library_totals(name: str) -> tuple[int, int]:
    if name in KERAS:
        return keras_totals(name)
    facts = torchvision_facts(name)
    top = [f for path, f in facts.items() if "_" not in path]
    return sum(f[1] for f in top), sum(f[2] for f in top)


def library_stage_shapes(name: str) -> dict[str, tuple]:
    if name in KERAS:
        return {s: keras_model_facts(name)[s][1] for s in KERAS[name][1]}
    outputs = TORCHVISION[name][2]
    return {outputs.get(s, s): torchvision_facts(name)[s][0] for s in TORCHVISION_STAGES[name]}


@pytest.mark.parametrize("backend_name", ["tensorflow", "pytorch"])
@pytest.mark.parametrize("name", LANDMARKS)
def test_both_backends_build_the_library_model(name, backend_name):
    backends = get_registry().backends()
    if backend_name not in backends:
        pytest.skip(f"the {backend_name} backend is not registered")
    want_totals, want_stages = library_totals(name), library_stage_shapes(name)
    backend = backends[backend_name]
    model = backend.build(get_registry().architectures()[name])
    try:
        info = {i.name: i for i in backend.summary(model)}
    finally:
        del model
        gc.collect()
    assert (sum(i.trainable for i in info.values()), sum(i.non_trainable for i in info.values())) == want_totals
    for stage, shape in want_stages.items():
        assert squeezed(info[stage].output_shape) == squeezed(shape), stage


# -- the library's weights give the library's outputs --------------------------------------
# Counts and shapes cannot see where a padding pixel goes or which BatchNorm epsilon is used; values can.
# The library model's own (random) weights, moved into the models the backends build from the file,
# must give the library's activations at every stage (-m slow: a forward pass of every model thrice).
def _close(got, want, name):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64).reshape(np.shape(got))
    scale = max(float(np.abs(want).max()), 1e-6)
    assert np.abs(got - want).max() <= 1e-3 * scale, (name, float(np.abs(got - want).max()), scale)


def _into_backends(name, weights_for, x, want):
    """Build the file in each backend, give it the library's weights (Keras layout, by spec name),
    and compare the stage activations with the library's."""
    backends = get_registry().backends()
    for backend_name in ("tensorflow", "pytorch"):
        if backend_name not in backends:
            continue
        backend = backends[backend_name]
        model = backend.build(get_registry().architectures()[name])
        ours = backend.get_weights(model)
        backend.set_weights(model, {n: [np.asarray(a, dtype=np.float32).reshape(o.shape) for a, o in zip(w, ours[n])]
                                    for n, w in weights_for(ours).items()})
        got = backend.activations(model, x, list(want))
        for stage, value in want.items():
            _close(got[stage], value, f"{backend_name} {stage}")
        del model
        gc.collect()


@pytest.mark.slow  # 20-80 s each on two CPU cores
@pytest.mark.parametrize("name", sorted(KERAS))
def test_keras_applications_weights_give_keras_applications_outputs(name):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    model = getattr(keras.applications, KERAS[name][0])(weights=None)
    for layer in model.layers:  # moving statistics away from 0 and 1, so a wrong epsilon or order shows
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([gamma, beta, rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, var.shape)])
        elif type(layer).__name__ == "Normalization":  # EfficientNet's input scaling: 0..255 -> 0..1, see below
            layer.set_weights([np.zeros(3), np.ones(3), np.zeros((), dtype="int64")])
    h, w, _ = get_registry().architectures()[name].input_shape
    x = rng.uniform(0, 1, (2, h, w, 3)).astype("float32")
    stages = KERAS[name][1]
    fed = x * 255 if name in NOT_IN_SPEC else x  # Keras' Rescaling(1/255) and identity Normalization give x
    outputs = keras.Model(model.inputs, [model.get_layer(s).output for s in stages]).predict(fed, verbose=0)
    want = dict(zip(stages, outputs))
    by_layer = {layer.name: layer.get_weights() for layer in model.layers}
    pairs = [(row.name, group) for row, group in keras_pairs(name, facts_of(model)) if row.params]
    del model
    keras.backend.clear_session()
    gc.collect()
    _into_backends(name, lambda ours: {n: [a for k in group for a in by_layer[k]] for n, group in pairs}, x, want)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_weights_give_torchvision_outputs(name):
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision.models")
    function, kwargs, outputs = TORCHVISION[name]
    torch.manual_seed(0)
    model = getattr(tv, function)(weights=None, **kwargs).eval()
    weights = {}
    with torch.no_grad():
        for path, module in model.named_modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                weights[path] = [module.weight, module.bias, module.running_mean, module.running_var]
            elif isinstance(module, torch.nn.Conv2d):  # (O, I, H, W) -> Keras' (H, W, I, O)
                weights[path] = [module.weight.permute(2, 3, 1, 0)] + ([module.bias] if module.bias is not None else [])
            elif isinstance(module, torch.nn.Linear):
                weights[path] = [module.weight.T, module.bias]
    weights = {path.replace(".", "_"): [t.detach().numpy() for t in ts] for path, ts in weights.items()}
    x = np.random.default_rng(0).normal(0, 1, (2, 224, 224, 3)).astype("float32")
    captured, modules = {}, dict(model.named_modules())
    stages = TORCHVISION_STAGES[name]
    hooks = [modules[s].register_forward_hook(lambda m, i, o, s=s: captured.__setitem__(s, o.detach().clone().numpy()))
             for s in stages]
    with torch.inference_mode():
        model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
    for h in hooks:
        h.remove()
    want = {}
    for stage in stages:
        value = captured[stage]
        if value.ndim == 4:
            value = value.transpose(0, 2, 3, 1)
        if stage == "fc":  # torchvision gives logits; the file ends in the softmax
            value = np.exp(value - value.max(1, keepdims=True))
            value = value / value.sum(1, keepdims=True)
        want[outputs.get(stage, stage)] = value
    _into_backends(name, lambda ours: weights, x, want)


# -- registered for training -------------------------------------------------------------
def test_the_training_page_offers_every_landmark(lesson_app):
    at = lesson_app("training")
    assert set(LANDMARKS) <= set(at.selectbox(key="tr_arch").options)


@pytest.mark.slow  # about two minutes an epoch at 224x224 on two CPU cores
@pytest.mark.parametrize("backend_name", ["tensorflow", "pytorch"])
def test_a_landmark_fine_tunes_from_its_keras_named_layer(capsys, backend_name):
    """`workbench train --from-layer conv_pw_13` freezes MobileNet before keras.applications' layer of that name."""
    import json

    from workbench.cli import main

    code = main(["train", "--dataset", "shapes", "--arch", "mobilenet", "--backend", backend_name, "--epochs", "1",
                 "--batch-size", "32", "--from-layer", "conv_pw_13", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert len(result["history"]) == 1 and np.isfinite(result["history"][0]["loss"])
    assert np.array(result["test"]["confusion_matrix"]).shape == (3, 3)

""""Show the code": the generated Keras and PyTorch files run as they are (in a subprocess, one per
framework for every architecture), build a model with the calculator's parameter count (oracle:
workbench.shapes, itself held to Keras and torch) and complete one training step on random data."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from conftest import require  # importorskip, but a failure under CI=true
from workbench import augment as A
from workbench import lookup, shapes
from workbench import spec as S
from workbench.codegen import GENERATORS, Settings
from workbench.codegen import keras_writer as KC
from workbench.codegen import torch_writer as TC

# The course documents' architectures (the lecture's MNIST CNN, the CS671 report's three, cnn1, the
# CS 577 report's residual and inception CNNs, LeNet-5), and one small spec holding every layer type.
DOCUMENTS = ["mnist-cnn", "cnn1", "residual-cifar10", "inception-cifar10", "lenet-5"]
LARGE = ["architecture-1", "architecture-2", "architecture-3"]  # 224x224 inputs: the slow run
EVERY_TYPE = S.parse_architecture({
    "name": "every type", "input_shape": [17, 17, 3], "num_classes": 2, "layers": [
        {"type": "ZeroPadding2D", "padding": [[1, 0], [0, 1]]},
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"},
        {"type": "DepthwiseConv2D", "kernel_size": 3, "padding": "same", "depth_multiplier": 2, "use_bias": False},
        {"type": "BatchNormalization"},
        {"type": "SeparableConv2D", "filters": 12, "kernel_size": 3, "activation": "swish"},
        {"type": "SqueezeExcite", "units": 3},
        {"type": "Residual", "body": [{"type": "Conv2D", "filters": 12, "kernel_size": 1, "activation": "relu"}],
         "shortcut": []},
        {"type": "Inception", "branches": [[], [{"type": "MaxPooling2D", "pool_size": 3, "strides": 1, "padding": "same"}],
                                           [{"type": "AveragePooling2D", "pool_size": 3, "strides": 1, "padding": "same"}]]},
        {"type": "MaxPooling2D", "pool_size": 2, "padding": "same"},
        {"type": "Activation", "activation": "tanh"},
        {"type": "GlobalAveragePooling2D"},
        {"type": "Dropout", "rate": 0.2},
        {"type": "Dense", "units": 1, "activation": "sigmoid"},
    ]})

# One step: as many random images as one batch, one epoch.
ONE_STEP = Settings(epochs=1, batch_size=4, samples=4)
AUGMENTED = replace(ONE_STEP, optimizer="momentum", augment=A.SEED_001, standardize=True)

HARNESS = r'''
import json, math, sys
framework, snippets = sys.argv[1], json.loads(sys.stdin.read())
if framework == "keras":  # one step per model: eager, rather than tracing a train function for each
    import functools, keras
    keras.Model.compile = functools.partialmethod(keras.Model.compile, run_eagerly=True)
out = {}
for name, code in snippets.items():
    space = {"__name__": "generated"}
    exec(compile(code, name, "exec"), space)
    model = space["model"]
    if framework == "keras":
        params, steps, losses = model.count_params(), int(model.optimizer.iterations), space["history"].history["loss"]
    else:
        # Keras counts BatchNormalization's moving mean and variance as (non-trainable) parameters
        stats = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
        params = sum(p.numel() for p in model.parameters()) + stats
        state = list(space["optimizer"].state.values())
        steps = int(state[0]["step"]) if state and "step" in state[0] else -1
        losses = space["history"]
    out[name] = {"params": int(params), "steps": steps, "losses": [float(v) for v in losses]}
print("RESULT " + json.dumps(out))
'''


def run_generated(framework: str, snippets: dict[str, str]) -> dict:
    env_python = sys.executable
    done = subprocess.run([env_python, "-c", HARNESS, framework], input=json.dumps(snippets), capture_output=True,
                          text=True, timeout=600, env={**__import__("os").environ, "OMP_NUM_THREADS": "1",
                                                       "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    return json.loads(lines[-1][len("RESULT "):])


def check_generated(framework: str, names: list[str], every_type: bool):
    require("keras" if framework == "keras" else "torch")
    if framework == "pytorch":
        require("torchvision")
    archs = {name: lookup.architecture(name) for name in names}
    if every_type:
        archs["every type"] = EVERY_TYPE
    snippets = {name: GENERATORS[framework](arch, ONE_STEP) for name, arch in archs.items()}
    if every_type:
        snippets["mnist-cnn augmented"] = GENERATORS[framework](archs["mnist-cnn"], AUGMENTED)
    found = run_generated(framework, snippets)
    expected = {name: shapes.compute(arch).total_params for name, arch in archs.items()}
    if every_type:
        expected["mnist-cnn augmented"] = expected["mnist-cnn"]
    assert {name: r["params"] for name, r in found.items()} == expected
    for name, result in found.items():
        assert len(result["losses"]) == 1 and all(map(lambda v: v == v and abs(v) < 1e6, result["losses"])), name
        if framework == "keras" or "augmented" not in name:  # SGD with momentum keeps no step count in torch
            assert result["steps"] == 1, (name, result)


@pytest.mark.parametrize("framework", ["keras", "pytorch"])
def test_generated_code_builds_the_calculators_model_and_takes_one_step(framework):
    check_generated(framework, DOCUMENTS, every_type=True)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["keras", "pytorch"])
def test_generated_code_for_the_cs671_architectures(framework):
    check_generated(framework, LARGE, every_type=False)


def test_keras_code_is_sequential_unless_the_spec_branches():
    assert "keras.Sequential([" in KC.keras_code(lookup.architecture("mnist-cnn"))
    functional = KC.keras_code(lookup.architecture("residual-cifar10"))
    assert "keras.Model(inputs, x" in functional and "layers.Add(name='add')" in functional


def test_the_settings_are_written_out():
    settings = replace(AUGMENTED, learning_rate=0.05, epochs=3, batch_size=16)
    keras_text = KC.keras_code(lookup.architecture("cnn1"), settings)
    torch_text = TC.torch_code(lookup.architecture("cnn1"), settings)
    assert "keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)" in keras_text
    assert "epochs=3" in keras_text and ".batch(16)" in keras_text and "RandomRotation(40 / 360" in keras_text
    assert "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)" in torch_text
    assert "batch_size=16" in torch_text and "epochs=3" in torch_text and "v2.RandomAffine(degrees=40" in torch_text
    assert "(x_train - mean) / (std + 1e-4)" in keras_text and "(x_train - mean) / (std + 1e-4)" in torch_text


def test_each_generator_has_one_rule_per_layer_type():
    keras_special = set(KC.CODE)
    assert keras_special <= set(S.LAYER_TYPES.values())
    assert set(TC.CODE) == set(S.LAYER_TYPES.values())


def test_a_pretrained_model_without_a_spec_has_no_code():
    from workbench.registry import get_registry

    native = next(a for a in get_registry().architectures().values() if not a.is_spec)
    for generate in GENERATORS.values():
        with pytest.raises(ValueError, match="no spec"):
            generate(native)

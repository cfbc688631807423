"""Saving, loading and freezing, in both backends.

- save/load round trips give identical logits; the file is safetensors with the architecture
  JSON beside it, readable by the other backend too; a pickle is never unpickled.
- set_trainable reproduces seed 001's VGG16 numbers: 30 trainable weight arrays, 4 after
  freezing the conv base, and fine-tuning from block5_conv1; the summary's counts follow.
"""

import json
import os
import pickle

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = require("torch")
require("tensorflow")

from workbench import shapes  # noqa: E402
from workbench import spec as S  # noqa: E402
from workbench.registry import get_registry  # noqa: E402
from workbench.model_facts import arch_of  # noqa: E402

SMALL = S.parse_architecture({"name": "io-small", "input_shape": [8, 8, 3], "num_classes": 3, "layers": [
    {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"type": "BatchNormalization"},
    {"type": "Residual", "body": [{"type": "SeparableConv2D", "filters": 4, "kernel_size": 3, "padding": "same"}]},
    {"type": "MaxPooling2D"},
    {"type": "Flatten"},
    {"type": "Dense", "activation": "softmax"},
]})
X = np.random.default_rng(0).random((3, 8, 8, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def backends():
    found = get_registry().backends()
    return {"pytorch": found["pytorch"], "tensorflow": found["tensorflow"]}


def trained_looking(backend, model, seed):
    rng = np.random.default_rng(seed)
    draw = lambda a: rng.normal(0, 0.3, a.shape) if a.ndim > 1 else rng.uniform(0.5, 1.5, a.shape)  # noqa: E731
    weights = {name: [np.asarray(draw(a), np.float32) for a in arrays]
               for name, arrays in backend.get_weights(model).items()}
    backend.set_weights(model, weights)


@pytest.mark.parametrize("saver", ["pytorch", "tensorflow"])
def test_save_load_round_trip_and_across_backends(backends, tmp_path, saver):
    backend = backends[saver]
    model = backend.build(SMALL, seed=1)
    trained_looking(backend, model, seed=7)
    path = backend.save(model, tmp_path / "model")
    assert path.name == "model.safetensors" and path.is_file()
    described = json.loads((tmp_path / "model.json").read_text())
    assert S.parse_architecture(described["architecture"]) == SMALL

    loaded = backend.load(tmp_path / "model")
    np.testing.assert_array_equal(backend.logits(loaded, X), backend.logits(model, X))
    assert arch_of(loaded) == SMALL
    other_name = "tensorflow" if saver == "pytorch" else "pytorch"
    other = backends[other_name].load(path)  # the Keras layout loads in the other backend as well
    np.testing.assert_allclose(backends[other_name].logits(other, X), backend.logits(model, X), atol=1e-4)


def test_spec_model_saved_as_weights_h5_is_written_as_safetensors(backends, tmp_path):
    """A Keras user's habit (model.weights.h5) must not give a file that cannot be read back."""
    backend = backends["tensorflow"]
    model = backend.build(SMALL, seed=1)
    path = backend.save(model, tmp_path / "model.weights.h5")
    assert path.name == "model.safetensors" and not (tmp_path / "model.weights.h5").exists()
    np.testing.assert_array_equal(backend.logits(backend.load(path), X), backend.logits(model, X))


class _Boom:
    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_load_never_unpickles(backends, tmp_path):
    boom = _Boom()
    boom.marker = str(tmp_path / "unpickled")
    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps({"w": boom}))
    (tmp_path / "evil.json").write_text(json.dumps({"architecture": json.loads(S.dumps_architecture(SMALL))}))
    for backend in backends.values():
        with pytest.raises(Exception):
            backend.load(tmp_path / "evil.safetensors")
    assert not (tmp_path / "unpickled").exists()


def test_missing_file_is_a_clear_error(backends, tmp_path):
    for backend in backends.values():
        with pytest.raises(FileNotFoundError, match="no saved model"):
            backend.load(tmp_path / "nothing")


def seed001_vgg16_head() -> S.Architecture:
    """Seed 001: VGG16's conv base at 150x150, Flatten, Dense(256, relu), Dense(1, sigmoid)."""
    vgg = get_registry().architectures()["vgg16"]
    base = [S.layer_to_dict(layer) for layer in vgg.layers[: [l.name for l in vgg.layers].index("block5_pool") + 1]]
    return S.parse_architecture({
        "name": "vgg16-cats-dogs", "input_shape": [150, 150, 3], "num_classes": 1,
        "layers": base + [{"type": "Flatten", "name": "flatten"},
                          {"type": "Dense", "units": 256, "activation": "relu", "name": "dense"},
                          {"type": "Dense", "units": 1, "activation": "sigmoid", "name": "out"}]})


def trainable_arrays(backend_name, model) -> int:
    if backend_name == "pytorch":
        return sum(p.requires_grad for p in model.parameters())
    return len(model.trainable_weights)


@pytest.mark.parametrize("backend_name", ["pytorch", "tensorflow"])
def test_set_trainable_reproduces_seed_001(backends, backend_name):
    backend = backends[backend_name]
    arch = seed001_vgg16_head()
    table = shapes.compute(arch)
    model = backend.build(arch)
    assert trainable_arrays(backend_name, model) == 30
    backend.set_trainable(model, "flatten")  # conv_base.trainable = False
    assert trainable_arrays(backend_name, model) == 4
    rows = backend.summary(model)
    assert sum(r.trainable for r in rows) == 8192 * 256 + 256 + 257
    assert sum(r.non_trainable for r in rows) == table.total_params - (8192 * 256 + 256 + 257)

    backend.set_trainable(model, "block5_conv1")  # fine-tune the last conv block
    assert trainable_arrays(backend_name, model) == 10
    rows = backend.summary(model)
    frozen = [r.name for r in table.rows[: [r.name for r in table.rows].index("block5_conv1")]]
    assert all(r.trainable == 0 and r.non_trainable == r.params for r in rows if r.name in frozen)
    assert sum(r.trainable for r in rows) == sum(r.params for r in table.rows if r.name not in frozen)

    backend.set_trainable(model, None)
    assert trainable_arrays(backend_name, model) == 30
    with pytest.raises(ValueError, match="no layer named 'block9'"):
        backend.set_trainable(model, "block9")


def test_frozen_batchnorm_counts_all_four_arrays_as_non_trainable(backends):
    for backend in backends.values():
        model = backend.build(SMALL)
        backend.set_trainable(model, "residual_1")
        bn = {r.name: r for r in backend.summary(model)}["batch_normalization_1"]
        assert (bn.trainable, bn.non_trainable) == (0, 16)

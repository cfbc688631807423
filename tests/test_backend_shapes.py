"""Invariant 2 of the design: for every registered spec architecture, the shape calculator's
per-layer output shapes and parameter counts (total, trainable, non-trainable) equal those of
the real Keras model and the real PyTorch module that the backends build."""

import gc
import os

import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
require("torch")
require("tensorflow")

from workbench import shapes  # noqa: E402
from workbench import spec as S  # noqa: E402
from workbench.registry import get_registry  # noqa: E402
from workbench.model_facts import arch_of  # noqa: E402

SPEC_ARCHITECTURES = sorted(name for name, arch in get_registry().architectures().items() if arch.is_spec)


def rows_of(infos):
    return [(i.name, i.type, tuple(i.output_shape), i.params, i.trainable, i.non_trainable) for i in infos]


def test_the_registry_has_the_seed_architectures():
    assert {"mnist-cnn", "vgg16", "residual-cifar10", "inception-cifar10"} <= set(SPEC_ARCHITECTURES)


@pytest.mark.parametrize("name", SPEC_ARCHITECTURES)
def test_calculator_equals_keras_and_pytorch(name):
    registry = get_registry()
    arch = registry.architectures()[name]
    want = [(r.name, r.type, r.output_shape, r.params, r.trainable, r.non_trainable) for r in shapes.compute(arch).rows]
    for backend_name in ("tensorflow", "pytorch"):
        backend = registry.backends()[backend_name]
        model = backend.build(arch)
        got = rows_of(backend.summary(model))
        del model
        gc.collect()  # VGG-sized models: one at a time
        assert got == want, backend_name


def test_summary_reads_the_model_not_the_spec():
    """A different input size and class count change the real model, and the summary follows it."""
    arch = get_registry().architectures()["mnist-cnn"]
    for backend in get_registry().backends().values():
        model = backend.build(arch, input_shape=(36, 30, 3), num_classes=4)
        rows = backend.summary(model)
        assert rows_of(rows) == [
            (r.name, r.type, r.output_shape, r.params, r.trainable, r.non_trainable)
            for r in shapes.compute(arch.with_input((36, 30, 3)).with_classes(4)).rows
        ]
        assert rows[-1].output_shape == (4,) and rows[0].output_shape[:2] == (34, 28)
        assert arch_of(model).input_shape == (36, 30, 3)
        assert [r.name for r in rows] == backend.layer_names(model) == [l.name for l in S.walk(arch.layers)]

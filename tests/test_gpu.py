"""The GPU paths, on a machine that has one (`bin/test -m gpu`): models are built on the GPU, the
explanation methods and training run there, and the GPU gives the CPU's numbers."""

import copy
import os

import numpy as np
import pytest

from conftest import require  # importorskip, but a failure under CI=true

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = require("torch")

from workbench import lookup, samples  # noqa: E402
from workbench.backend import TrainConfig  # noqa: E402
from workbench.explain import GradCAM, GuidedBackprop, Lime, Occlusion, Saliency  # noqa: E402
from workbench.explain.batching import GPU_SIZES, candidates  # noqa: E402
from workbench.explain.inputs import load_model, model_inputs  # noqa: E402

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


@pytest.fixture(scope="module")
def pretrained():
    backend = lookup.backend("pytorch")
    model, arch = load_model(backend, "efficientnet-lite0")
    x, _ = model_inputs(arch, backend.name, [samples.load("chelsea"), samples.load("coffee")])
    return backend, model, x


def test_the_torch_backend_computes_on_the_gpu(pretrained):
    backend, model, _ = pretrained
    assert backend.device() == "cuda:0" and backend.device_name() == torch.cuda.get_device_name(0)
    assert next(model.parameters()).is_cuda


def test_explanations_on_the_gpu_equal_the_cpus(pretrained):
    backend, model, x = pretrained
    cpu = copy.deepcopy(model).to("cpu")  # the backend follows the model's device
    for method in (Saliency(), GuidedBackprop(), GradCAM()):
        on_gpu, on_cpu = method.explain(backend, model, x), method.explain(backend, cpu, x)
        assert on_gpu.targets == on_cpu.targets
        scale = np.abs(on_cpu.maps).max()
        np.testing.assert_allclose(on_gpu.maps, on_cpu.maps, atol=2e-3 * scale)  # TF32 / kernel order
        if on_gpu.cost.peak_memory is not None:
            assert on_gpu.cost.peak_memory > 0


def test_perturbation_batches_are_gpu_sized_and_deterministic(pretrained):
    backend, model, x = pretrained
    assert candidates(backend, x.shape[1:]) == GPU_SIZES
    occlusion = Occlusion().explain(backend, model, x[:1])
    assert occlusion.steps["batch"] >= GPU_SIZES[0]
    first, again = (Lime().explain(backend, model, x[:1], samples=300, seed=3) for _ in range(2))
    np.testing.assert_array_equal(first.maps, again.maps)


def test_training_runs_on_the_gpu():
    from workbench.training import TrainData, prepare

    backend = lookup.backend("pytorch")
    arch, splits, _ = prepare(lookup.dataset("digits-8x8"), lookup.architecture("lenet-5"))
    model = backend.build(arch)
    assert next(model.parameters()).is_cuda
    history = backend.train(model, TrainData(*splits["train"]), TrainConfig(epochs=2, batch_size=64))
    assert len(history) == 2 and history[-1]["loss"] < history[0]["loss"]


def test_tensorflow_sees_the_gpu_too():
    tf = require("tensorflow")
    if not tf.config.list_physical_devices("GPU"):
        pytest.skip("this TensorFlow build has no GPU support (tensorflow-cpu)")
    backend = lookup.backend("tensorflow")
    assert backend.device() == "GPU:0"

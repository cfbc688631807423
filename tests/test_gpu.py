"""The GPU paths, on a machine that has one (`bin/test -m gpu`): models are built on the GPU, and
the GPU gives the CPU's numbers, within stated tolerances: logits, the explanation maps (gradient
methods, Grad-CAM, occlusion, LIME) and a training step.

WORKBENCH_GPU_TEST_DEVICE=cpu runs the comparisons with a second CPU copy standing in for the GPU
(the API use is checked, the numbers trivially agree): how they are exercised without a GPU."""

import copy
import os

import numpy as np
import pytest

from conftest import require

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
torch = require("torch")

from workbench import lookup, samples  # noqa: E402
from workbench.backend import TrainConfig  # noqa: E402
from workbench.explain import GradCAM, GuidedBackprop, Lime, Occlusion, Saliency  # noqa: E402
from workbench.explain.batching import GPU_SIZES, candidates  # noqa: E402
from workbench.explain.inputs import load_model, model_inputs  # noqa: E402

STAND_IN = os.environ.get("WORKBENCH_GPU_TEST_DEVICE") == "cpu"
DEVICE = "cpu" if STAND_IN else "cuda:0"
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not STAND_IN and not torch.cuda.is_available(), reason="no CUDA device")]

# TF32 matmuls and other kernel orders: relative to the largest value of what is compared
LOGITS_RTOL, MAP_RTOL, WEIGHT_RTOL = 1e-3, 2e-3, 1e-3


@pytest.fixture(scope="module")
def pretrained():
    backend = lookup.backend("pytorch")
    model, arch = load_model(backend, "efficientnet-lite0")
    model = model.to(DEVICE)
    x, _ = model_inputs(arch, backend.name, [samples.load("chelsea"), samples.load("coffee")])
    return backend, model, copy.deepcopy(model).to("cpu"), x  # the backend follows each model's device


def close(a, b, rtol):
    np.testing.assert_allclose(a, b, atol=rtol * max(np.abs(b).max(), 1e-12))


def test_the_torch_backend_computes_on_the_gpu(pretrained):
    backend, model, _, _ = pretrained
    if STAND_IN:
        pytest.skip("stand-in run: there is no GPU to report")
    assert backend.device() == "cuda:0" and backend.device_name() == torch.cuda.get_device_name(0)
    assert next(model.parameters()).is_cuda


def test_logits_on_the_gpu_equal_the_cpus(pretrained):
    backend, model, cpu, x = pretrained
    on_gpu, on_cpu = backend.predict(model, x), backend.predict(cpu, x)
    close(on_gpu, on_cpu, LOGITS_RTOL)
    assert (on_gpu.argmax(1) == on_cpu.argmax(1)).all()


@pytest.mark.parametrize("method", [Saliency(), GuidedBackprop(), GradCAM()], ids=lambda m: m.name)
def test_gradient_maps_on_the_gpu_equal_the_cpus(pretrained, method):
    backend, model, cpu, x = pretrained
    on_gpu, on_cpu = method.explain(backend, model, x), method.explain(backend, cpu, x)
    assert on_gpu.targets == on_cpu.targets
    close(on_gpu.maps, on_cpu.maps, MAP_RTOL)
    if not STAND_IN and on_gpu.cost.peak_memory is not None:
        assert on_gpu.cost.peak_memory > 0


def test_occlusion_and_lime_on_the_gpu_equal_the_cpus(pretrained):
    backend, model, cpu, x = pretrained
    params = dict(window=56, stride=28)
    close(Occlusion().explain(backend, model, x[:1], **params).maps,
          Occlusion().explain(backend, cpu, x[:1], **params).maps, MAP_RTOL)
    # LIME: the same seed draws the same samples; the fit sees probabilities equal to ~1e-3, so its
    # coefficients agree to the same order (the ridge fit is linear in them)
    lime = dict(samples=200, seed=3, algorithm="slic", segments=20)
    on_gpu, on_cpu = Lime().explain(backend, model, x[:1], **lime), Lime().explain(backend, cpu, x[:1], **lime)
    np.testing.assert_array_equal(on_gpu.steps["superpixels"], on_cpu.steps["superpixels"])
    close(on_gpu.maps, on_cpu.maps, 1e-2)


def test_perturbation_batches_are_gpu_sized_and_deterministic(pretrained):
    backend, model, _, x = pretrained
    if STAND_IN:
        pytest.skip("stand-in run: batch sizes are measured on the CPU")
    assert candidates(backend, x.shape[1:]) == GPU_SIZES
    assert Occlusion().explain(backend, model, x[:1]).steps["batch"] >= GPU_SIZES[0]
    first, again = (Lime().explain(backend, model, x[:1], samples=300, seed=3) for _ in range(2))
    np.testing.assert_array_equal(first.maps, again.maps)


def test_a_training_step_on_the_gpu_equals_the_cpus():
    from workbench.training import TrainData, prepare

    backend = lookup.backend("pytorch")
    arch, splits, _ = prepare(lookup.dataset("digits-8x8"), lookup.architecture("lenet-5"))
    x, y = splits["train"]
    model = backend.build(arch, seed=0).to(DEVICE)
    cpu = copy.deepcopy(model).to("cpu")
    config = TrainConfig(epochs=1, batch_size=64, optimizer="sgd", learning_rate=0.05)
    data = TrainData(x[:64], y[:64])  # one batch: one step of plain SGD
    on_gpu, on_cpu = backend.train(model, data, config), backend.train(cpu, data, config)
    assert abs(on_gpu[0]["loss"] - on_cpu[0]["loss"]) <= LOGITS_RTOL * on_cpu[0]["loss"]
    after_gpu, after_cpu = backend.get_weights(model), backend.get_weights(cpu)
    for name in after_cpu:
        for a, b in zip(after_gpu[name], after_cpu[name]):
            close(a, b, WEIGHT_RTOL)


def test_tensorflow_sees_the_gpu_too():
    tf = require("tensorflow")
    if STAND_IN or not tf.config.list_physical_devices("GPU"):
        pytest.skip("this TensorFlow build has no GPU support (tensorflow-cpu)")
    assert lookup.backend("tensorflow").device() == "GPU:0"

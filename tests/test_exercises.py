"""The built-in exercises (workbench.exercises, registered by the lessons plugin): each check passes
a right attempt and says why a wrong one is not there yet, measured by the workbench's own tools
against numbers worked out here by hand."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require
from workbench import lookup, spec
from workbench.registry import get_registry
from workbench.runs import RunSpec, TrainedRun


def exercise(name):
    return get_registry().exercises()[name]


def test_every_built_in_exercise_is_registered_for_a_lesson():
    registry = get_registry()
    found = registry.exercises()
    assert {"last-conv-5x5x64", "mnist-95-in-3", "sgd-diverges", "occlusion-flips"} <= set(found)
    assert all(e.lesson in registry.lessons() for e in found.values())


def test_missing_work_is_not_yet_never_an_error():
    verdict = exercise("mnist-95-in-3").judge(runs=None)
    assert not verdict.passed and "nothing to check yet" in verdict.why


# -- the calculator: last convolution 5x5x64 with fewer than 50,000 parameters ----------------
def net(*middle, head=({"type": "Dense", "units": 10, "activation": "softmax"},)):
    conv = {"type": "Conv2D", "kernel_size": 3, "activation": "relu"}
    return spec.parse_architecture({"name": "attempt", "input_shape": [28, 28, 1], "num_classes": 10, "layers": [
        {**conv, "filters": 32}, {"type": "MaxPooling2D"}, {**conv, "filters": 64}, {"type": "MaxPooling2D"},
        *middle, {"type": "Flatten"}, *head]})


def test_a_5x5x64_network_under_budget_passes():
    # 28 -> 26 -> 13 -> 11 -> 5, a 1x1 convolution keeps 5x5x64: 320 + 18,496 + 4,160 + 16,010 = 38,986
    attempt = net({"type": "Conv2D", "filters": 64, "kernel_size": 1})
    verdict = exercise("last-conv-5x5x64").judge(architecture=attempt)
    assert verdict.passed and "5x5x64" in verdict.why and "38,986 parameters" in verdict.why


def test_the_lectures_mnist_cnn_is_not_yet_and_says_why():
    verdict = exercise("last-conv-5x5x64").judge(architecture=lookup.architecture("mnist-cnn"))
    assert not verdict.passed
    assert "outputs 3x3x64 (asked 5x5x64)" in verdict.why and "93,322 parameters (asked fewer than 50,000)" in verdict.why


def test_the_right_shape_over_budget_is_not_yet():
    # the same 5x5x64, then Dense(64): 1,600 * 64 + 64 = 102,464 weights in that layer alone
    attempt = net({"type": "Conv2D", "filters": 64, "kernel_size": 1},
                  head=({"type": "Dense", "units": 64}, {"type": "Dense", "units": 10, "activation": "softmax"}))
    verdict = exercise("last-conv-5x5x64").judge(architecture=attempt)
    assert not verdict.passed and "(asked 5x5x64)" not in verdict.why and "asked fewer than 50,000" in verdict.why


# -- training: 95% on mnist-5k in at most three epochs --------------------------------------
def run(dataset, epochs, wrong, n=200):
    """A finished run whose test predictions are right except ``wrong`` of ``n`` images."""
    labels = np.arange(n) % 10
    pred = labels.copy()
    pred[:wrong] = (pred[:wrong] + 1) % 10
    return TrainedRun(RunSpec(dataset, "mnist-cnn", "pytorch"), f"run {dataset} {epochs}", None, None, None,
                      [{"epoch": e + 1} for e in range(epochs)], 4000, tuple(map(str, range(10))), labels,
                      np.eye(10)[pred])


def test_96_percent_in_three_epochs_passes():
    verdict = exercise("mnist-95-in-3").judge(runs=[run("mnist-5k", 5, 0), run("mnist-5k", 3, 8)])
    assert verdict.passed and "96.0% test accuracy after 3 epochs" in verdict.why


@pytest.mark.parametrize("runs,why", [
    ([run("mnist-5k", 3, 20)], "90.0% test accuracy after 3 epochs"),
    ([run("mnist-5k", 4, 0)], "100.0% test accuracy after 4 epochs"),
    ([run("digits-8x8", 1, 0)], "no run on mnist-5k"),
])
def test_too_low_too_long_or_another_dataset_is_not_yet(runs, why):
    verdict = exercise("mnist-95-in-3").judge(runs=runs)
    assert not verdict.passed and why in verdict.why


# -- optimizers: SGD diverging on Rosenbrock (the framework's own SGD) ------------------------
@pytest.fixture(scope="module")
def backend():
    require("torch")
    return lookup.backend("pytorch")


def race(backend, surface, lr):
    from workbench.optimize.race import race as run_race
    from workbench.optimize.surfaces import SURFACES

    surf = SURFACES[surface]
    return surf, run_race(backend, surf, ["sgd"], 100, lr, None, "defaults")


def test_sgd_at_a_large_rate_diverges_on_rosenbrock(backend):
    # at the start (-1.5, 1.5), df/dx = -2(1 - x) - 400 x (y - x^2) = -455: a step of 4.55 at lr 0.01
    surf, paths = race(backend, "rosenbrock", 0.01)
    verdict = exercise("sgd-diverges").judge(surface=surf, paths=paths)
    assert verdict.passed and "learning rate 0.01" in verdict.why


def test_sgd_at_a_small_rate_converges_and_another_surface_does_not_count(backend):
    surf, paths = race(backend, "rosenbrock", 1e-4)
    verdict = exercise("sgd-diverges").judge(surface=surf, paths=paths)
    assert not verdict.passed and "it converges" in verdict.why
    surf, paths = race(backend, "ellipse", 10.0)
    verdict = exercise("sgd-diverges").judge(surface=surf, paths=paths)
    assert not verdict.passed and "not rosenbrock" in verdict.why


# -- explanations: a square whose occlusion flips the prediction -------------------------------
def test_occluding_a_square_flips_a_linear_model_or_not(backend):
    # Flatten + Dense(2): the logit difference is d(x) = a.x + b, and d(0) = b. Scaled up, x and -x have
    # differences of opposite signs, so hiding the whole image flips exactly one of them.
    arch = spec.parse_architecture({"name": "linear", "input_shape": [8, 8, 1], "num_classes": 2, "layers": [
        {"type": "Flatten"}, {"type": "Dense", "units": 2, "activation": "softmax"}]})
    model = backend.build(arch)
    x = 50 * np.random.default_rng(0).standard_normal((8, 8, 1)).astype(np.float32)
    blank = backend.predict(model, np.zeros((1, 8, 8, 1), np.float32))[0].argmax()
    flips = next(v for v in (x, -x) if backend.predict(model, v[None])[0].argmax() != blank)
    stays = -flips
    check = exercise("occlusion-flips")
    passed = check.judge(backend=backend, model=model, image=flips, box=(0, 0, 8), class_names=("cat", "dog"))
    assert passed.passed and "turns" in passed.why
    kept = check.judge(backend=backend, model=model, image=stays, box=(0, 0, 8), class_names=("cat", "dog"))
    assert not kept.passed and "still says" in kept.why
    outside = check.judge(backend=backend, model=model, image=flips, box=(4, 4, 8))
    assert not outside.passed and "not inside" in outside.why

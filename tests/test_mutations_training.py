"""Training guards the mutation audit found missing (issue 17): a Stop asked for *during* an epoch
ends the run after the current batch in both backends (mutation 3), and each backend's training
runs the optimizer it names, step for step as the framework documents it (mutation 4: PyTorch's
adagrad silently mapped to RMSprop). The oracle for the optimizers is numpy: softmax regression
trained on one full batch per epoch, its gradient written out, each framework's update rule with
its own defaults (the two frameworks differ in eps, rho and Adagrad's starting accumulator)."""

import threading

import numpy as np
import pytest

from workbench import lookup
from workbench.backend import TrainConfig
from workbench.spec import parse_architecture
from workbench.training import TrainData, prepare

BACKENDS = ["pytorch", "tensorflow"]

TINY = parse_architecture({"name": "tiny", "input_shape": [28, 28, 1], "num_classes": 3, "layers": [
    {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
    {"type": "MaxPooling2D", "pool_size": 4},
    {"type": "Flatten"},
    {"type": "Dense", "units": 3, "activation": "softmax"}]})


def optimizer_steps(backend, model, run) -> int:
    """How many optimizer steps `run()` took on `model`: Keras counts them itself; for torch a
    forward hook counts the forward passes in training mode (evaluation runs in eval mode)."""
    if backend.name == "tensorflow":
        before = int(model.optimizer.iterations.numpy()) if getattr(model, "optimizer", None) is not None else 0
        run()
        return int(model.optimizer.iterations.numpy()) - before
    calls = []
    handle = model.register_forward_hook(lambda module, args, out: calls.append(1) if module.training else None)
    try:
        run()
    finally:
        handle.remove()
    return len(calls)


@pytest.mark.parametrize("name", BACKENDS)
def test_a_stop_during_an_epoch_ends_the_run_after_the_current_batch(name):
    """The student clicks Stop while epoch 2 runs: here the flag is set as epoch 1 ends (on_epoch
    runs between the epochs), so epoch 2 must stop after its first batch, not run to its end."""
    arch, splits, _ = prepare(lookup.dataset("shapes"), TINY)
    (x, y), (xv, yv) = splits["train"], splits["val"]
    stop = threading.Event()
    data = TrainData(x[:320], y[:320], xv[:64], yv[:64], stop=stop)
    backend = lookup.backend(name)
    model = backend.build(arch, seed=0)
    history = []

    def on_epoch(record):
        if record["epoch"] == 1:
            stop.set()

    steps = optimizer_steps(backend, model, lambda: history.extend(
        backend.train(model, data, TrainConfig(epochs=4, batch_size=32), on_epoch)))
    assert [r["epoch"] for r in history] == [1, 2]
    assert "stopped" not in history[0] and history[1]["stopped"].startswith("stopped by the user")
    assert steps == 10 + 1  # epoch 1's ten batches of 32, then epoch 2's first batch: "after the current batch"
    assert np.isfinite(history[1]["loss"])  # the partial epoch is reported, and evaluated
    assert history[1]["val_accuracy"] is not None


class StopAfterPolls(threading.Event):
    """A Stop that arrives during epoch 1: set from the k-th time training asks whether to stop.
    Training asks between batches; if it asked only between epochs, the run would last k epochs."""

    def __init__(self, k: int):
        super().__init__()
        self.k, self.polls = k, 0

    def is_set(self) -> bool:
        self.polls += 1
        if self.polls >= self.k:
            self.set()
        return super().is_set()


@pytest.mark.parametrize("name", BACKENDS)
def test_a_stop_in_the_first_epoch_ends_it_early(name):
    arch, splits, _ = prepare(lookup.dataset("shapes"), TINY)
    (x, y) = splits["train"]
    stop = StopAfterPolls(4)
    data = TrainData(x[:320], y[:320], stop=stop)
    backend = lookup.backend(name)
    model = backend.build(arch, seed=0)
    history = []
    steps = optimizer_steps(backend, model, lambda: history.extend(
        backend.train(model, data, TrainConfig(epochs=5, batch_size=32))))
    assert len(history) == 1 and history[0]["stopped"].startswith("stopped by the user")
    assert 1 <= steps < 10  # inside epoch 1 (ten batches)


# -- the optimizers, against numpy --------------------------------------------------------------
SOFTMAX_REGRESSION = parse_architecture({"name": "softmax-regression", "input_shape": [2, 2, 1], "num_classes": 3,
                                         "layers": [{"type": "Flatten"},
                                                    {"type": "Dense", "units": 3, "activation": "softmax", "name": "out"}]})


def gradient(w, b, x, y):
    """Mean cross-entropy of softmax(x w + b) and its gradient, by hand."""
    z = x @ w + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return [x.T @ p / len(y), p.mean(axis=0)]


def adagrad(framework, lr):
    init, eps = {"pytorch": (0.0, 1e-10), "tensorflow": (0.1, 1e-7)}[framework]

    def step(p, g, s, t):
        s.setdefault("acc", np.full_like(p, init))
        s["acc"] = s["acc"] + g * g
        if framework == "pytorch":  # torch.optim.Adagrad: eps outside the root
            return p - lr * g / (np.sqrt(s["acc"]) + eps)
        return p - lr * g / np.sqrt(s["acc"] + eps)
    return step


def rmsprop(framework, lr):
    rho = 0.9  # torch's alpha is set to Keras' rho (the course's 0.9)

    def step(p, g, s, t):
        s["v"] = rho * s.get("v", np.zeros_like(p)) + (1 - rho) * g * g
        if framework == "pytorch":
            return p - lr * g / (np.sqrt(s["v"]) + 1e-8)
        return p - lr * g / np.sqrt(s["v"] + 1e-7)
    return step


def adadelta(framework, lr):
    rho, eps = {"pytorch": (0.9, 1e-6), "tensorflow": (0.95, 1e-7)}[framework]

    def step(p, g, s, t):
        s["v"] = rho * s.get("v", np.zeros_like(p)) + (1 - rho) * g * g
        delta = np.sqrt(s.get("u", np.zeros_like(p)) + eps) / np.sqrt(s["v"] + eps) * g
        s["u"] = rho * s.get("u", np.zeros_like(p)) + (1 - rho) * delta * delta
        return p - lr * delta
    return step


def nadam(framework, lr):
    b1, b2 = 0.9, 0.999
    # the momentum schedule mu_t = b1 (1 - 0.5 * 0.96^(t psi)): torch's psi is 0.004, Keras' is 1
    psi, eps = {"pytorch": (0.004, 1e-8), "tensorflow": (1.0, 1e-7)}[framework]
    mu = lambda t: b1 * (1 - 0.5 * 0.96 ** (t * psi))  # noqa: E731

    def step(p, g, s, t):
        s["prod"] = s.get("prod", 1.0) * mu(t)
        s["m"] = b1 * s.get("m", np.zeros_like(p)) + (1 - b1) * g
        s["v"] = b2 * s.get("v", np.zeros_like(p)) + (1 - b2) * g * g
        denom = np.sqrt(s["v"] / (1 - b2 ** t)) + eps
        m_hat = mu(t + 1) * s["m"] / (1 - s["prod"] * mu(t + 1)) + (1 - mu(t)) * g / (1 - s["prod"])
        return p - lr * m_hat / denom
    return step


def adam(framework, lr):
    eps = {"pytorch": 1e-8, "tensorflow": 1e-7}[framework]

    def step(p, g, s, t):
        s["m"] = 0.9 * s.get("m", np.zeros_like(p)) + 0.1 * g
        s["v"] = 0.999 * s.get("v", np.zeros_like(p)) + 0.001 * g * g
        if framework == "tensorflow":  # Keras folds the bias corrections into the rate; eps on sqrt(v)
            return p - lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * s["m"] / (np.sqrt(s["v"]) + eps)
        return p - lr * (s["m"] / (1 - 0.9 ** t)) / (np.sqrt(s["v"] / (1 - 0.999 ** t)) + eps)
    return step


RULES = {"adagrad": adagrad, "rmsprop": rmsprop, "adadelta": adadelta, "nadam": nadam, "adam": adam}


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("optimizer", list(RULES))
def test_training_runs_the_named_optimizer_step_for_step(name, optimizer):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 2, 2, 1)).astype(np.float32)
    y = np.arange(12) % 3
    backend = lookup.backend(name)
    model = backend.build(SOFTMAX_REGRESSION, seed=1)
    w, b = (a.astype(np.float64) for a in backend.get_weights(model)["out"])
    lr, epochs = 0.05, 4
    history = backend.train(model, TrainData(x, y), TrainConfig(epochs=epochs, batch_size=12, optimizer=optimizer,
                                                                learning_rate=lr))
    assert len(history) == epochs
    step = RULES[optimizer](name, lr)
    states = [{}, {}]
    flat = x.reshape(12, 4).astype(np.float64)
    for t in range(1, epochs + 1):  # one full batch per epoch: one step each
        gw, gb = gradient(w, b, flat, y)
        w, b = step(w, gw, states[0], t), step(b, gb, states[1], t)
    trained = backend.get_weights(model)["out"]
    np.testing.assert_allclose(trained[0], w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(trained[1], b, rtol=1e-4, atol=1e-6)
    start = backend.build(SOFTMAX_REGRESSION, seed=1)
    assert np.abs(trained[0] - backend.get_weights(start)["out"][0]).max() > 10 * 1e-6  # it moved

"""Training in both backends: learning happens, divergence is caught and explained, a run can be
stopped, early stopping and freezing work (the optimizers themselves: tests/test_optimize_*.py)."""

import threading

import numpy as np
import pytest

from workbench import lookup
from workbench.backend import TrainConfig
from workbench.spec import parse_architecture
from workbench.training import Progress, TrainData, check_config, prepare

BACKENDS = ["pytorch", "tensorflow"]

TINY = parse_architecture({"name": "tiny", "input_shape": [28, 28, 1], "num_classes": 3, "layers": [
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "activation": "relu"},
    {"type": "MaxPooling2D", "pool_size": 4},
    {"type": "Flatten"},
    {"type": "Dense", "units": 3, "activation": "softmax"}]})


@pytest.fixture(scope="module")
def shapes_data():
    arch, splits, _ = prepare(lookup.dataset("shapes"), TINY)
    (x, y), (xv, yv) = splits["train"], splits["val"]
    return arch, TrainData(x[:300], y[:300], xv[:90], yv[:90])


@pytest.mark.parametrize("name", BACKENDS)
def test_loss_decreases(name, shapes_data):
    arch, data = shapes_data
    backend = lookup.backend(name)
    model = backend.build(arch, seed=0)
    seen = []
    history = backend.train(model, data, TrainConfig(epochs=4, batch_size=32, learning_rate=3e-3), seen.append)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4] and seen == history
    assert set(history[0]) >= {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert history[-1]["loss"] < 0.8 * history[0]["loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    # the reported val accuracy is the model's own, as predict sees it after training
    acc = (backend.predict(model, data.x_val).argmax(1) == data.y_val).mean()
    assert acc == pytest.approx(history[-1]["val_accuracy"], abs=1e-6)


@pytest.mark.parametrize("name", BACKENDS)
def test_divergence_is_stopped_and_explained(name, shapes_data):
    arch, data = shapes_data
    backend = lookup.backend(name)
    history = backend.train(backend.build(arch), data, TrainConfig(epochs=5, optimizer="sgd", learning_rate=1e6))
    assert len(history) < 5
    assert "diverged" in history[-1]["stopped"] and "learning rate 1e+06 is too large" in history[-1]["stopped"]


@pytest.mark.parametrize("name", BACKENDS)
def test_stop_from_on_epoch_and_from_a_flag(name, shapes_data):
    arch, data = shapes_data
    backend = lookup.backend(name)
    history = backend.train(backend.build(arch), data, TrainConfig(epochs=5), lambda record: False)
    assert len(history) == 1 and history[0]["stopped"] == "stopped after epoch 1"
    flag = threading.Event()
    flag.set()
    stopped = TrainData(data.x, data.y, data.x_val, data.y_val, stop=flag)
    history = backend.train(backend.build(arch), stopped, TrainConfig(epochs=5))
    assert len(history) == 1 and "stopped by the user" in history[0]["stopped"]


@pytest.mark.parametrize("name", BACKENDS)
def test_one_training_at_a_time_per_model(name, shapes_data):
    arch, data = shapes_data
    backend = lookup.backend(name)
    model = backend.build(arch)
    started, release = threading.Event(), threading.Event()

    def hold(record):  # the first run waits at its first epoch's end
        started.set()
        release.wait(60)

    worker = threading.Thread(target=backend.train, args=(model, data, TrainConfig(epochs=1), hold))
    worker.start()
    try:
        assert started.wait(60)
        with pytest.raises(RuntimeError, match="already training"):
            backend.train(model, data, TrainConfig(epochs=1))
        assert len(backend.train(backend.build(arch), data, TrainConfig(epochs=1))) == 1  # another model may
    finally:
        release.set()
        worker.join()
    assert len(backend.train(model, data, TrainConfig(epochs=1))) == 1  # and this one again, once free


@pytest.mark.parametrize("name", BACKENDS)
def test_frozen_layers_do_not_change(name, shapes_data):
    arch, data = shapes_data
    backend = lookup.backend(name)
    model = backend.build(arch)
    before = backend.get_weights(model)
    backend.set_trainable(model, "dense_1")
    backend.train(model, data, TrainConfig(epochs=1, learning_rate=1e-2))
    after = backend.get_weights(model)
    for w0, w1 in zip(before["conv2d_1"], after["conv2d_1"]):
        np.testing.assert_array_equal(w0, w1)
    assert not np.allclose(before["dense_1"][0], after["dense_1"][0])


@pytest.mark.parametrize("name", BACKENDS)
def test_binary_sigmoid_head(name):
    arch = parse_architecture({"name": "faces", "input_shape": [25, 25, 1], "num_classes": 1, "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
        {"type": "Flatten"}, {"type": "Dense", "units": 1, "activation": "sigmoid"}]})
    arch, splits, _ = prepare(lookup.dataset("faces-lfw"), arch)
    assert arch.num_classes == 1  # a one-unit sigmoid head stays binary
    backend = lookup.backend(name)
    model = backend.build(arch)
    history = backend.train(model, TrainData(*splits["train"], *splits["val"]), TrainConfig(epochs=3, batch_size=16))
    assert history[-1]["loss"] < history[0]["loss"]
    p = backend.predict(model, splits["val"][0])[:, 0]
    assert ((p > 0.5) == splits["val"][1]).mean() == pytest.approx(history[-1]["val_accuracy"], abs=1e-6)


def test_progress_early_stopping_and_config_checks():
    p = Progress(check_config(TrainConfig(early_stopping=2)), num_classes=10)
    for epoch, val in enumerate([1.0, 0.8, 0.9, 0.85], 1):
        go_on = p.end_epoch(epoch, 0.5, 0.9, val, 0.7)
    assert not go_on and "early stopping" in p.history[-1]["stopped"] and "best 0.8000 at epoch 2" in p.stopped
    assert check_config(optimizer="SGD+momentum").optimizer == "momentum"
    for bad, message in (({"optimizer": "adamw"}, "unknown optimizer"), ({"learning_rate": -1}, "positive"),
                         ({"epochs": 0}, "at least 1"), ({"augment": "zoom_range=2"}, "between")):
        with pytest.raises(ValueError, match=message):
            check_config(**bad)

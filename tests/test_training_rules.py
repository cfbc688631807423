"""workbench.training's rules in numpy, with no framework: the optimizer names, the checked
settings, the data as a model is fed, divergence, early stopping and Stop, against hand numbers
(the backends' runs that report to these: tests/test_training.py, tests/test_mutations_training.py).
Fast, so `bin/mutate training` can run them for every mutant."""

import math
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from workbench import lookup
from workbench.backend import TrainConfig
from workbench.data import Dataset
from workbench.spec import parse_architecture
from workbench.training import (
    OPTIMIZERS,
    Progress,
    TrainData,
    check_config,
    diverged,
    head_kind,
    input_normalization,
    optimizer_name,
    predicted,
    prepare,
    with_dataset_head,
)


def spec(units=3, activation="softmax", last="Dense"):
    layers = [{"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "Flatten"}]
    layers.append({"type": "Dense", "units": units, "activation": activation} if last == "Dense"
                  else {"type": "Activation", "activation": activation})
    return parse_architecture({"name": "rules", "input_shape": [6, 6, 1], "num_classes": units, "layers": layers})


def tiny_dataset(classes=3, per_split=4, side=4, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {s: (rng.random((per_split, side, side, 1)).astype(np.float32), np.arange(per_split) % classes)
              for s in ("train", "val", "test")}
    return Dataset("tiny", "four images a split", tuple(f"c{i}" for i in range(classes)), (side, side, 1),
                   lambda: arrays)


def test_optimizer_names_aliases_and_case():
    for name in OPTIMIZERS:
        assert optimizer_name(name.upper()) == name
    for alias, name in {"SGD+momentum": "momentum", "sgd_momentum": "momentum", "sgd-momentum": "momentum",
                        "NAG": "nesterov"}.items():
        assert optimizer_name(alias) == name
    with pytest.raises(ValueError) as error:
        optimizer_name("adamw")
    assert "'adamw'" in str(error.value) and ", ".join(OPTIMIZERS) in str(error.value)
    assert OPTIMIZERS["adagrad"] == "Adagrad" and OPTIMIZERS["nesterov"] == "Nesterov momentum"


def test_check_config_accepts_the_smallest_settings_and_normalises_them():
    c = check_config(TrainConfig(), epochs=1.0, batch_size="1", learning_rate="0.5", optimizer="ADAM",
                     early_stopping=1, augment="")
    assert (c.epochs, c.batch_size, c.learning_rate, c.optimizer, c.early_stopping, c.augment) == (1, 1, 0.5, "adam", 1, {})
    assert type(c.epochs) is int and type(c.batch_size) is int and type(c.learning_rate) is float
    assert check_config(early_stopping=None).early_stopping is None
    assert check_config().optimizer == optimizer_name(TrainConfig().optimizer)  # no config: the defaults
    flipped = check_config(augment="horizontal_flip=true").augment
    assert flipped and flipped["horizontal_flip"] is True


@pytest.mark.parametrize("bad, message", [
    ({"epochs": 0}, "epochs must be at least 1, got 0"), ({"batch_size": 0}, "batch size must be at least 1, got 0"),
    ({"learning_rate": 0}, "positive number, got 0"), ({"learning_rate": math.inf}, "positive number, got inf"),
    ({"learning_rate": math.nan}, "positive number, got nan"),
    ({"early_stopping": 0}, "patience must be at least 1 epoch, got 0")])
def test_check_config_refuses_with_the_reason(bad, message):
    with pytest.raises(ValueError, match=message):
        check_config(**bad)


def test_train_data_as_the_model_is_fed():
    x = np.zeros((2, 3, 3, 1), dtype=np.float64)[:, ::-1]  # a non-contiguous float64 view
    d = TrainData(x, [0.0, 1.0], x_val=np.ones((1, 3, 3, 1)), y_val=[1.0])
    assert d.x.dtype == np.float32 and d.x.flags.c_contiguous and d.y.dtype == np.int64
    assert d.x_val.dtype == np.float32 and d.x_val.flags.c_contiguous and d.y_val.dtype == np.int64
    assert d.has_val and not TrainData(x, [0, 1]).has_val
    assert not TrainData(x, [0, 1], x_val=np.zeros((0, 3, 3, 1)), y_val=[]).has_val
    assert TrainData(x, [0, 4]).num_classes == 5 and TrainData(x, [0, 0]).num_classes == 2  # at least binary
    for bad_x, bad_y in ((np.zeros((2, 3, 3)), [0, 1]), (x, [0]), (np.zeros((0, 3, 3, 1)), [])):
        with pytest.raises(ValueError, match="one label each"):
            TrainData(bad_x, bad_y)


def test_head_kind_and_divergence_by_hand():
    assert [head_kind(n) for n in (1, 2, 10)] == ["binary", "sparse", "sparse"]
    for loss in (math.nan, math.inf, -math.inf):
        assert diverged(loss, 1.0) == "the loss became NaN or infinite"
    assert diverged(50.0, 1.0) is None and diverged(2.3 * 49.9, 2.3) is None
    assert diverged(123.4, 2.3) == "the loss exploded to 123 (an untrained model scores about 2.3)"


def test_the_divergence_limit_is_50_times_an_untrained_models_loss():
    # ln(10) = 2.303 for ten classes; two classes score at least 1 (ln 2 = 0.69 would be lower)
    assert not Progress(check_config()).batch(50.1, 1)  # no class count given: binary
    for classes, below, above in ((10, 115.0, 115.2), (2, 49.9, 50.1), (1, 49.9, 50.1)):
        p = Progress(check_config(learning_rate=0.1, optimizer="adagrad"), num_classes=classes)
        assert p.batch(below, 1) and p.stopped is None
        assert not p.batch(above, 2)
        assert p.stopped.startswith("diverged in epoch 2: the loss exploded to ")
        assert p.stopped.endswith("The learning rate 0.1 is too large for Adagrad; try 0.01 or smaller.")
        assert not p.batch(1.0, 2)  # stopped stays stopped
    p = Progress(TrainConfig(optimizer="my-own"))  # a name the workbench does not know: said as given
    assert not p.batch(math.nan, 1) and "too large for my-own;" in p.stopped


def test_a_stop_between_batches_and_in_a_batch():
    stop = threading.Event()
    p = Progress(check_config(), stop=stop)
    assert not p.interrupted() and p.batch(0.5, 1)
    assert not Progress(check_config()).interrupted()  # no event: never
    stop.set()
    assert p.interrupted() and p.stopped == "stopped by the user"
    q = Progress(check_config(), stop=stop)
    assert not q.batch(0.5, 3) and q.stopped == "stopped by the user during epoch 3"
    assert q.interrupted() and q.stopped == "stopped by the user during epoch 3"  # the first reason stays
    r = Progress(check_config(learning_rate=1.0), stop=stop)
    assert not r.batch(math.nan, 1) and r.stopped.startswith("diverged in epoch 1")  # divergence says why first


def test_an_epoch_is_recorded_as_plain_numbers():
    seen = []
    p = Progress(check_config(), on_epoch=seen.append)
    start = time.perf_counter()
    p.start_epoch()
    assert p.end_epoch(1, np.float32(0.5), np.float64(0.25))
    took = time.perf_counter() - start  # the epoch's seconds lie within what the clock saw around it
    record = p.history[0]
    assert record == {"epoch": 1, "loss": 0.5, "accuracy": 0.25, "val_loss": None, "val_accuracy": None,
                      "seconds": record["seconds"]}
    assert type(record["loss"]) is float and type(record["seconds"]) is float and 0 <= record["seconds"] <= took + 1e-4
    assert p.end_epoch(3, 0.5, 0.25, np.float32(0.75), 0.5) and p.history[-1]["val_accuracy"] == 0.5
    assert seen[0] == record and seen[0] is not record  # the callback gets a copy
    assert p.end_epoch(2, None, None) and p.history[2]["loss"] is None


def test_early_stopping_counts_epochs_since_the_best_and_a_tie_is_no_improvement():
    p = Progress(check_config(early_stopping=2))
    assert [p.end_epoch(e, 0.5, 0.5, v, 0.5) for e, v in enumerate([1.0, 1.0, 1.0], 1)] == [True, True, False]
    assert p.stopped == "early stopping: val_loss has not improved for 2 epoch(s) (best 1.0000 at epoch 1)"
    assert p.history[-1]["stopped"] == p.stopped and "stopped" not in p.history[0]
    p = Progress(check_config(early_stopping=1))
    assert p.end_epoch(1, 0.5, 0.5, 0.9, 0.5) and p.end_epoch(2, 0.5, 0.5, 0.8, 0.5)
    assert not p.end_epoch(3, 0.5, 0.5, 0.85, 0.5) and "best 0.8000 at epoch 2" in p.stopped
    p = Progress(check_config(early_stopping=2))  # a NaN validation loss never improves on "none yet"
    assert p.end_epoch(1, 0.5, 0.5, math.nan, 0.5) and not p.end_epoch(2, 0.5, 0.5, math.nan, 0.5)
    assert "(best inf at epoch 0)" in p.stopped
    for patience, val in ((None, 1.0), (1, None)):  # no patience, or no validation: never
        p = Progress(check_config(early_stopping=patience))
        assert all(p.end_epoch(e, 0.5, 0.5, val, None) for e in range(1, 5))


def test_an_epoch_ends_the_run_when_diverged_stopped_or_the_callback_says_so():
    p = Progress(check_config(learning_rate=0.1, optimizer="sgd"), num_classes=2)
    assert not p.end_epoch(3, math.inf, 0.1)
    assert p.history[-1]["stopped"] == ("diverged in epoch 3: the loss became NaN or infinite. The learning "
                                        "rate 0.1 is too large for SGD; try 0.01 or smaller.")
    stop = threading.Event()
    stop.set()
    p = Progress(check_config(), stop=stop)
    assert not p.end_epoch(1, 0.5, 0.5) and p.history[-1]["stopped"] == "stopped by the user"
    p = Progress(check_config(), on_epoch=lambda record: record["epoch"] < 2)
    assert p.end_epoch(1, 0.5, 0.5) and p.stopped is None
    assert not p.end_epoch(2, 0.5, 0.5) and p.stopped == "stopped after epoch 2"
    assert p.history[-1]["stopped"] == "stopped after epoch 2"
    p = Progress(check_config(), on_epoch=lambda record: False, stop=stop)
    assert not p.end_epoch(1, 0.5, 0.5) and p.stopped == "stopped by the user"  # the first reason stays


class Probabilities:
    """What a backend's predict answers, here given: the rows predicted reads."""

    def __init__(self, probs):
        self.probs, self.calls = np.asarray(probs), []

    def predict(self, model, x, batch_size=32):
        self.calls.append((model, len(x)))
        return self.probs


def test_predicted_reads_a_sigmoid_unit_as_two_classes_and_nan_as_no_vote():
    b = Probabilities([[0.2], [0.7], [np.nan]])
    probs, classes = predicted(b, "model", np.zeros((3, 2, 2, 1)))
    np.testing.assert_allclose(probs[:2], [[0.8, 0.2], [0.3, 0.7]])
    assert classes.tolist() == [0, 1, 0] and b.calls == [("model", 3)]
    _, classes = predicted(Probabilities([[0.1, np.nan, 0.5], [0.6, 0.3, 0.1]]), None, np.zeros((2, 2, 2, 1)))
    assert classes.tolist() == [2, 0]


def test_prepare_resizes_limits_and_standardises_with_training_statistics_only():
    ds = tiny_dataset()
    arch, splits, standardizer = prepare(ds, spec(units=5), limit=3)
    assert arch.num_classes == 3 and arch.layers[-1].units == 3  # the head sized to the dataset
    _, y = ds.load("train")
    assert splits["train"][0].shape == (3, 6, 6, 1) and splits["train"][1].tolist() == y[:3].tolist()
    assert splits["val"][0].shape == (4, 6, 6, 1) and standardizer is None
    constant = Dataset("grey", "", ("a", "b"), (4, 4, 1), lambda: {s: (np.full((2, 4, 4, 1), 0.25), [0, 1])
                                                                     for s in ("train", "val", "test")})
    np.testing.assert_allclose(prepare(constant, spec())[1]["test"][0], 0.25, atol=1e-6)  # bilinear keeps a flat image
    _, splits, standardizer = prepare(ds, spec(), standardize=True)
    train = splits["train"][0]
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-5)
    raw_train = prepare(ds, spec())[1]["train"][0]
    raw_val = prepare(ds, spec())[1]["val"][0]
    expected = (raw_val - raw_train.mean(0)) / (raw_train.std(0) + 1e-4)
    np.testing.assert_allclose(splits["val"][0], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(standardizer.mean, raw_train.mean(0), atol=1e-6)


@pytest.mark.parametrize("backend, expected", [
    ("pytorch", [(0.5 - m) / s for m, s in ((0.485, 0.229), (0.456, 0.224), (0.406, 0.225))]),
    # Keras' VGG16: caffe-style, BGR, 0..255 less the ImageNet means (123.68, 116.779, 103.939), no std
    ("tensorflow", [127.5 - 103.939, 127.5 - 116.779, 127.5 - 123.68])],
    ids=["torchvision-recipe", "keras-recipe"])  # ids without a backend's name: bin/mutate training's -k keeps them
def test_prepare_feeds_a_pretrained_model_its_own_normalisation_and_a_new_head(backend, expected):
    vgg = replace(lookup.architecture("vgg16-imagenet"), input_shape=(4, 4, 3))  # a small input: the maths is per pixel
    grey = Dataset("grey", "", ("a", "b", "c"), (4, 4, 1), lambda: {s: (np.full((1, 4, 4, 1), 0.5), [0])
                                                                      for s in ("train", "val", "test")})
    arch, splits, _ = prepare(grey, vgg, backend=backend)
    assert arch.num_classes == 3 and arch.class_names is None
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(splits[split][0][0, 0, 0], expected, rtol=1e-4)
    assert input_normalization(vgg, backend).bgr == (backend == "tensorflow")
    with pytest.raises(ValueError, match=r"\(ImageNet normalisation\); per-pixel standardisation would change "
                                         "what they see: leave it off$"):
        prepare(grey, vgg, standardize=True, backend=backend)


def test_input_normalization_only_for_a_registered_pretrained_model():
    assert input_normalization(spec()) is None
    vgg = lookup.architecture("vgg16-imagenet")
    assert input_normalization(replace(vgg, name="unregistered-native"), "pytorch") is None
    assert input_normalization(vgg, "pytorch").std == (0.229, 0.224, 0.225)


def test_the_dataset_head():
    assert with_dataset_head(spec(1, "sigmoid"), 2).layers[-1].units == 1  # a sigmoid unit stays binary
    assert with_dataset_head(spec(1, "sigmoid"), 3).layers[-1].units == 3
    assert with_dataset_head(spec(1, "linear"), 2).layers[-1].units == 2
    assert with_dataset_head(spec(2, "sigmoid"), 2).layers[-1].units == 2
    assert with_dataset_head(spec(1, "sigmoid", last="Activation"), 2).num_classes == 2
    vgg = lookup.architecture("vgg16-imagenet")
    assert with_dataset_head(vgg, 1000) is vgg
    fixed = replace(vgg, new_head=False)
    assert with_dataset_head(fixed, 1000) is fixed
    with pytest.raises(ValueError) as error:
        with_dataset_head(fixed, 5)
    fine_tune = lookup.architecture("efficientnet-lite0").name
    assert "cannot be given a head for 5 classes" in str(error.value) and f"({fine_tune})" in str(error.value)

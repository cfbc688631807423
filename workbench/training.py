"""What both backends' training shares, in numpy: the optimizer names, checked settings, the
data to train on as a model is fed, and the per-epoch bookkeeping (history, early stopping,
divergence, stop). One whole run (data, model, training, test) is workbench.runs.

Each backend's plugins/<x>/training.py runs the framework's own optimizer, loss and data
pipeline and reports to a `Progress`, so the rules for stopping are written once, here.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, NamedTuple

import numpy as np

from workbench import augment as A
from workbench.backend import TrainConfig
from workbench.graph import two_columns

if TYPE_CHECKING:
    from workbench.data import Standardizer
    from workbench.spec import Architecture

# The optimizers of the lecture slides "CNNs part II", by the names the CLI and the page use.
OPTIMIZERS = {
    "sgd": "SGD", "momentum": "SGD with momentum", "nesterov": "Nesterov momentum", "adagrad": "Adagrad",
    "adadelta": "Adadelta", "rmsprop": "RMSprop", "adam": "Adam", "adamax": "AdaMax", "nadam": "Nadam",
    "amsgrad": "AMSGrad",
}
_ALIASES = {"sgd+momentum": "momentum", "sgd_momentum": "momentum", "sgd-momentum": "momentum", "nag": "nesterov"}

EXPLODED = 50.0  # a loss this many times its starting value has diverged


def optimizer_name(name: str) -> str:
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    return key


def check_config(config: TrainConfig | None = None, **changes) -> TrainConfig:
    """A TrainConfig with its names normalised and its numbers checked (clear messages)."""
    config = replace(config or TrainConfig(), **changes)
    if int(config.epochs) < 1:
        raise ValueError(f"epochs must be at least 1, got {config.epochs}")
    if int(config.batch_size) < 1:
        raise ValueError(f"batch size must be at least 1, got {config.batch_size}")
    lr = float(config.learning_rate)
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"the learning rate must be a positive number, got {config.learning_rate}")
    if config.early_stopping is not None and int(config.early_stopping) < 1:
        raise ValueError(f"early stopping patience must be at least 1 epoch, got {config.early_stopping}")
    aug = A.parse(config.augment)
    return replace(config, epochs=int(config.epochs), batch_size=int(config.batch_size), learning_rate=lr,
                   optimizer=optimizer_name(config.optimizer), augment=aug.as_dict() if aug.active else {})


@dataclass
class TrainData:
    """Arrays to train on (NHWC float32, int labels), validation optional; `stop` ends a run between batches."""

    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    stop: threading.Event | None = None

    def __post_init__(self):
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        if self.x_val is not None:
            self.x_val = np.ascontiguousarray(self.x_val, dtype=np.float32)
            self.y_val = np.asarray(self.y_val, dtype=np.int64)
        if self.x.ndim != 4 or len(self.x) != len(self.y) or len(self.x) == 0:
            raise ValueError(f"training data must be NHWC images with one label each, got {self.x.shape}, {self.y.shape}")

    @property
    def num_classes(self) -> int:
        return max(int(self.y.max()) + 1, 2)

    @property
    def has_val(self) -> bool:
        return self.x_val is not None and len(self.x_val) > 0


def head_kind(num_outputs: int) -> str:
    """'binary' for a one-unit sigmoid head (binary cross-entropy), else 'sparse' (categorical)."""
    return "binary" if num_outputs == 1 else "sparse"


def diverged(loss: float, start: float) -> str | None:
    """Why this loss means the run diverged, or None. `start` is what an untrained model scores:
    ln(classes) for cross-entropy (a network guessing uniformly), at least 1."""
    if not math.isfinite(loss):
        return "the loss became NaN or infinite"
    if loss > EXPLODED * start:
        return f"the loss exploded to {loss:.3g} (an untrained model scores about {start:.3g})"
    return None


class Progress:
    """Per-epoch bookkeeping both backends report to; `stopped` says why a run ended early."""

    def __init__(self, config: TrainConfig, on_epoch: Callable[[dict], bool | None] | None = None,
                 stop: threading.Event | None = None, num_classes: int = 2):
        self.config, self.on_epoch, self.stop_event = config, on_epoch, stop
        self.history: list[dict] = []
        self.stopped: str | None = None
        self.start_loss = max(math.log(num_classes), 1.0)
        self.best = (math.inf, 0)  # (val_loss, epoch) for early stopping
        self._t0 = time.perf_counter()

    def start_epoch(self) -> None:
        self._t0 = time.perf_counter()

    def batch(self, loss: float, epoch: int) -> bool:
        """Called with a (running) batch loss; False: stop now (diverged, or asked to stop)."""
        if self.stopped:
            return False
        reason = diverged(loss, self.start_loss)
        if reason:
            self._diverged(reason, epoch)
        elif self.stop_event is not None and self.stop_event.is_set():
            self.stopped = f"stopped by the user during epoch {epoch}"
        return self.stopped is None

    def interrupted(self) -> bool:
        """The cheap between-batches check: a stop was asked for."""
        if self.stopped is None and self.stop_event is not None and self.stop_event.is_set():
            self.stopped = "stopped by the user"
        return self.stopped is not None

    def _diverged(self, reason: str, epoch: int) -> None:
        lr, name = self.config.learning_rate, OPTIMIZERS.get(self.config.optimizer, self.config.optimizer)
        self.stopped = (f"diverged in epoch {epoch}: {reason}. The learning rate {lr:g} is too large for "
                        f"{name}; try {lr / 10:g} or smaller.")

    def end_epoch(self, epoch: int, loss, accuracy, val_loss=None, val_accuracy=None) -> bool:
        """Record one epoch; False: stop training (diverged, early stopping, stop, on_epoch said so)."""
        record = {"epoch": epoch, "loss": _num(loss), "accuracy": _num(accuracy), "val_loss": _num(val_loss),
                  "val_accuracy": _num(val_accuracy), "seconds": round(time.perf_counter() - self._t0, 4)}
        if not self.stopped and record["loss"] is not None:
            reason = diverged(record["loss"], self.start_loss)
            if reason:
                self._diverged(reason, epoch)
        patience = self.config.early_stopping
        if not self.stopped and patience and record["val_loss"] is not None:
            if record["val_loss"] < self.best[0]:
                self.best = (record["val_loss"], epoch)
            elif epoch - self.best[1] >= patience:
                self.stopped = (f"early stopping: val_loss has not improved for {patience} epoch(s) "
                                f"(best {self.best[0]:.4f} at epoch {self.best[1]})")
        self.interrupted()
        if self.stopped:
            record["stopped"] = self.stopped
        self.history.append(record)
        if self.on_epoch is not None and self.on_epoch(dict(record)) is False and not self.stopped:
            self.stopped = f"stopped after epoch {epoch}"
            record["stopped"] = self.stopped
        return self.stopped is None


def _num(value) -> float | None:
    return None if value is None else float(value)


def predicted(backend, model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities per class, predicted class); a one-unit sigmoid head as two classes, and a
    diverged model's NaN as no vote."""
    probs = two_columns(backend.predict(model, x, batch_size=256))  # one sigmoid unit: P(class 1)
    return probs, np.nan_to_num(probs, nan=0.0).argmax(1)


class Prepared(NamedTuple):
    arch: "Architecture"  # head sized to the dataset's classes
    splits: dict  # split -> (x, y), as the model is fed
    standardizer: "Standardizer | None"  # fitted on the training split when asked for


def prepare(dataset, arch, standardize: bool = False, backend: str | None = None,
            limit: int | None = None) -> Prepared:
    """The dataset's splits as the architecture is fed, and the architecture with its head sized
    to the dataset's classes (a pretrained native model gets a new head: transfer learning).

    Images are resized to the architecture's input (grey becomes RGB for a colour model); a
    pretrained model's own normalisation (ImageNet's, by `backend` where the two differ) is
    applied to every split, otherwise per-pixel standardisation with training statistics only
    when asked. `limit` keeps the first training images only (before resizing: less memory).
    """
    from workbench import data as D

    pre = input_normalization(arch, backend)
    if pre is not None and standardize:
        raise ValueError(f"{arch.name} is fed as its pretrained weights expect (ImageNet normalisation); "
                         "per-pixel standardisation would change what they see: leave it off")
    arch = with_dataset_head(arch, dataset.num_classes)
    splits = {s: dataset.load(s) for s in dataset.splits}
    if limit:
        splits["train"] = tuple(a[:limit] for a in splits["train"])
    splits = {s: (D.resize(x, arch.input_shape), y) for s, (x, y) in splits.items()}
    if pre is not None:  # Preprocessing.normalize takes 0..255 images of the model's size
        splits = {s: (pre.normalize(x * 255.0), y) for s, (x, y) in splits.items()}
    standardizer = None
    if standardize:
        splits, standardizer = D.standardize(splits)
    return Prepared(arch, splits, standardizer)


def with_dataset_head(arch, num_classes: int):
    """A spec's last Dense layer resized (a one-unit sigmoid head stays binary for two classes);
    a native model's class count changed, which its builder answers with a fresh classifier."""
    if arch.is_spec:
        return arch.with_classes(1 if num_classes == 2 and _binary_head(arch) else num_classes)
    if num_classes != arch.num_classes and not arch.new_head:
        from workbench.registry import get_registry

        raise ValueError(f"{arch.name} cannot be given a head for {num_classes} classes; fine-tune a model "
                         f"that can ({get_registry().with_role('fine-tune').name}) or train a spec architecture")
    return replace(arch, num_classes=num_classes, class_names=None) if num_classes != arch.num_classes else arch


def input_normalization(arch, backend: str | None = None):
    """A pretrained native model's registered input normalisation (workbench.imagenet), or None."""
    from workbench import imagenet

    if arch.is_spec or not imagenet.registered(arch.name):
        return None  # a native model without a registered normalisation takes the images as they are
    return imagenet.preprocessing(arch.name, backend)


def _binary_head(arch) -> bool:
    from workbench import spec as S

    last = arch.layers[-1]
    return isinstance(last, S.Dense) and last.units == 1 and last.activation == "sigmoid"

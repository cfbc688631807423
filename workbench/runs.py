"""One training run, the same for the Training lesson and `workbench train`.

`RunSpec` is everything that defines a run; `run_training` is its one sequence (prepare the data,
build or continue the model, freeze before a layer, attach the standardiser, train with the
backend's own optimizer, predict the test split); `TrainedRun` is what a finished run hands on:
to the CLI's report, the lesson's results and runs overlay, and the explanation lesson.
A page that trains submits the run to the server's job queue (workbench.jobs.train).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from workbench import lookup
from workbench.backend import TrainConfig
from workbench.model_facts import attach
from workbench.training import Prepared, TrainData, check_config, predicted, prepare

if TYPE_CHECKING:
    from workbench.data import Standardizer
    from workbench.spec import Architecture


@dataclass(frozen=True)
class RunSpec:
    """What defines a training run (names as the registry and the CLI know them)."""

    dataset: str  # a registered dataset, or folder:PATH
    arch: str  # a registered architecture, or an architecture file
    backend: str  # tensorflow or pytorch
    config: TrainConfig = field(default_factory=TrainConfig)
    from_layer: str | None = None  # freeze every layer before it (None: all layers train)
    standardize: bool = False  # per-pixel standardisation with the training split's statistics
    limit: int | None = None  # the first training images only
    batch_stats: bool = False  # the frozen-BatchNorm trap (Backend.set_trainable): for the transfer lesson


@dataclass
class TrainedRun:
    """A finished run: the trained model and everything needed to read, compare or explain it."""

    spec: RunSpec  # its config checked (optimizer names normalised, augmentation parsed)
    label: str
    model: Any  # the backend's framework model, its facts attached (workbench.model_facts)
    arch: "Architecture"  # as trained: the dataset's head, with the dataset's class names
    standardizer: "Standardizer | None"
    history: list[dict]  # per epoch, as the backend reported it
    images: int  # training images seen per epoch
    class_names: tuple[str, ...]
    test_labels: np.ndarray
    test_probs: np.ndarray  # class probabilities of the test split (a one-unit head as two classes)
    dataset_name: str = ""  # the dataset's own name (a folder's, for folder:PATH)
    device: str = ""
    notes: tuple[str, ...] = ()  # what the dataset said while loading (skipped files ...)

    @property
    def backend(self) -> str:
        return self.spec.backend

    @property
    def stopped(self) -> str | None:
        """Why the run ended early (the user, divergence, early stopping), or None."""
        return self.history[-1].get("stopped") if self.history else None

    @property
    def test_pred(self) -> np.ndarray:
        """Predicted classes of the test split (a diverged model's NaN votes for nothing)."""
        return np.nan_to_num(self.test_probs, nan=0.0).argmax(1)

    @property
    def test_accuracy(self) -> float:
        return float((self.test_pred == self.test_labels).mean())

    def confusion(self) -> np.ndarray:
        """Rows: true class, columns: predicted class (scikit-learn's confusion matrix)."""
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(self.test_labels, self.test_pred, labels=list(range(len(self.class_names))))

    def test_report(self) -> dict:
        """Test loss (None for a diverged model: JSON has no NaN), accuracy and confusion matrix."""
        from sklearn.metrics import log_loss

        finite = bool(np.isfinite(self.test_probs).all())
        labels = list(range(len(self.class_names)))
        loss = log_loss(self.test_labels, np.clip(self.test_probs, 1e-7, 1), labels=labels) if finite else None
        return {"loss": None if loss is None else float(loss), "accuracy": self.test_accuracy,
                "confusion_matrix": self.confusion().tolist()}


def prepare_run(spec: RunSpec, dataset=None) -> Prepared:
    """The spec's data as its model is fed (workbench.training.prepare); the page caches this."""
    arch = lookup.architecture(spec.arch)
    dataset = dataset if dataset is not None else lookup.dataset(spec.dataset)
    # a spec model is fed the same whatever the backend; a pretrained one as its weights expect
    return prepare(dataset, arch, spec.standardize, None if arch.is_spec else lookup.backend(spec.backend).name,
                   spec.limit or None)


def run_training(spec: RunSpec, on_epoch: Callable[[dict], bool | None] | None = None,
                 stop: threading.Event | None = None, *, label: str = "", dataset=None,
                 prepared: Prepared | None = None, model=None) -> TrainedRun:
    """Train as `spec` says and test the result. `on_epoch` gets each epoch's record (False stops
    the run), `stop` ends it after the current batch; `dataset` and `prepared` save loading again
    what a caller already has, `model` continues training that model (fine-tuning)."""
    spec = replace(spec, config=check_config(spec.config))
    backend = lookup.backend(spec.backend)
    dataset = dataset if dataset is not None else lookup.dataset(spec.dataset)
    prepared = prepared if prepared is not None else prepare_run(spec, dataset)
    class_names = tuple(str(n) for n in dataset.class_names)
    if model is None:
        model = backend.build(prepared.arch, seed=spec.config.seed)
    backend.set_trainable(model, spec.from_layer, spec.batch_stats)  # None: every layer trains (again)
    attach(model, standardizer=prepared.standardizer)  # what it is fed goes with it (save, explanations)
    splits = prepared.splits
    data = TrainData(*splits["train"], *splits.get("val", (None, None)), stop=stop)
    history = backend.train(model, data, spec.config, on_epoch)
    x_test, y_test = splits["test"]
    return TrainedRun(
        spec=spec, label=label or f"{backend.name} {spec.config.optimizer} lr={spec.config.learning_rate:g}",
        model=model, arch=replace(prepared.arch, class_names=class_names), standardizer=prepared.standardizer,
        history=history, images=len(splits["train"][0]), class_names=class_names, test_labels=np.asarray(y_test),
        test_probs=predicted(backend, model, x_test)[0], dataset_name=dataset.name, device=backend.device(),
        notes=tuple(dataset.notes))

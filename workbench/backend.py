"""The Backend protocol: what a deep-learning backend plugin provides, numpy at its edges.

Images cross this boundary as float32 numpy arrays in NHWC layout (as Keras and the course
notes have them), whatever the framework uses inside. Layers are addressed by their spec
names, which are the same in every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol, Sequence, runtime_checkable

import numpy as np


# -- gradient targets --------------------------------------------------------------------
@dataclass(frozen=True)
class ClassScore:
    """The pre-softmax score (logit) of one class, per image. A one-unit sigmoid head has two
    classes: 1 is its logit, 0 the negative logit (sigmoid(-z) = 1 - sigmoid(z))."""

    index: int | Sequence[int]  # one class for all images, or one per image


@dataclass(frozen=True)
class ChannelMean:
    """The mean activation of one channel of a layer (gradient ascent, filter patterns); one
    channel for all images, or one per image (several channels climbed in one batch)."""

    layer: str
    channel: int | Sequence[int]


@dataclass(frozen=True)
class Neuron:
    """One activation of a layer: channel at position (row, col), or a unit of a Dense layer.
    channel, row and col are one value for all images, or one per image (each image's own neuron)."""

    layer: str
    channel: int | Sequence[int]
    row: int | Sequence[int] | None = None
    col: int | Sequence[int] | None = None


Target = ClassScore | ChannelMean | Neuron
Relu = Literal["plain", "guided"]


@dataclass
class LayerInfo:
    name: str
    type: str
    output_shape: tuple[int, ...]  # without the batch axis, NHWC order
    params: int
    trainable: int
    non_trainable: int


@dataclass
class TrainConfig:
    epochs: int = 5
    batch_size: int = 32
    optimizer: str = "adam"  # sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam, adamax, nadam, amsgrad
    learning_rate: float = 1e-3
    momentum: float = 0.9  # for momentum / nesterov
    augment: dict[str, Any] = field(default_factory=dict)  # ImageDataGenerator vocabulary
    early_stopping: int | None = None  # patience in epochs on val_loss
    seed: int = 0
    loss: str = "sparse_categorical_crossentropy"


@runtime_checkable
class Backend(Protocol):
    """Exactly what the core, the pages and the explainers call on a backend (tests/test_protocol.py
    holds every registered backend to it, and the code that calls backends to it)."""

    name: str  # "tensorflow", "pytorch"

    def device(self) -> str:
        """What the backend computes on: "cuda:0", "GPU:0", "cpu"."""

    def device_name(self) -> str:
        """The hardware's own name, for people: "NVIDIA H200", or the CPU's model."""

    def reset_peak_memory(self) -> None:
        """Start measuring peak accelerator memory afresh (a no-op on the CPU)."""

    def peak_memory(self) -> int | None:
        """Peak accelerator memory in bytes since reset_peak_memory (None on the CPU)."""

    def build(self, architecture, input_shape=None, num_classes=None, seed: int = 0) -> Any:
        """A fresh framework model for a workbench.spec.Architecture (or its native builder)."""

    def save(self, model, path) -> Any:
        """Save weights safely (safetensors / .weights.h5), with the architecture beside them; the file written."""

    def load(self, path) -> Any:
        """Load what save wrote; never unpickles code."""

    def export_formats(self) -> dict[str, str]:
        """The formats ``export`` writes ("onnx", "keras", ...: workbench.export's names) and their suffixes."""

    def export(self, model, path, fmt: str, transform) -> Any:
        """The model as a ``fmt`` file that takes NHWC pixels in [0, 1] (``transform``, a
        workbench.export.InputTransform, folded in) and gives class probabilities; the file written.
        ``load`` reads back the formats it can."""

    def layer_names(self, model) -> list[str]:
        """The addressable layers in order (a spec's: like workbench.shapes.compute's rows)."""

    def summary(self, model) -> list[LayerInfo]:
        """Per layer: name, type, output shape, parameters, trainable and non-trainable counts."""

    def logits(self, model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Pre-activation scores of the last layer (a final softmax/sigmoid left out)."""

    def predict(self, model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Class probabilities for NHWC images."""

    def activations(self, model, x: np.ndarray, layers: Sequence[str], batch_size: int = 64,
                    training: bool = False) -> dict[str, np.ndarray]:
        """The named layers' outputs (NHWC for images). training=True runs the layers as in a
        training step (Dropout drops and rescales, BatchNormalization uses the batch's statistics)
        without changing the model: moving statistics are left as they were."""

    def gradients(self, model, x: np.ndarray, target: Target, layer: str | None = None,
                  relu: Relu = "plain") -> tuple[np.ndarray, np.ndarray]:
        """(activations of `layer` or the input, d target / d those activations), summed over images."""

    def layer_config(self, model, layer: str) -> dict[str, Any]:
        """The framework's own layer behind a spec name: {"class", "settings", "defaults"}, where
        settings are its scalar attributes as built and defaults its class's constructor defaults."""

    def get_weights(self, model) -> dict[str, list[np.ndarray]]:
        """Per layer name, its weights in Keras layout and order (kernel HWIO, bias, ...)."""

    def set_weights(self, model, weights: dict[str, list[np.ndarray]]) -> None:
        """Load weights given in Keras layout (the inverse of get_weights)."""

    def set_trainable(self, model, from_layer: str | None, batch_stats: bool = False) -> None:
        """Freeze every layer before `from_layer` (None: everything trainable). Frozen layers run in
        inference mode while training; `batch_stats=True` reproduces the trap of keras issue 9214:
        frozen BatchNormalization layers normalise with each batch's statistics while training
        (their stored statistics and gamma/beta unchanged) and with the stored ones at inference."""

    def train(self, model, data, config: TrainConfig, on_epoch: Callable[[dict], bool | None] | None = None) -> list[dict]:
        """Train with the framework's own optimizer, loss and pipeline; on_epoch may return False to stop."""

    def augment(self, x: np.ndarray, augment, seed: int = 0) -> np.ndarray:
        """Images (NHWC in [0, 1]) augmented by the framework's own layers (workbench.augment.Augment)."""

    def optimize(self, loss_fn, start, optimizers: Sequence[str], steps: int, learning_rate: float | dict,
                 hyper: dict | None = None, state: bool = False) -> dict:
        """The framework's own optimizer classes, one per name, run `steps` steps; returns
        {name: workbench.optimize.race.Trajectory}.

        loss_fn: a workbench.optimize.formula.Formula f(x, y) (evaluated with the framework's
        ops, gradients by its autograd) or a callable f(a, b) of framework tensors, from `start`
        (x, y); or a workbench.optimize.race.Minibatches (a CNN built fresh with its seed for
        every optimizer, trained on the same batches; start None). learning_rate: one number
        or {name: rate}; hyper: {name: settings beyond the rate, in Keras' names (rho,
        epsilon, beta_1, ...)}; state: also record the optimizer's state after every step."""

    def optimizer_defaults(self, optimizer: str) -> dict:
        """{"class": the framework class, "hyper": {Keras' name: (the framework's name, default)}},
        read off an optimizer object built with no settings."""


PROTOCOL = tuple(name for name, value in vars(Backend).items() if callable(value) and not name.startswith("_"))


def available_backends(registry=None) -> dict[str, Backend]:
    from workbench.registry import get_registry

    return (registry or get_registry()).backends()

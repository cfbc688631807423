"""What every backend does the same way, written once over its own primitives (numpy only).

A backend plugin subclasses ``BackendBase`` (setting ``name`` and ``package``) and provides
the framework parts as modules of its package (listed on the class). Here, once for all
backends: which module does what, probabilities from logits, the per-model locks, saving and
loading, argument checks, and the lazy hand-off of train / optimize / augment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import importlib.util
import threading
import weakref

import numpy as np

from workbench import graph, shapes
from workbench import spec as S
from workbench import weights as W
from workbench.model import limits
from workbench.model_facts import arch_of, attach, standardizer_of


_locks: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def model_lock(model) -> threading.RLock:
    """One lock per model object. Guided mode, logits mode and layer hooks change a model for
    the length of one call; the app shares cached models between sessions (threads), so calls
    on the same model take turns."""
    with _locks_guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.RLock()
        return lock


_training: "weakref.WeakSet" = weakref.WeakSet()


@contextlib.contextmanager
def training(model):
    """One training at a time per model: two would interleave their updates of the same weights
    (a Stop that reruns the page must not leave the old run training beside a new one)."""
    with _locks_guard:
        if model in _training:
            raise RuntimeError("this model is already training; stop that run (or wait for it) first")
        _training.add(model)
    try:
        yield
    finally:
        with _locks_guard:
            _training.discard(model)


def locked(method):
    """Run a backend method ``method(self, model, ...)`` holding that model's lock."""

    @functools.wraps(method)
    def wrapper(self, model, *args, **kwargs):
        with model_lock(model):
            return method(self, model, *args, **kwargs)

    return wrapper


class BackendBase:
    """A backend plugin is a package with these modules, imported on first use:

    builder.build(arch, seed)                      the framework model (spec or native)
    inference.device() / forward(model, x, names, batch_size, logits, training)
                                                   logits and named layers' outputs, batched
    gradients.gradients(model, x, target, layer, relu)
    summary.summary(model) / layer_config(model, name)  list[LayerInfo] / one layer's settings
    weights.layer_names / get_weights / set_weights / set_frozen
    io.NATIVE_FORMAT, io.save_native(model, path), io.load_native(model, path)
    export.FORMATS / write(model, path, fmt, transform) / READS / read(path)   (optional)
                                                   the formats it exports to (workbench.export), and
                                                   which of them it loads back (safely)
    training.train / augment                     the framework's own training loop and augmentation
    optimize.optimize / defaults                 the framework's own optimizers (the optimizer lesson)

    so this class says once, for every backend, what each protocol method is made of.
    """

    name: str = ""
    package: str = ""  # the plugin's package: set ``package = __package__`` in its backend module

    def _module(self, name: str):
        return importlib.import_module(f"{self.package}.{name}")

    # -- the Backend protocol --------------------------------------------------------------
    def device(self) -> str:
        return self._module("inference").device()

    def device_name(self) -> str:
        return self._module("inference").gpu_name() or cpu_name()

    def build(self, architecture: S.Architecture, input_shape=None, num_classes=None, seed: int = 0):
        arch = self.architecture(architecture, input_shape, num_classes)
        if arch.is_spec:  # a Dense(10**9) is refused here, not after the framework tried to allocate it
            limits.check_memory(shapes.compute(arch))
        return self._module("builder").build(arch, seed)

    def layer_names(self, model) -> list[str]:
        """The addressable layers in order (a spec's: like workbench.shapes.compute's rows)."""
        return self._module("weights").layer_names(model)

    @locked
    def summary(self, model):
        return self._module("summary").summary(model)

    @locked
    def logits(self, model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Pre-activation scores of the last layer (a final softmax/sigmoid left out)."""
        x = graph.check_images(arch_of(model), x)
        return self._module("inference").forward(model, x, [], graph.check_batch_size(batch_size), logits=True)[0]

    def predict(self, model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Class probabilities: the softmax of the logits (a sigmoid for a one-unit head)."""
        return graph.probabilities(self.logits(model, x, batch_size))

    @locked
    def activations(self, model, x: np.ndarray, layers, batch_size: int = 64,
                    training: bool = False) -> dict[str, np.ndarray]:
        names = graph.check_layers(layers, self.layer_names(model))
        x = graph.check_images(arch_of(model), x)
        return self._module("inference").forward(model, x, names, graph.check_batch_size(batch_size), logits=False,
                                                 training=training)[1]

    @locked
    def layer_config(self, model, layer: str) -> dict:
        """The framework layer behind a spec name: its class, scalar settings and class defaults."""
        name = graph.check_layers([layer], self.layer_names(model))[0]
        return self._module("summary").layer_config(model, name)

    @locked
    def gradients(self, model, x: np.ndarray, target, layer: str | None = None, relu: str = "plain"):
        x = graph.check_images(arch_of(model), x)
        return self._module("gradients").gradients(model, x, target, layer, relu)

    @locked
    def get_weights(self, model):
        return self._module("weights").get_weights(model)

    @locked
    def set_weights(self, model, weights) -> None:
        self._module("weights").set_weights(model, weights)

    @locked
    def set_trainable(self, model, from_layer: str | None, batch_stats: bool = False) -> None:
        """Freeze every layer before ``from_layer`` in layer order (None: all trainable);
        ``batch_stats``: frozen BatchNormalization layers normalise with batch statistics in training."""
        self._module("weights").set_frozen(model, graph.frozen_before(self.layer_names(model), from_layer),
                                           batch_stats)

    @locked
    def save(self, model, path):
        """Spec models: Keras-layout safetensors (loads in any backend); natives: the backend's own.
        A model trained on standardised images keeps its statistics in a .standardizer.npz beside."""
        arch = arch_of(model)
        if arch.is_spec:
            target = W.spec_weights_path(path)
        else:
            io = self._module("io")
            target = W.weights_path(path, io.NATIVE_SUFFIX)
        with W.written_together(target) as staged:  # all files, or the old model untouched
            if arch.is_spec:
                W.save_spec(staged, arch, self.get_weights(model), self.name)
            else:
                io.save_native(model, staged)
                W.write_architecture(arch, staged, self.name)
            W.write_standardizer(staged, standardizer_of(model))
        return target

    def load(self, path):
        """What save wrote (or the other backend's Keras-layout file), or a file this backend
        exports and reads back (a .keras file); never unpickles."""
        reads = getattr(self._export_module(), "READS", ())
        if str(path).endswith(tuple(reads)):
            return self._export_module().read(path)
        source = W.find_weights(path)
        fmt = W.file_format(source)
        model = self.build(W.read_architecture(source))
        io = self._module("io")
        if fmt == W.KERAS_LAYOUT:
            self.set_weights(model, W.read_weights(source, arch_of(model)))
        elif fmt == io.NATIVE_FORMAT:
            io.load_native(model, source)
            W.check_finite(self.get_weights(model), source)
        else:
            raise ValueError(f"{source} holds {fmt} weights, which the {self.name} backend cannot read")
        attach(model, standardizer=W.read_standardizer(source))
        return model

    def _export_module(self):
        if importlib.util.find_spec(f"{self.package}.export") is None:
            return None  # a backend that exports nothing
        return self._module("export")

    def export_formats(self) -> dict[str, str]:
        """The formats ``export`` writes (workbench.export's names) and their file suffixes."""
        return dict(getattr(self._export_module(), "FORMATS", {}))

    @locked
    def export(self, model, path, fmt: str, transform):
        """The model as a file that takes NHWC pixels in [0, 1] (``transform``, a
        workbench.export.InputTransform, folded in) and gives class probabilities; the path written."""
        if fmt not in self.export_formats():
            raise ValueError(f"the {self.name} backend does not export {fmt}; it exports: "
                             f"{', '.join(self.export_formats()) or 'nothing'}")
        return self._export_module().write(model, path, fmt, transform)

    def reset_peak_memory(self) -> None:
        self._module("inference").reset_peak_memory()

    def peak_memory(self) -> int | None:
        """Peak accelerator memory in bytes since the last reset (None on the CPU)."""
        return self._module("inference").peak_memory()

    # -- shared helpers ------------------------------------------------------------------
    def architecture(self, arch: S.Architecture, input_shape=None, num_classes=None) -> S.Architecture:
        """The architecture at the asked input shape and class count."""
        if not isinstance(arch, S.Architecture):
            raise TypeError(f"build needs a workbench.spec.Architecture, got {type(arch).__name__}")
        if arch.is_spec:
            if input_shape is not None and tuple(input_shape) != tuple(arch.input_shape):
                arch = arch.with_input(input_shape)
            if num_classes is not None and num_classes != arch.num_classes:
                arch = arch.with_classes(num_classes)
        elif not arch.native.get(self.name):
            raise ValueError(f"{arch.name} is a native model with no {self.name} builder")
        else:  # the native builder is called with these: a new head for transfer learning, say
            wanted = (tuple(input_shape or arch.input_shape), num_classes or arch.num_classes)
            if wanted != (tuple(arch.input_shape), arch.num_classes):
                arch = dataclasses.replace(arch, input_shape=wanted[0], num_classes=wanted[1])
        return arch

    def train(self, model, data, config, on_epoch=None):
        with training(model):
            return self._module("training").train(self, model, data, config, on_epoch)

    def optimize(self, loss_fn, start, optimizers, steps: int, learning_rate, hyper=None, state: bool = False):
        return self._module("optimize").optimize(self, loss_fn, start, optimizers, steps, learning_rate,
                                                 hyper, state)

    def optimizer_defaults(self, optimizer: str) -> dict:
        return self._module("optimize").defaults(optimizer)

    def augment(self, x: np.ndarray, augment, seed: int = 0) -> np.ndarray:
        return self._module("training").augment(x, augment, seed=seed)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo; elsewhere what platform knows), with its core count."""
    import os
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            name = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{name or 'CPU'}, {os.cpu_count()} cores"

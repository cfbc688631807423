"""What every backend does the same way, written once over its own primitives (numpy only).

A backend plugin subclasses ``BackendBase`` and provides the framework parts (build, logits,
activations, gradients, weights, ...). Here: probabilities from logits, argument checks, and
the lazy hand-off of train / optimize / load_pretrained to the plugin's training.py and
pretrained.py modules.
"""

from __future__ import annotations

import functools
import importlib
import threading
import weakref

import numpy as np

from workbench import graph
from workbench import spec as S


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


def locked(method):
    """Run a backend method ``method(self, model, ...)`` holding that model's lock."""

    @functools.wraps(method)
    def wrapper(self, model, *args, **kwargs):
        with model_lock(model):
            return method(self, model, *args, **kwargs)

    return wrapper


class BackendBase:
    name: str = ""
    package: str = ""  # e.g. "plugins.torch_backend"

    # -- shared behaviour ----------------------------------------------------------------
    def predict(self, model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Class probabilities: the softmax of the logits (a sigmoid for a one-unit head)."""
        return graph.probabilities(self.logits(model, x, batch_size))

    def architecture(self, arch: S.Architecture, input_shape=None, num_classes=None) -> S.Architecture:
        """The architecture at the asked input shape and class count (spec models only)."""
        if not isinstance(arch, S.Architecture):
            raise TypeError(f"build needs a workbench.spec.Architecture, got {type(arch).__name__}")
        if arch.is_spec:
            if input_shape is not None and tuple(input_shape) != tuple(arch.input_shape):
                arch = arch.with_input(input_shape)
            if num_classes is not None and num_classes != arch.num_classes:
                arch = arch.with_classes(num_classes)
        elif not arch.native.get(self.name):
            raise ValueError(f"{arch.name} is a native model with no {self.name} builder")
        return arch

    def _delegate(self, module: str, function: str, *args, **kwargs):
        try:
            mod = importlib.import_module(f"{self.package}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{self.package}.{module}":
                raise
            raise NotImplementedError(
                f"the {self.name} backend has no {module}.py yet, so {function}() is not available"
            ) from None
        return getattr(mod, function)(*args, **kwargs)

    def train(self, model, data, config, on_epoch=None):
        return self._delegate("training", "train", self, model, data, config, on_epoch)

    def optimize(self, loss_fn, start, optimizer: str, steps: int, learning_rate: float):
        return self._delegate("training", "optimize", loss_fn, start, optimizer, steps, learning_rate)

    def load_pretrained(self, name: str):
        return self._delegate("pretrained", "load_pretrained", name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} on {self.device()}>"

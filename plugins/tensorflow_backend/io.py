"""Native (zoo) Keras models are saved with Keras' own .weights.h5 (weights only, no code) and
rebuilt through the registered native builder; spec models are saved by
workbench.backend_base in the Keras layout that both backends read."""

from __future__ import annotations

NATIVE_FORMAT = "keras-h5"
NATIVE_SUFFIX = ".weights.h5"


def save_native(model, path) -> None:
    model.save_weights(str(path))


def load_native(model, path) -> None:
    model.load_weights(str(path))

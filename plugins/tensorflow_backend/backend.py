"""The TensorFlow (Keras 3) backend: functional Keras models named like the spec, GPU when present.

tensorflow and keras are imported on first use (inside the methods), so discovering plugins
stays fast.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from workbench import graph
from workbench.backend_base import BackendBase, locked

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class TensorFlowBackend(BackendBase):
    name = "tensorflow"
    package = "plugins.tensorflow_backend"

    def device(self) -> str:
        from plugins.tensorflow_backend.inference import device

        return device()

    def build(self, arch, input_shape=None, num_classes=None, seed: int = 0):
        from plugins.tensorflow_backend import builder

        return builder.build(self.architecture(arch, input_shape, num_classes), seed)

    def layer_names(self, model) -> list[str]:
        from plugins.tensorflow_backend.weights import layer_names

        return layer_names(model)

    @locked
    def summary(self, model):
        from plugins.tensorflow_backend.summary import summary

        return summary(model)

    @locked
    def logits(self, model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        from plugins.tensorflow_backend.inference import forward

        return forward(model, x, [], batch_size, logits=True)[0]

    @locked
    def activations(self, model, x: np.ndarray, layers: Sequence[str], batch_size: int = 64) -> dict[str, np.ndarray]:
        from plugins.tensorflow_backend.inference import forward

        names = graph.check_layers(layers, self.layer_names(model))
        return forward(model, x, names, batch_size, logits=False)[1]

    @locked
    def gradients(self, model, x, target, layer=None, relu="plain"):
        from plugins.tensorflow_backend.gradients import gradients

        return gradients(model, x, target, layer, relu)

    def get_weights(self, model):
        from plugins.tensorflow_backend.weights import get_weights

        return get_weights(model)

    @locked
    def set_weights(self, model, weights) -> None:
        from plugins.tensorflow_backend.weights import set_weights

        set_weights(model, weights)

    @locked
    def set_trainable(self, model, from_layer: str | None) -> None:
        frozen = graph.frozen_before(self.layer_names(model), from_layer)
        for name in self.layer_names(model):
            model.get_layer(name).trainable = name not in frozen

    @locked
    def save(self, model, path):
        from plugins.tensorflow_backend.io import save

        return save(model, path)

    def load(self, path):
        from plugins.tensorflow_backend.io import load

        return load(path, self.build)

"""The PyTorch backend: numpy NHWC at the edges, NCHW torch modules inside, GPU when present.

torch is imported on first use (inside the methods), so discovering plugins stays fast.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from workbench import graph
from workbench.backend_base import BackendBase, locked


class TorchBackend(BackendBase):
    name = "pytorch"
    package = "plugins.torch_backend"

    def device(self) -> str:
        import torch

        return "cuda:0" if torch.cuda.is_available() else "cpu"

    def build(self, arch, input_shape=None, num_classes=None, seed: int = 0):
        from plugins.torch_backend import builder

        return builder.build(self.architecture(arch, input_shape, num_classes), seed, self.device())

    def layer_names(self, model) -> list[str]:
        return list(model.workbench_layers)

    @locked
    def summary(self, model):
        from plugins.torch_backend.summary import summary

        return summary(model)

    @locked
    def logits(self, model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        from plugins.torch_backend.inference import forward

        return forward(model, x, [], batch_size, logits=True)[0]

    @locked
    def activations(self, model, x: np.ndarray, layers: Sequence[str], batch_size: int = 64) -> dict[str, np.ndarray]:
        from plugins.torch_backend.inference import forward

        names = graph.check_layers(layers, self.layer_names(model))
        return forward(model, x, names, batch_size, logits=False)[1]

    @locked
    def gradients(self, model, x, target, layer=None, relu="plain"):
        from plugins.torch_backend.gradients import gradients

        return gradients(model, x, target, layer, relu)

    def get_weights(self, model):
        from plugins.torch_backend.weights import get_weights

        return get_weights(model)

    @locked
    def set_weights(self, model, weights) -> None:
        from plugins.torch_backend.weights import set_weights

        set_weights(model, weights)

    @locked
    def set_trainable(self, model, from_layer: str | None) -> None:
        frozen = graph.frozen_before(self.layer_names(model), from_layer)
        for p in model.parameters():
            p.requires_grad_(True)
        for name, module in model.workbench_layers.items():
            if name in frozen:
                for p in module.parameters():
                    p.requires_grad_(False)
        model.workbench_frozen = frozen  # training keeps frozen BatchNorm layers in inference mode

    @locked
    def save(self, model, path):
        from plugins.torch_backend.io import save

        return save(model, path)

    def load(self, path):
        from plugins.torch_backend.io import load

        return load(path, self.build)

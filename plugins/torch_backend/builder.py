"""Build a torch module from a spec: one submodule per spec layer name, wired by workbench.graph."""

from __future__ import annotations

import torch
from torch import nn

from workbench import graph, shapes
from workbench import spec as S
from workbench import weights as W
from workbench.model_facts import arch_of, attach
from . import layers as L


class SpecModel(nn.Module):
    """A spec model: NCHW float input, Keras' outputs (final softmax/sigmoid included).

    Its layers (workbench.model_facts) map every spec name (block outputs included) to the module whose
    output is that layer's activation; the rest of the backend addresses layers only that way,
    the same way it addresses a native (pretrained) model.
    """

    def __init__(self, arch: S.Architecture):
        super().__init__()
        attach(self, arch=arch)
        table = shapes.compute(arch)
        self.spec_layers = nn.ModuleDict()
        by_name = {layer.name: layer for layer in S.walk(arch.layers)}
        for row in table.rows:
            # Registered straight into _modules: ModuleDict's own check refuses names that are also
            # nn.Module attributes ("train", "eval", "type", ...), which are fine layer names in Keras.
            self.spec_layers._modules[row.name] = L.make(by_name[row.name], row.input_shape)
        self.workbench_final = graph.final_activation(arch)[0]  # the layer whose softmax logits skip
        attach(self, layers=self.spec_layers.items())

    def forward(self, x):
        return graph.run(arch_of(self).layers, x, self)

    # the two operations graph.run asks for
    def layer(self, layer, x):
        return self.spec_layers[layer.name](x)

    def merge(self, block, inputs):
        return self.spec_layers[block.name](*inputs)


def build(arch: S.Architecture, seed: int) -> nn.Module:
    from .inference import device as current_device

    device = current_device()
    if arch.native.get("pytorch") is not None:
        model = graph.call_native(arch.native["pytorch"], arch, seed)
        if arch_of(model) is None:
            attach(model, arch=arch)
        return model.to(device).eval()
    if not arch.is_spec:
        raise ValueError(f"{arch.name} has no spec and no PyTorch builder")
    with torch.device("meta"):  # no time spent on torch's own init: Keras' values are set next
        model = SpecModel(arch)
    model = model.to_empty(device=device)
    from .weights import set_weights

    set_weights(model, W.initial_weights(arch, seed))
    for module in model.modules():  # buffers the Keras layout has no place for
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.num_batches_tracked.zero_()
    return model.eval()


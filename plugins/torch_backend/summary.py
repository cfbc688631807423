"""Per-layer summary of a torch model, from the model itself: hooks for shapes, its own tensors for counts.

Counts follow Keras' convention: parameters with requires_grad are trainable; frozen
parameters and buffers (BatchNorm's running mean and variance) are not; num_batches_tracked,
which Keras has no counterpart for, is not counted. A parameter is counted once, in the first
listed layer holding it (a native model may list a block after the layers inside it).
"""

from __future__ import annotations

import torch

from workbench import spec as S
from workbench.backend import LayerInfo
from workbench.model_facts import arch_of, layers_of
from .inference import capture, model_device
from .weights import owned


def summary(model) -> list[LayerInfo]:
    arch = arch_of(model)
    layers = layers_of(model)
    names = list(layers)
    h, w, c = arch.input_shape
    model.eval()
    with torch.inference_mode(), capture(model, names) as outputs:
        model(torch.zeros((1, c, h, w), device=model_device(model)))
    spec_types = {layer.name: layer.type for layer in S.walk(arch.layers)}
    seen: set[int] = set()
    rows = []
    parts = owned(model)  # a layer's weights may sit in unnamed modules just before it (torchvision's VGG)
    for name in names:
        module = layers[name]
        trainable = non_trainable = 0
        for p in (p for m in parts[name] for p in m.parameters()):
            if id(p) not in seen:
                seen.add(id(p))
                if p.requires_grad:
                    trainable += p.numel()
                else:
                    non_trainable += p.numel()
        for key, b in ((k, b) for m in parts[name] for k, b in m.named_buffers()):
            if id(b) not in seen and not key.endswith("num_batches_tracked"):
                seen.add(id(b))
                non_trainable += b.numel()
        out = outputs[name]
        shape = tuple(out.shape[1:])
        if len(shape) == 3:  # C, H, W -> H, W, C
            shape = (shape[1], shape[2], shape[0])
        rows.append(
            LayerInfo(name, spec_types.get(name, type(module).__name__), shape,
                      trainable + non_trainable, trainable, non_trainable)
        )
    return rows


def layer_config(model, name: str) -> dict:
    """The torch.nn module doing a spec layer's work (the workbench's wrapper holds one), its
    scalar attributes as built and its constructor's defaults."""
    import inspect

    module = layers_of(model)[name]
    inner = [m for m in module.modules() if type(m).__module__.startswith("torch.nn.modules")]
    module = inner[0] if inner else module
    scalar = (bool, int, float, str)
    signature = [p for p in inspect.signature(type(module).__init__).parameters.values() if p.name != "self"]
    defaults = {p.name: p.default for p in signature if isinstance(p.default, scalar)}
    settings = {p.name: getattr(module, p.name) for p in signature
                if isinstance(getattr(module, p.name, None), scalar)}
    return {"class": f"torch.nn.{type(module).__name__}", "settings": settings, "defaults": defaults}

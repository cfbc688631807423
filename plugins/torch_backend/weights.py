"""Weights of a torch model in the Keras layout (see workbench.weights), keyed by layer name.

Each module converts its own arrays (plugins.torch_backend.layers.keras_slots): a conv kernel
OIHW <-> HWIO, a depthwise kernel (C*dm, 1, kh, kw) <-> (kh, kw, C, dm), a Linear weight
(out, in) <-> (in, out), BatchNorm's four arrays as they are.
"""

from __future__ import annotations

import numpy as np
import torch

from workbench import weights as W
from workbench.model_facts import arch_of, layers_of
from . import layers as L


def layer_names(model) -> list[str]:
    return list(layers_of(model))


def owned(model) -> dict[str, list[torch.nn.Module]]:
    """Per named layer, the modules that are that layer's: its own module and, in a native model,
    the unnamed ones around it. An unnamed module with weights belongs to the named layer after it
    (torchvision's VGG is named at each ReLU, as Keras names a convolution with its activation: the
    Conv2d before it computes that layer; ResNet's stem conv and BN belong to conv1_relu); one
    without (a Dropout) to the layer before it, whose output it acts on. Freezing, inference mode,
    counting and copying a layer use all of them."""
    layers = layers_of(model)
    names = {id(m): n for n, m in layers.items()}
    out = {n: [m] for n, m in layers.items()}
    pending, inside, last = [], None, None
    for qualified, module in model.named_modules():
        if not qualified or (inside is not None and qualified.startswith(inside)):
            continue  # the model itself, or a part of a named layer (the layer's own module holds it)
        if id(module) in names:
            last = names[id(module)]
            out[last] += pending
            pending, inside = [], f"{qualified}."
        elif not any(True for _ in module.children()):
            if any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False)):
                pending.append(module)
            elif last is not None:
                out[last].append(module)
    return out


def slots(model) -> dict[str, list]:
    """Per named layer, its arrays in Keras' layout: its module's own (a spec layer, a Conv2d ...);
    for a block of unnamed parts (torchvision's Bottleneck), its parts' in order; else those of the
    modules it owns (torchvision's VGG: the Conv2d before the named ReLU)."""
    parts = owned(model)
    named = {id(modules[0]) for modules in parts.values()}
    out = {}
    for name, (module, *others) in parts.items():
        inner = [m for m in module.modules() if m is not module]
        own = L.keras_slots(module) or ([s for m in inner for s in L.keras_slots(m)]
                                        if not any(id(m) in named for m in inner) else [])
        out[name] = own or [s for m in others for s in L.keras_slots(m)]
    return out


def set_frozen(model, frozen: set[str], batch_stats: bool = False) -> None:
    """requires_grad off for the layers named in ``frozen``, on for every other parameter.
    ``batch_stats``: training leaves the frozen BatchNorm layers in train mode (the trap; see training.py)."""
    for p in model.parameters():
        p.requires_grad_(True)
    for name, modules in owned(model).items():
        if name in frozen:
            for p in (p for m in modules for p in m.parameters()):
                p.requires_grad_(False)
    model.workbench_frozen = frozen  # training keeps frozen BatchNorm layers in inference mode
    model.workbench_batch_stats = bool(batch_stats)


def get_weights(model) -> W.Weights:
    out: W.Weights = {}
    for name, held in slots(model).items():
        if held:
            out[name] = [np.ascontiguousarray(to_keras(t.detach().cpu().numpy())) for t, to_keras, _ in held]
    return out


def set_weights(model, weights: W.Weights) -> None:
    arch = arch_of(model)
    if arch is not None and arch.is_spec:
        W.check_weights(arch, weights)
    layers = slots(model)
    with torch.no_grad():
        for name, arrays in weights.items():
            if name not in layers:
                raise ValueError(f"the model has no layer named {name!r}")
            if len(layers[name]) != len(arrays):
                raise ValueError(f"layer {name!r} takes {len(layers[name])} arrays, got {len(arrays)}")
            for (tensor, _, from_keras), array in zip(layers[name], arrays):
                # torch does the layout change inside copy_ (strided, multi-threaded, no numpy copy)
                array = np.asarray(array, dtype=np.float32)
                if not array.flags.writeable:  # e.g. straight from a file; torch wants to own writable memory
                    array = array.copy()
                value = from_keras(torch.from_numpy(array))
                if tuple(value.shape) != tuple(tensor.shape):
                    raise ValueError(f"layer {name!r}: array of shape {np.shape(array)} does not fit {tuple(tensor.shape)}")
                tensor.copy_(value)

"""Weights of a torch model in the Keras layout (see workbench.weights), keyed by layer name.

The conversions: a conv kernel OIHW <-> HWIO; a depthwise kernel (C*dm, 1, kh, kw) <->
(kh, kw, C, dm) (output channel c * dm + m in both); a Linear weight (out, in) <-> (in, out);
BatchNorm weight, bias, running_mean, running_var <-> gamma, beta, moving_mean, moving_variance.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench import weights as W
from workbench.model_facts import arch_of, layers_of
from plugins.torch_backend import layers as L


def _conv_kernel(conv: nn.Conv2d, w: np.ndarray) -> np.ndarray:
    if conv.groups == 1:
        return w.transpose(2, 3, 1, 0)
    cin = conv.in_channels
    kh, kw = conv.kernel_size
    return w[:, 0].transpose(1, 2, 0).reshape(kh, kw, cin, -1)


def _conv_kernel_to_torch(conv: nn.Conv2d, kernel: torch.Tensor) -> torch.Tensor:
    if conv.groups == 1:
        return kernel.permute(3, 2, 0, 1)
    kh, kw, cin, dm = kernel.shape
    return kernel.reshape(kh, kw, cin * dm).permute(2, 0, 1)[:, None]


def _slots(module: nn.Module) -> list[tuple[torch.Tensor, callable, callable]]:
    """(tensor, to_keras, from_keras) per array, in Keras order; [] for a layer without weights."""
    same = (lambda a: a, lambda a: a)

    def conv(c: nn.Conv2d):
        out = [(c.weight, lambda a, c=c: _conv_kernel(c, a), lambda k, c=c: _conv_kernel_to_torch(c, k))]
        return out + ([(c.bias, *same)] if c.bias is not None else [])

    if isinstance(module, L.Separable):
        return conv(module.depthwise)[:1] + conv(module.pointwise)
    if isinstance(module, L.Conv):
        module = module.conv
    elif isinstance(module, L.Dense):
        module = module.linear
    elif isinstance(module, L.BatchNorm):
        module = module.bn
    if isinstance(module, nn.Conv2d):
        return conv(module)
    if isinstance(module, nn.Linear):
        out = [(module.weight, lambda a: a.T, lambda k: k.t())]
        return out + ([(module.bias, *same)] if module.bias is not None else [])
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return [(t, *same) for t in (module.weight, module.bias, module.running_mean, module.running_var)]
    return []


def layer_names(model) -> list[str]:
    return list(layers_of(model))


def set_frozen(model, frozen: set[str], batch_stats: bool = False) -> None:
    """requires_grad off for the layers named in ``frozen``, on for every other parameter.
    ``batch_stats``: training leaves the frozen BatchNorm layers in train mode (the trap; see training.py)."""
    for p in model.parameters():
        p.requires_grad_(True)
    for name, module in layers_of(model).items():
        if name in frozen:
            for p in module.parameters():
                p.requires_grad_(False)
    model.workbench_frozen = frozen  # training keeps frozen BatchNorm layers in inference mode
    model.workbench_batch_stats = bool(batch_stats)


def get_weights(model) -> W.Weights:
    out: W.Weights = {}
    for name, module in layers_of(model).items():
        slots = _slots(module)
        if slots:
            out[name] = [np.ascontiguousarray(to_keras(t.detach().cpu().numpy())) for t, to_keras, _ in slots]
    return out


def set_weights(model, weights: W.Weights) -> None:
    arch = arch_of(model)
    if arch is not None and arch.is_spec:
        W.check_weights(arch, weights)
    layers = layers_of(model)
    with torch.no_grad():
        for name, arrays in weights.items():
            if name not in layers:
                raise ValueError(f"the model has no layer named {name!r}")
            slots = _slots(layers[name])
            if len(slots) != len(arrays):
                raise ValueError(f"layer {name!r} takes {len(slots)} arrays, got {len(arrays)}")
            for (tensor, _, from_keras), array in zip(slots, arrays):
                # torch does the layout change inside copy_ (strided, multi-threaded, no numpy copy)
                array = np.asarray(array, dtype=np.float32)
                if not array.flags.writeable:  # e.g. straight from a file; torch wants to own writable memory
                    array = array.copy()
                value = from_keras(torch.from_numpy(array))
                if tuple(value.shape) != tuple(tensor.shape):
                    raise ValueError(f"layer {name!r}: array of shape {np.shape(array)} does not fit {tuple(tensor.shape)}")
                tensor.copy_(value)

"""Forward passes of a torch model with numpy NHWC at the edges: logits and layer outputs.

Layers are read with forward hooks on the modules in ``layers_of(model)`` (spec models
and native ones alike), so no model needs to know it is being watched.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

import numpy as np
import torch

from workbench.model_facts import layers_of


def device() -> str:
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def gpu_name() -> str | None:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def reset_peak_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_memory() -> int | None:
    return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else None


def to_tensor(x: np.ndarray, device) -> torch.Tensor:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"expected images as an (N, H, W, C) array, got shape {x.shape}")
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).to(device)


def to_nhwc(t: torch.Tensor) -> torch.Tensor:
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t


def model_device(model) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@contextmanager
def capture(model, names: Sequence[str], leaf: str | None = None):
    """Record the outputs of the named layers in a dict; ``leaf``'s output is made a leaf tensor
    that requires grad, so gradients can be taken with respect to it (even in a frozen model).
    Autograd is switched on there: a caller running under no_grad records a graph only from the leaf on."""
    outputs: dict[str, torch.Tensor] = {}
    layers = layers_of(model)

    def hook_for(name):
        def hook(module, inputs, output):
            if name == leaf:
                torch.set_grad_enabled(True)  # the enclosing grad-mode context restores the mode on exit
                output = output.detach().requires_grad_(True)
            outputs[name] = output
            return output if name == leaf else None

        return hook

    handles = [layers[name].register_forward_hook(hook_for(name)) for name in dict.fromkeys(names)]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def logits_mode(model):
    """Skip the spec model's final softmax/sigmoid; a native model's forward already gives logits."""
    final = getattr(model, "workbench_final", None)
    if final is None:
        yield
        return
    module = layers_of(model)[final]
    module.skip_activation = True
    try:
        yield
    finally:
        module.skip_activation = False


def forward(model, x: np.ndarray, names: Sequence[str], batch_size: int = 64, logits: bool = True):
    """(logits or outputs, {name: NHWC array}) for all images, batch by batch, without autograd."""
    model.eval()
    device = model_device(model)
    outs, acts = [], {name: [] for name in names}
    with torch.inference_mode(), logits_mode(model) if logits else _nothing(), capture(model, names) as captured:
        for start in range(0, len(x), max(1, int(batch_size))):
            out = model(to_tensor(x[start: start + batch_size], device))
            outs.append(out.float().cpu().numpy())
            for name in names:
                acts[name].append(to_nhwc(captured[name]).float().cpu().numpy())
    empty = np.zeros((0,), np.float32)
    return (
        np.concatenate(outs) if outs else empty,
        {name: np.concatenate(parts) if parts else empty for name, parts in acts.items()},
    )


@contextmanager
def _nothing():
    yield

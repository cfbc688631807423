"""Save and load torch models safely: safetensors (never pickles) plus the architecture JSON.

Spec models are saved in the Keras layout, so the file loads in either backend; native
(zoo) models as their own state dict, rebuilt through the registered native builder.
"""

from __future__ import annotations

from pathlib import Path

from workbench import weights as W
from plugins.torch_backend.weights import get_weights, set_weights

STATE_DICT = "pytorch-state-dict"


def save(model, path) -> Path:
    arch = model.workbench_arch
    if arch.is_spec:
        return W.save_spec(path, arch, get_weights(model), "pytorch")
    from safetensors.torch import save_model

    target = W.weights_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, str(target), metadata={"format": STATE_DICT, "backend": "pytorch"})
    W.write_architecture(arch, target, "pytorch")
    return target


def load(path, build):
    """``build(arch)`` makes the empty model that the saved weights go into."""
    source = W.find_weights(path)
    fmt = W.file_format(source)
    arch = W.read_architecture(source)
    model = build(arch)
    if fmt == W.KERAS_LAYOUT:
        set_weights(model, W.load_file(source))
    elif fmt == STATE_DICT:
        from safetensors.torch import load_model

        load_model(model, str(source), device=str(next(model.parameters()).device))
    else:
        raise ValueError(f"{source} holds {fmt} weights, which the PyTorch backend cannot read")
    return model.eval()

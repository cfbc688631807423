"""Native (zoo) torch models are saved as their own state dict in safetensors (no pickles) and
rebuilt through the registered native builder; spec models are saved by
workbench.backend_base in the Keras layout that both backends read."""

from __future__ import annotations

NATIVE_FORMAT = "pytorch-state-dict"
NATIVE_SUFFIX = ".safetensors"


def save_native(model, path) -> None:
    from safetensors.torch import save_model

    save_model(model, str(path), metadata={"format": NATIVE_FORMAT, "backend": "pytorch"})


def load_native(model, path) -> None:
    from safetensors.torch import load_model

    load_model(model, str(path), device=str(next(model.parameters()).device))
    model.eval()

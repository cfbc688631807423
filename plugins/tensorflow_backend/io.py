"""Save and load Keras models safely, with the architecture JSON beside the weights.

Spec models go through get_weights into the Keras-layout safetensors file that both backends
read; native (zoo) models use Keras' own .weights.h5 (weights only, no code), rebuilt through
the registered native builder.
"""

from __future__ import annotations

from pathlib import Path

from workbench import weights as W
from plugins.tensorflow_backend.weights import get_weights, set_weights


def save(model, path) -> Path:
    arch = model.workbench_arch
    if arch.is_spec:
        return W.save_spec(path, arch, get_weights(model), "tensorflow")
    target = W.weights_path(path, ".weights.h5")
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(target))
    W.write_architecture(arch, target, "tensorflow")
    return target


def load(path, build):
    """``build(arch)`` makes the empty model that the saved weights go into."""
    source = W.find_weights(path)
    fmt = W.file_format(source)
    arch = W.read_architecture(source)
    model = build(arch)
    if fmt == W.KERAS_LAYOUT:
        set_weights(model, W.load_file(source))
    elif fmt == "keras-h5":
        model.load_weights(str(source))
    else:
        raise ValueError(f"{source} holds {fmt} weights, which the TensorFlow backend cannot read")
    return model

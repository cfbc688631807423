"""GoogLeNet and ResNet-18 as torchvision.models builds them, in the spec's Keras vocabulary.

A torchvision module path becomes a layer name with its dots as underscores (``layer1.0.conv1``
is ``layer1_0_conv1``), so a layer means the same thing here and in torchvision. Where torch
differs from Keras the files say what stands in for it:
- torch pads symmetrically (``padding=3`` on a stride-2 7x7): a ZeroPadding2D, then a 'valid'
  convolution (Keras' 'same' would put the odd pixel after, not on both sides);
- stride-1 convolutions with ``padding=k//2`` are exactly Keras' 'same';
- torch's BatchNorm momentum 0.1 is Keras' momentum 0.9 (Keras keeps 0.9 of the old average);
- a torch module called with F.relu inside (BasicConv2d) ends in an Activation that carries the
  module's own name, so ``conv1`` or ``inception5b_branch1`` is that module's output.
"""

from __future__ import annotations

from .yaml_form import (
    activation, architecture, batch_norm, conv, inception, layer, max_pool, residual, zero_pad,
)

TORCH_MOMENTUM = 0.9  # torch's BatchNorm momentum 0.1, in Keras' convention


# -- GoogLeNet -----------------------------------------------------------------------------
def basic_conv(name, filters, kernel_size, strides=1, padding=0):
    """torchvision's BasicConv2d: a convolution without bias, BatchNorm (eps 0.001), ReLU."""
    pad = []
    if padding and strides > 1:
        pad, mode = [zero_pad(f"{name}_pad", padding)], None
    else:
        mode = "same" if padding else None  # stride 1, padding k // 2: Keras' 'same' exactly
    return pad + [
        conv(f"{name}_conv", filters, kernel_size, strides, mode, use_bias=False),
        batch_norm(f"{name}_bn", epsilon=0.001, momentum=TORCH_MOMENTUM),
        activation(name),
    ]


def inception_block(name, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
    # torchvision's "5x5" branch is a 3x3 convolution (a known slip kept for its weights).
    return inception(name, [
        basic_conv(f"{name}_branch1", ch1x1, 1),
        basic_conv(f"{name}_branch2_0", ch3x3red, 1) + basic_conv(f"{name}_branch2_1", ch3x3, 3, padding=1),
        basic_conv(f"{name}_branch3_0", ch5x5red, 1) + basic_conv(f"{name}_branch3_1", ch5x5, 3, padding=1),
        [max_pool(f"{name}_branch4_0", 3, 1, "same")] + basic_conv(f"{name}_branch4_1", pool_proj, 1),
    ])


def googlenet() -> dict:
    # ceil_mode max pools: on the even sizes of a 224 input torch's ceil adds one pixel after,
    # which is what Keras' 'same' does (the padding never wins a max).
    layers = [
        *basic_conv("conv1", 64, 7, 2, padding=3),
        max_pool("maxpool1", 3, 2, "same"),
        *basic_conv("conv2", 64, 1),
        *basic_conv("conv3", 192, 3, padding=1),
        max_pool("maxpool2", 3, 2, "same"),
        inception_block("inception3a", 64, 96, 128, 16, 32, 32),
        inception_block("inception3b", 128, 128, 192, 32, 96, 64),
        max_pool("maxpool3", 3, 2, "same"),
        inception_block("inception4a", 192, 96, 208, 16, 48, 64),
        inception_block("inception4b", 160, 112, 224, 24, 64, 64),
        inception_block("inception4c", 128, 128, 256, 24, 64, 64),
        inception_block("inception4d", 112, 144, 288, 32, 64, 64),
        inception_block("inception4e", 256, 160, 320, 32, 128, 128),
        max_pool("maxpool4", 2, 2),
        inception_block("inception5a", 256, 160, 320, 32, 128, 128),
        inception_block("inception5b", 384, 192, 384, 48, 128, 128),
        layer("GlobalAveragePooling2D", "avgpool"), layer("Dropout", "dropout", rate=0.2),
        layer("Dense", "fc", units=1000, activation="softmax"),
    ]
    return architecture(
        "googlenet",
        "GoogLeNet (Inception v1, Szegedy et al. 2014), winner of ILSVRC 2014: nine Inception modules, "
        "each a 1x1, a 1x1-then-3x3, a second 1x1-then-3x3 and a 3x3 max pool with a 1x1 projection side "
        "by side, concatenated. The 1x1 'bottleneck' convolutions keep it near 7 M parameters against "
        "VGG16's 138 M. In torchvision's layout: every convolution is followed by batch normalisation "
        "(added after the paper), the paper's 5x5 branch is a 3x3 there, and the two auxiliary "
        "classifiers (aux_logits) are left out, as torchvision does at inference.",
        "cnn-slides: 'GoogLeNet (2014)' and the summary table; Szegedy et al. 2014, 'Going Deeper with "
        "Convolutions'; layout and layer names of torchvision.models.googlenet, aux_logits=False",
        "inception5b", layers)


GOOGLENET_HEADER = """
GoogLeNet (Inception v1) as torchvision.models.googlenet(weights=None, aux_logits=False) builds it:
6,624,904 parameters are trainable and 14,560 are BatchNorm moving statistics (tests/test_landmarks.py
counts both from torchvision itself). Layer names are torchvision's module paths with underscores.

Differences from torch, and what stands in for them: BasicConv2d (conv without bias, BatchNorm eps 0.001,
ReLU) is a Conv2D, a BatchNormalization (momentum 0.9 = torch's 0.1) and an Activation named like the
module; conv1's padding=3 is a ZeroPadding2D; the ceil_mode max pools are 'same' pools (the same sizes
at 224). torchvision's input transform (transform_input) is off with weights=None, so nothing is left
out.
"""


# -- ResNet-18 ---------------------------------------------------------------------------
def bn(name):
    return batch_norm(name, epsilon=1e-5, momentum=TORCH_MOMENTUM)


def basic_block(name, filters, strides, downsample):
    """torchvision's BasicBlock: two 3x3 convolutions, added to the input (or its 1x1 projection),
    then ReLU; the block's own name is that last ReLU, the block's output."""
    first = ([zero_pad(f"{name}_conv1_pad", 1), conv(f"{name}_conv1", filters, 3, strides, use_bias=False)]
             if strides > 1 else [conv(f"{name}_conv1", filters, 3, padding="same", use_bias=False)])
    body = first + [
        bn(f"{name}_bn1"), activation(f"{name}_relu"),
        conv(f"{name}_conv2", filters, 3, padding="same", use_bias=False), bn(f"{name}_bn2"),
    ]
    shortcut = [conv(f"{name}_downsample_0", filters, 1, strides, use_bias=False), bn(f"{name}_downsample_1")] \
        if downsample else []
    return [residual(f"{name}_add", body, shortcut), activation(name)]


def resnet18() -> dict:
    layers = [
        zero_pad("conv1_pad", 3), conv("conv1", 64, 7, 2, use_bias=False), bn("bn1"), activation("relu"),
        zero_pad("maxpool_pad", 1), max_pool("maxpool", 3, 2),  # after ReLU a zero never beats the window's max
    ]
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        strides = 1 if stage == 1 else 2
        layers += basic_block(f"layer{stage}_0", filters, strides, downsample=stage > 1)
        layers += basic_block(f"layer{stage}_1", filters, 1, downsample=False)
    layers += [layer("GlobalAveragePooling2D", "avgpool"), layer("Dense", "fc", units=1000, activation="softmax")]
    return architecture(
        "resnet18",
        "ResNet-18 (He et al. 2015): a 7x7 stride-2 stem and max pool, then four stages of two basic "
        "residual blocks (two 3x3 convolutions whose output is added to the block's input, 64, 128, 256 "
        "and 512 channels, each stage after the first halving the map with a stride-2 convolution and a "
        "1x1 projection on the shortcut), global average pooling and a 1000-way classifier. The skip "
        "connections let the gradient reach the first layers, which is what made 152 layers trainable. "
        "In torchvision's layout; torchvision's fc gives logits, here it ends in the softmax the "
        "workbench's other models end in (the parameters are the same).",
        "cnn-slides: 'ResNet (2015)' and the summary table; He et al. 2015, 'Deep Residual Learning for Image "
        "Recognition'; layout and layer names of torchvision.models.resnet18",
        "layer4_1", layers)


RESNET18_HEADER = """
ResNet-18 as torchvision.models.resnet18(weights=None) builds it: 11,689,512 trainable parameters and
9,600 BatchNorm running statistics (tests/test_landmarks.py counts both from torchvision). Layer names
are torchvision's module paths with underscores: layer1_0_conv1 is layer1.0.conv1; layer1_0 (the ReLU
after the addition) is the output of torchvision's block layer1.0, and layer4_1 the output of layer4.

torch pads a stride-2 3x3 convolution by one pixel on every side, which is a ZeroPadding2D and a 'valid'
convolution here; stride-1 3x3 convolutions are 'same'; BatchNorm has eps 1e-5 and momentum 0.9 (torch's
0.1). torchvision calls one ReLU module twice per block; here they are two layers, layer1_0_relu inside
the block and layer1_0 after the addition.
"""

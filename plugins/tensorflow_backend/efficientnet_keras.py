"""EfficientNet-Lite0 in Keras 3, layer for layer the model of efficientnet-lite-pytorch.

Named like the PyTorch model's layers: "stem", "block_0" ... "block_15" (each
block's output), "head" (7x7x1280 at 224, the Grad-CAM layer), "pool", "logits", and inside
them "stem_conv", "block_3_expand_conv", "block_3_dwconv", "block_3_project_bn", ...

Matching the PyTorch model exactly:
- BatchNormalization epsilon 1e-3, as the checkpoint was trained with;
- ReLU6 everywhere (Lite: no swish, no squeeze-and-excitation);
- padding "same" is TensorFlow's: total padding max((out-1)*stride + k - in, 0), the extra
  pixel at the bottom/right. The PyTorch package's Conv2dStaticSamePadding pads exactly so
  (pad//2 before, the rest after), e.g. (0, 1) for the stride-2 stem at 224.
"""

from __future__ import annotations

import keras
from keras import layers

# (repeats, kernel, stride of the first block, expansion, output channels): efficientnet-lite0
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM, HEAD, EPSILON = 32, 1280, 1e-3
IMAGENET_CLASSES = 1000  # the checkpoint's classifier
NUM_BLOCKS = sum(stage[0] for stage in STAGES)


def _conv_bn_relu(x, filters, name):
    """1x1 convolution (no bias: the BatchNormalization's beta is the bias), BN, ReLU6."""
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x)


def _mbconv(x, i, in_ch, out_ch, kernel, strides, expand):
    """Inverted residual: 1x1 expand, depthwise k x k, 1x1 project, + input when shapes allow."""
    name = f"block_{i}"
    inputs = x
    if expand != 1:
        x = _conv_bn_relu(x, in_ch * expand, f"{name}_expand")
    x = layers.DepthwiseConv2D(kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_dwconv")(x)
    x = layers.BatchNormalization(epsilon=EPSILON, name=f"{name}_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_relu")(x)
    residual = strides == 1 and in_ch == out_ch
    x = layers.Conv2D(out_ch, 1, padding="same", use_bias=False, name=f"{name}_project_conv")(x)
    x = layers.BatchNormalization(epsilon=EPSILON, name=f"{name}_project_bn")(x)
    # The block's last layer carries the block's name, so "block_i" is its output in both backends.
    return layers.Add(name=name)([x, inputs]) if residual else layers.Identity(name=name)(x)


def build(num_classes: int = 1000, input_shape=(224, 224, 3), dropout: float = 0.2) -> keras.Model:
    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Conv2D(STEM, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(epsilon=EPSILON, name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem")(x)
    i, channels = 0, STEM
    for repeats, kernel, stride, expand, out_ch in STAGES:
        for r in range(repeats):
            x = _mbconv(x, i, channels, out_ch, kernel, stride if r == 0 else 1, expand)
            i, channels = i + 1, out_ch
    x = layers.Conv2D(HEAD, 1, padding="same", use_bias=False, name="head_conv")(x)
    x = layers.BatchNormalization(epsilon=EPSILON, name="head_bn")(x)
    x = layers.ReLU(6.0, name="head")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def stable_names(model: keras.Model) -> list[str]:
    """Every layer but the input, in order: the same names the PyTorch model's named layers have."""
    return [layer.name for layer in model.layers if not isinstance(layer, layers.InputLayer)]

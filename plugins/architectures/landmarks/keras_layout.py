"""ResNet50, MobileNet, MobileNetV2, Xception, EfficientNet-B0 and DenseNet-121 as
keras.applications builds them, layer for layer, under keras.applications' own layer names.

Each function reads like the keras.applications source it follows (keras/src/applications/*.py):
the same blocks, filters and paddings. Layers Keras leaves unnamed (Xception's shortcut
convolutions, the merge layers, DenseNet's paddings) get a name saying what they are.
"""

from __future__ import annotations

from .yaml_form import (
    activation, architecture, batch_norm, conv, correct_pad, depthwise, inception, layer, max_pool, residual, separable, zero_pad,
)

EPS = 1.001e-5  # ResNet's and DenseNet's BatchNormalization epsilon in keras.applications


def _top(*, dropout=None, pool="avg_pool"):
    out = [layer("GlobalAveragePooling2D", pool)]
    if dropout:
        out.append(layer("Dropout", dropout[0], rate=dropout[1]))
    return out + [layer("Dense", "predictions", units=1000, activation="softmax")]


# -- ResNet50 (keras/src/applications/resnet.py) ----------------------------------------------
def _bottleneck(name, filters, strides, conv_shortcut):
    body = [
        conv(f"{name}_1_conv", filters, 1, strides), batch_norm(f"{name}_1_bn", EPS), activation(f"{name}_1_relu"),
        conv(f"{name}_2_conv", filters, 3, padding="same"), batch_norm(f"{name}_2_bn", EPS),
        activation(f"{name}_2_relu"),
        conv(f"{name}_3_conv", 4 * filters, 1), batch_norm(f"{name}_3_bn", EPS),
    ]
    shortcut = [conv(f"{name}_0_conv", 4 * filters, 1, strides), batch_norm(f"{name}_0_bn", EPS)] if conv_shortcut else []
    return [residual(f"{name}_add", body, shortcut), activation(f"{name}_out")]


def resnet50() -> dict:
    layers = [zero_pad("conv1_pad", 3), conv("conv1_conv", 64, 7, 2), batch_norm("conv1_bn", EPS),
              activation("conv1_relu"), zero_pad("pool1_pad", 1), max_pool("pool1_pool", 3, 2)]
    for stage, (filters, blocks, strides) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), start=2):
        for b in range(1, blocks + 1):
            layers += _bottleneck(f"conv{stage}_block{b}", filters, strides if b == 1 else 1, conv_shortcut=b == 1)
    return architecture(
        "resnet50",
        "ResNet50 (He et al. 2015): a 7x7 stride-2 stem, then 16 bottleneck residual blocks in four stages "
        "(3, 4, 6, 3 blocks): a 1x1 convolution narrows the channels, a 3x3 works on them, a 1x1 widens them "
        "four times, and the result is added to the block's input (a 1x1 projection where the shape changes). "
        "Global average pooling replaces VGG's big dense layers, so most of its parameters are in "
        "convolutions. keras.applications.ResNet50's layout and layer names (conv1_conv, conv2_block1_1_conv, "
        "..., conv5_block3_out).",
        "cnn-slides: 'ResNet (2015)', the summary table and 'Using Pre-trained Models'; He et al. 2015, 'Deep "
        "Residual Learning for Image Recognition'; layout and layer names of keras.applications.ResNet50",
        "conv5_block3_out", layers + _top())


# -- MobileNet (keras/src/applications/mobilenet.py) ------------------------------------------
MOBILENET_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def mobilenet() -> dict:
    layers = [conv("conv1", 32, 3, 2, "same", use_bias=False), batch_norm("conv1_bn"), activation("conv1_relu", "relu6")]
    for i, (filters, strides) in enumerate(MOBILENET_BLOCKS, start=1):
        if strides == 2:
            layers.append(zero_pad(f"conv_pad_{i}", [[0, 1], [0, 1]]))
        layers += [
            depthwise(f"conv_dw_{i}", 3, strides, "same" if strides == 1 else None, use_bias=False),
            batch_norm(f"conv_dw_{i}_bn"), activation(f"conv_dw_{i}_relu", "relu6"),
            conv(f"conv_pw_{i}", filters, 1, padding="same", use_bias=False),
            batch_norm(f"conv_pw_{i}_bn"), activation(f"conv_pw_{i}_relu", "relu6"),
        ]
    # Keras pools keeping a 1x1 map, applies a 1x1 Conv2D and reshapes: on a 1x1 map that is a Dense layer.
    layers += [layer("GlobalAveragePooling2D", "avg_pool"), layer("Dropout", "dropout", rate=0.001),
               layer("Dense", "conv_preds", units=1000), activation("predictions", "softmax")]
    return architecture(
        "mobilenet",
        "MobileNet (Howard et al. 2017): a 3x3 convolution, then 13 depthwise separable blocks, each a 3x3 "
        "depthwise convolution (one filter per channel) and a 1x1 pointwise convolution that mixes the "
        "channels, both with batch normalisation and ReLU6. Splitting a convolution this way costs about 8 "
        "times fewer multiply-adds than a full 3x3 convolution. keras.applications.MobileNet's layout (width "
        "1.0); Keras' classifier is a 1x1 convolution on a 1x1 map followed by a Reshape, which is the Dense "
        "layer conv_preds here (the same parameters).",
        "cnn-slides: 'Using Pre-trained Models'; Howard et al. 2017, 'MobileNets: Efficient Convolutional Neural "
        "Networks for Mobile Vision Applications'; layout and layer names of keras.applications.MobileNet",
        "conv_pw_13_relu", layers)


# -- MobileNetV2 (keras/src/applications/mobilenet_v2.py) -------------------------------------
MOBILENET_V2_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6),
                       (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6),
                       (160, 1, 6), (160, 1, 6), (320, 1, 6))  # (filters, stride, expansion) per block_id


def _bn_v2(name):
    return batch_norm(name, 1e-3, 0.999)


def mobilenet_v2() -> dict:
    layers = [conv("Conv1", 32, 3, 2, "same", use_bias=False), _bn_v2("bn_Conv1"), activation("Conv1_relu", "relu6")]
    channels, size = 32, 112
    for block_id, (filters, strides, expansion) in enumerate(MOBILENET_V2_BLOCKS):
        prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
        body = []
        if block_id:
            body += [conv(f"{prefix}expand", expansion * channels, 1, padding="same", use_bias=False),
                     _bn_v2(f"{prefix}expand_BN"), activation(f"{prefix}expand_relu", "relu6")]
        if strides == 2:
            body.append(zero_pad(f"{prefix}pad", correct_pad(size, 3)))
            size //= 2
        body += [depthwise(f"{prefix}depthwise", 3, strides, "same" if strides == 1 else None, use_bias=False),
                 _bn_v2(f"{prefix}depthwise_BN"), activation(f"{prefix}depthwise_relu", "relu6"),
                 conv(f"{prefix}project", filters, 1, padding="same", use_bias=False), _bn_v2(f"{prefix}project_BN")]
        # The inverted residual: the narrow ends are added when the shapes agree (the identity shortcut).
        layers += [residual(f"{prefix}add", body)] if channels == filters and strides == 1 else body
        channels = filters
    layers += [conv("Conv_1", 1280, 1, use_bias=False), _bn_v2("Conv_1_bn"), activation("out_relu", "relu6")]
    return architecture(
        "mobilenet-v2",
        "MobileNetV2 (Sandler et al. 2018): 17 inverted residual blocks. Each widens its input six times with "
        "a 1x1 convolution, filters it with a 3x3 depthwise convolution, and narrows it again with a linear "
        "1x1 projection (no ReLU, so the narrow 'bottleneck' keeps its information); where input and output "
        "have the same shape the two narrow ends are added. ReLU6 throughout, a 1x1 convolution to 1280 "
        "channels at the end. keras.applications.MobileNetV2's layout and layer names (block_1_expand, ...).",
        "cnn-slides: 'Using Pre-trained Models'; Sandler et al. 2018, 'MobileNetV2: Inverted Residuals and Linear "
        "Bottlenecks'; layout and layer names of keras.applications.MobileNetV2",
        "out_relu", layers + _top())


# -- Xception (keras/src/applications/xception.py) --------------------------------------------
def _sep(name, filters):
    return [separable(name, filters, 3, "same", use_bias=False), batch_norm(f"{name}_bn")]


def _entry_block(block, first, filters, relu_first=True):
    """A strided Xception block: two separable convolutions and a max pool, added to a 1x1 stride-2
    convolution of the block's input (Keras' unnamed `residual` branch)."""
    body = ([activation(f"{block}_sepconv1_act")] if relu_first else []) + _sep(f"{block}_sepconv1", first) + \
        [activation(f"{block}_sepconv2_act")] + _sep(f"{block}_sepconv2", filters) + \
        [max_pool(f"{block}_pool", 3, 2, "same")]
    shortcut = [conv(f"{block}_residual_conv", filters, 1, 2, "same", use_bias=False),
                batch_norm(f"{block}_residual_bn")]
    return residual(f"{block}_add", body, shortcut)


def xception() -> dict:
    layers = [conv("block1_conv1", 32, 3, 2, use_bias=False), batch_norm("block1_conv1_bn"),
              activation("block1_conv1_act"),
              conv("block1_conv2", 64, 3, use_bias=False), batch_norm("block1_conv2_bn"), activation("block1_conv2_act"),
              _entry_block("block2", 128, 128, relu_first=False), _entry_block("block3", 256, 256),
              _entry_block("block4", 728, 728)]
    for i in range(5, 13):  # the middle flow: eight identity-shortcut blocks of three separable convolutions
        body = []
        for k in (1, 2, 3):
            body += [activation(f"block{i}_sepconv{k}_act")] + _sep(f"block{i}_sepconv{k}", 728)
        layers.append(residual(f"block{i}_add", body))
    layers += [_entry_block("block13", 728, 1024),
               *_sep("block14_sepconv1", 1536), activation("block14_sepconv1_act"),
               *_sep("block14_sepconv2", 2048), activation("block14_sepconv2_act")]
    return architecture(
        "xception",
        "Xception (Chollet 2017), 'extreme Inception': every convolution after the first two is a depthwise "
        "separable one (a 3x3 per channel, then a 1x1 across channels), the limit of an Inception module with "
        "one branch per channel. An entry flow of three strided blocks, a middle flow of eight identical "
        "residual blocks at 19x19x728, an exit flow to 2048 channels; every block has a residual connection. "
        "Input 299x299. keras.applications.Xception's layout and layer names; the layers Keras leaves unnamed "
        "are block2_residual_conv, block2_add and so on.",
        "cnn-slides: 'Xception - Separable Convolution (2017)' and 'Using Pre-trained Models'; Chollet 2017, "
        "'Xception: Deep Learning with Depthwise Separable Convolutions'; layout and layer names of "
        "keras.applications.Xception",
        "block14_sepconv2_act", layers + _top(), size=299)


# -- EfficientNet-B0 (keras/src/applications/efficientnet.py) ---------------------------------
EFFICIENTNET_B0_STAGES = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
                          (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1))
# (kernel_size, repeats, filters_in, filters_out, expand_ratio, strides): Keras' DEFAULT_BLOCKS_ARGS, se_ratio 0.25


def efficientnet_b0() -> dict:
    layers = [zero_pad("stem_conv_pad", correct_pad(224, 3)), conv("stem_conv", 32, 3, 2, use_bias=False),
              batch_norm("stem_bn"), activation("stem_activation", "swish")]
    size = 112
    for i, (kernel, repeats, filters_in, filters_out, expand, strides) in enumerate(EFFICIENTNET_B0_STAGES, 1):
        for j in range(repeats):
            if j:
                strides, filters_in = 1, filters_out
            name = f"block{i}{chr(97 + j)}_"
            body = []
            if expand != 1:
                body += [conv(f"{name}expand_conv", filters_in * expand, 1, padding="same", use_bias=False),
                         batch_norm(f"{name}expand_bn"), activation(f"{name}expand_activation", "swish")]
            if strides == 2:
                body.append(zero_pad(f"{name}dwconv_pad", correct_pad(size, kernel)))
                size //= 2
            body += [depthwise(f"{name}dwconv", kernel, strides, "same" if strides == 1 else None, use_bias=False),
                     batch_norm(f"{name}bn"), activation(f"{name}activation", "swish"),
                     layer("SqueezeExcite", f"{name}se_excite", units=max(1, int(filters_in * 0.25)),
                           activation="swish"),
                     conv(f"{name}project_conv", filters_out, 1, padding="same", use_bias=False),
                     batch_norm(f"{name}project_bn")]
            layers += [residual(f"{name}add", body)] if strides == 1 and filters_in == filters_out else body
    layers += [conv("top_conv", 1280, 1, padding="same", use_bias=False), batch_norm("top_bn"),
               activation("top_activation", "swish")]
    return architecture(
        "efficientnet-b0",
        "EfficientNet-B0 (Tan & Le 2019), the network a neural architecture search found and the other "
        "EfficientNets scale up in depth, width and resolution together: a 3x3 stem and 16 MBConv blocks "
        "(MobileNetV2's inverted residual with 3x3 or 5x5 depthwise convolutions) with squeeze-and-excitation "
        "(each block reweights its channels by a gate computed from their global averages), swish "
        "activations, a 1x1 convolution to 1280 channels. keras.applications.EfficientNetB0's layout and "
        "layer names. Not in the file: Keras' model starts with Rescaling(1/255) and a Normalization layer "
        "(7 numbers: mean, variance, count), input scaling the workbench's standardiser does instead, and "
        "its blocks' stochastic depth (block*_drop, a Dropout that drops a whole residual branch per image "
        "while training), which the spec has no word for; neither has a trainable weight. Each block's "
        "se_excite is Keras' se_squeeze, se_reshape, se_reduce, se_expand and se_excite in one layer.",
        "cnn-slides: 'EfficientNet (May, 2019)'; Tan & Le 2019, 'EfficientNet: Rethinking Model Scaling for "
        "Convolutional Neural Networks'; layout and layer names of keras.applications.EfficientNetB0",
        "top_activation", layers + _top(dropout=("top_dropout", 0.2)))


# -- DenseNet-121 (keras/src/applications/densenet.py) ----------------------------------------
def densenet121() -> dict:
    layers = [zero_pad("conv1_pad", 3), conv("conv1_conv", 64, 7, 2, use_bias=False), batch_norm("conv1_bn", EPS),
              activation("conv1_relu"), zero_pad("pool1_pad", 1), max_pool("pool1", 3, 2)]
    channels = 64
    for stage, blocks in enumerate((6, 12, 24, 16), start=2):
        for b in range(1, blocks + 1):
            name = f"conv{stage}_block{b}"
            # Keras concatenates the block's input with 32 new channels: an identity branch beside the new ones.
            layers.append(inception(f"{name}_concat", [[], [
                batch_norm(f"{name}_0_bn", EPS), activation(f"{name}_0_relu"),
                conv(f"{name}_1_conv", 128, 1, use_bias=False), batch_norm(f"{name}_1_bn", EPS),
                activation(f"{name}_1_relu"), conv(f"{name}_2_conv", 32, 3, padding="same", use_bias=False),
            ]]))
            channels += 32
        if stage < 5:  # a transition halves the channels and the map
            channels //= 2
            layers += [batch_norm(f"pool{stage}_bn", EPS), activation(f"pool{stage}_relu"),
                       conv(f"pool{stage}_conv", channels, 1, use_bias=False),
                       layer("AveragePooling2D", f"pool{stage}_pool", pool_size=2, strides=2)]
    layers += [batch_norm("bn", EPS), activation("relu")]
    return architecture(
        "densenet121",
        "DenseNet-121 (Huang et al. 2017): four dense blocks (6, 12, 24, 16 layers) in which every layer "
        "receives the feature maps of all the layers before it, concatenated, and adds 32 new channels "
        "(a 1x1 convolution to 128, then a 3x3 to 32, each after batch normalisation and ReLU); transition "
        "layers (1x1 convolution, 2x2 average pooling) halve channels and map between blocks. Feature reuse "
        "gives a deep network with few parameters. keras.applications.DenseNet121's layout and layer names; "
        "each concatenation is an Inception block whose first branch is the identity.",
        "cnn-slides: 'Using Pre-trained Models'; Huang et al. 2017, 'Densely Connected Convolutional Networks'; "
        "layout and layer names of keras.applications.DenseNet121",
        "relu", layers + _top())


# The comment at the top of each generated file: where it comes from and what differs from Keras.
HEADERS = {
    "resnet50": """
        ResNet50 as keras.applications.ResNet50(weights=None) builds it, layer for layer and name for name
        (keras/src/applications/resnet.py: stack_residual_blocks_v1 with residual_block_v1). Keras' convolutions
        here keep their biases and its BatchNormalization has epsilon 1.001e-5. Each block is a Residual whose
        body is the 1x1-3x3-1x1 bottleneck and whose shortcut is conv*_block1_0_conv/_0_bn in a stage's first
        block and the identity after it; the Residual is Keras' Add (conv2_block1_add), the Activation after
        it Keras' conv2_block1_out.

        tests/test_landmarks.py compares every layer's output shape and parameters with the Keras model.
    """,
    "mobilenet": """
        MobileNet (width 1.0, depth multiplier 1) as keras.applications.MobileNet(weights=None) builds it
        (keras/src/applications/mobilenet.py): _conv_block, then 13 _depthwise_conv_block, ReLU6 as Activation
        layers. A stride-2 block pads ((0, 1), (0, 1)) and convolves 'valid', as Keras does.

        Keras' head is GlobalAveragePooling2D(keepdims=True), Dropout(0.001), a 1x1 Conv2D 'conv_preds',
        Reshape and a softmax Activation 'predictions'; on a 1x1 map the convolution is a Dense layer, so
        here it is Dense 'conv_preds' (the same 1024 x 1000 + 1000 parameters) and there is no Reshape.
        tests/test_landmarks.py compares every other layer with the Keras model.
    """,
    "mobilenet-v2": """
        MobileNetV2 (width 1.0) as keras.applications.MobileNetV2(weights=None) builds it
        (keras/src/applications/mobilenet_v2.py, _inverted_res_block): BatchNormalization epsilon 1e-3,
        momentum 0.999; a stride-2 block pads with correct_pad and convolves 'valid'. A block whose input
        and output shapes agree is a Residual with an empty (identity) shortcut, Keras' block_N_add.

        tests/test_landmarks.py compares every layer's output shape and parameters with the Keras model.
    """,
    "xception": """
        Xception as keras.applications.Xception(weights=None) builds it (keras/src/applications/xception.py),
        at its 299x299 input. The entry and exit flow's blocks are Residual blocks whose shortcut is Keras'
        unnamed residual branch (a 1x1 stride-2 Conv2D and BatchNormalization, named blockN_residual_conv
        and blockN_residual_bn here) and whose sum, Keras' unnamed add, is blockN_add; the middle flow's
        shortcut is the identity.

        tests/test_landmarks.py compares every named layer's output shape and parameters with the Keras model.
    """,
    "efficientnet-b0": """
        EfficientNet-B0 as keras.applications.EfficientNetB0(weights=None) builds it
        (keras/src/applications/efficientnet.py: DEFAULT_BLOCKS_ARGS, block()), without what the spec has no
        word for: the input's Rescaling(1/255) and Normalization (7 non-trainable numbers; the workbench's
        standardiser scales the input instead) and each block's stochastic depth (blockNx_drop, a Dropout
        with noise_shape (None, 1, 1, 1) before the addition, parameter-free). Each block's
        squeeze-and-excitation is one SqueezeExcite layer named blockNx_se_excite, which is Keras'
        se_squeeze, se_reshape, se_reduce (a 1x1 convolution to max(1, filters_in / 4) with swish),
        se_expand (back to the block's channels, sigmoid) and se_excite (the product).

        tests/test_landmarks.py compares every other layer's output shape and parameters with the Keras model,
        the SqueezeExcite layers with Keras' five se_ layers together, and the totals less the Normalization.
    """,
    "densenet121": """
        DenseNet-121 as keras.applications.DenseNet121(weights=None) builds it
        (keras/src/applications/densenet.py: dense_block, conv_block, transition_block), BatchNormalization
        epsilon 1.001e-5. Keras' conv_block ends in Concatenate([x, x1]) named convN_blockM_concat: here an
        Inception block of that name whose first branch is the identity ([]) and whose second is the
        bottleneck. Keras leaves the two ZeroPadding2D layers unnamed; they are conv1_pad and pool1_pad here.

        tests/test_landmarks.py compares every named layer's output shape and parameters with the Keras model.
    """,
}

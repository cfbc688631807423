"""Pretrained bases for the transfer-learning experiment, and what is trainable in them.

A base is either a native pretrained model that takes a new head (EfficientNet-Lite0: its
`logits` layer is the head), or a spec architecture (VGG16 of the lecture slides "Convolutional
Neural Networks (CNN)"), cut at its convolutional base and given the lecture's new head
(Flatten, Dense(256, relu), Dense(classes)). The zoo models (VGG16, VGG19, ResNet50, MobileNetV2
with ImageNet weights) take a new head too, when their weights are in the framework's cache or can
be fetched: their builders say where to put the file otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench import graph, lookup
from workbench.registry import get_registry
from workbench.spec import parse_architecture

# where fine-tuning a spec base starts by default: block 5, as the lecture fine-tunes VGG16 (a
# pretrained native model says where itself: Architecture.finetune_from)
FINETUNE_FROM = {"vgg16": "block5_conv1", "vgg19": "block5_conv1"}
_BASE_ENDS = ("Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Dense", "Dropout")


@dataclass(frozen=True)
class Base:
    arch: object  # workbench.spec.Architecture of the whole model (base + head), before the dataset's head
    head_from: str  # the first layer of the head: frozen = everything before it
    finetune_from: str  # the first layer that fine-tuning unfreezes
    pretrained: bool  # False: random weights (counts and code path only)

    @property
    def name(self) -> str:
        return self.arch.name


def default_base() -> str:
    """The pretrained model the registry offers for fine-tuning."""
    return get_registry().with_role("fine-tune").name


def default_finetune_from(name: str) -> str:
    arch = lookup.architecture(name)
    return arch.finetune_from or FINETUNE_FROM.get(arch.name, "")


def base(name: str | None, finetune_from: str | None = None) -> Base:
    """The base by name (None: the registry's fine-tuning model): a native model with a new head,
    or a spec cut at its conv base."""
    arch = lookup.architecture(name or default_base())
    if not arch.is_spec:
        check_base(arch)
        return Base(arch, arch.head_layer, finetune_from or arch.finetune_from or arch.head_layer, True)
    data = arch.to_dict()
    layers = data["layers"]
    cut = next((i for i, layer in enumerate(layers) if layer["type"] in _BASE_ENDS), len(layers))
    if cut == 0:
        raise ValueError(f"{name} has no convolutional base to transfer (its first layer is {layers[0]['type']})")
    data["layers"] = layers[:cut] + [{"type": "Flatten", "name": "head_flatten"},
                                     {"type": "Dense", "name": "head_dense", "units": 256, "activation": "relu"},
                                     {"type": "Dense", "name": "head_output", "activation": "softmax"}]
    data["name"] = f"{arch.name}-transfer"
    whole = parse_architecture(data)
    start = finetune_from or FINETUNE_FROM.get(arch.name) or graph.layer_names(whole)[max(cut - 2, 0)]
    return Base(whole, "head_flatten", start, False)


def check_base(arch) -> None:
    """A native base must take a new head, in place of its named classifier; say what to use instead."""
    if not arch.new_head or not arch.head_layer:
        raise ValueError(f"{arch.name} loads as the {arch.num_classes}-class model it was trained as and cannot be "
                         f"given a new head: use {default_base()} (offline) or the vgg16 spec")


def check_layer(backend, model, layer: str, what: str) -> None:
    names = backend.layer_names(model)
    if layer not in names:
        raise ValueError(f"{what}: no layer named {layer!r} in this model; some of its layers: "
                         f"{', '.join(names[-12:])}")


def trainable_counts(backend, model) -> tuple[int, int]:
    """(trainable weight tensors, trainable parameters), read off the real model: per layer, its
    first arrays (Keras order: kernel, bias; gamma, beta, moving mean, variance) up to its trainable count."""
    weights = backend.get_weights(model)
    tensors = params = 0
    for info in backend.summary(model):
        left = int(info.trainable)
        params += left
        for array in weights.get(info.name, []):
            if left <= 0:
                break
            tensors += 1
            left -= int(np.prod(array.shape))
    return tensors, params


def head_architecture(arch, names: list[str], head_from: str, feature_shape, activation: str | None = None):
    """The layers from `head_from` on as a spec of their own, fed the features before them
    (a native model's head: its logits Dense on the pooled features)."""
    shape = tuple(int(v) for v in feature_shape)
    if arch.is_spec:
        data = arch.to_dict()
        layers = data["layers"][names.index(head_from):]
    else:
        if names[-1] != head_from:
            raise ValueError(f"only a native model's last layer is trained on cached features, not from {head_from}")
        # its classifier on the features before it, pooled first where the model pools in its forward
        # (torchvision's MobileNetV2 names no pooling layer)
        first = {"type": "GlobalAveragePooling2D", "name": "head_pool"} if len(shape) == 3 else \
            {"type": "Flatten", "name": "head_flatten"}
        layers = [first, {"type": "Dense", "name": head_from, "activation": "linear"}]
    if len(shape) == 1:
        shape = (1, 1, shape[0])
        if layers[0]["type"] != "Flatten":
            layers = [{"type": "Flatten", "name": "head_flatten"}] + layers
    if activation:
        layers[-1] = {**layers[-1], "activation": activation}
    return parse_architecture({"name": f"{arch.name}-head", "input_shape": list(shape),
                               "num_classes": arch.num_classes, "layers": layers})

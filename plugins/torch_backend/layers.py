"""PyTorch modules for the spec's Keras layers, computing exactly what Keras computes.

Inside, tensors are NCHW (PyTorch's layout); what differs from Keras is handled here:
- "same" padding is Keras/TF's: ceil(W/S) outputs, the extra pixel of an odd total padding
  goes after (bottom/right), so it is an explicit, possibly asymmetric, F.pad;
- max-pooling pads with -inf, average-pooling "same" divides by the pixels inside the image;
- Flatten reads in H, W, C order so a Dense kernel means the same in both backends;
- BatchNormalization takes Keras' epsilon, and momentum 1 - Keras' momentum.

MODULES, at the end, is the one table from spec type to module; each module converts its own
weights to and from the Keras layout (``keras_slots``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench import spec as S
from workbench.shapes import same_padding


def activation(name: str | None) -> nn.Module:
    """The torch module for a Keras activation name (Identity for None / linear)."""
    table = {
        None: nn.Identity, "linear": nn.Identity, "relu": nn.ReLU, "relu6": nn.ReLU6,
        "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "elu": nn.ELU, "selu": nn.SELU,
        "swish": nn.SiLU, "gelu": nn.GELU,  # Keras' gelu is the exact (erf) one by default
        "hard_sigmoid": nn.Hardsigmoid, "hard_swish": nn.Hardswish,  # Keras 3's: relu6(x + 3) / 6 (times x)
    }
    if name == "softmax":
        return nn.Softmax(dim=1)  # Keras' axis -1 is the channel axis, dim 1 in NCHW
    return table[name]()


def pad_same(x: torch.Tensor, kernel, strides, value: float = 0.0) -> torch.Tensor:
    """Keras' "same" padding for this input size (computed per call: inputs may vary in size)."""
    top, bottom = same_padding(x.shape[2], kernel[0], strides[0])
    left, right = same_padding(x.shape[3], kernel[1], strides[1])
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


# -- weights in the Keras layout: (tensor, to_keras, from_keras) per array, in Keras' order ----
def _same(a):
    return a


def _conv_kernel(conv: nn.Conv2d, w):
    """OIHW -> HWIO; a depthwise (C*dm, 1, kh, kw) -> (kh, kw, C, dm) (channel c * dm + m in both)."""
    if conv.groups == 1:
        return w.transpose(2, 3, 1, 0)
    kh, kw = conv.kernel_size
    return w[:, 0].transpose(1, 2, 0).reshape(kh, kw, conv.in_channels, -1)


def _conv_kernel_to_torch(conv: nn.Conv2d, kernel: torch.Tensor) -> torch.Tensor:
    if conv.groups == 1:
        return kernel.permute(3, 2, 0, 1)
    kh, kw, cin, dm = kernel.shape
    return kernel.reshape(kh, kw, cin * dm).permute(2, 0, 1)[:, None]


def conv_slots(conv: nn.Conv2d) -> list:
    out = [(conv.weight, lambda a: _conv_kernel(conv, a), lambda k: _conv_kernel_to_torch(conv, k))]
    return out + ([(conv.bias, _same, _same)] if conv.bias is not None else [])


def linear_slots(linear: nn.Linear) -> list:
    """A Linear weight (out, in) <-> a Dense kernel (in, out)."""
    out = [(linear.weight, lambda a: a.T, lambda k: k.t())]
    return out + ([(linear.bias, _same, _same)] if linear.bias is not None else [])


def batchnorm_slots(bn: nn.modules.batchnorm._BatchNorm) -> list:
    """weight, bias, running_mean, running_var <-> gamma, beta, moving_mean, moving_variance."""
    return [(t, _same, _same) for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)]


def keras_slots(module: nn.Module) -> list:
    """A module's arrays in the Keras layout: a spec module says its own (``keras_slots``); a
    plain torch layer of a native model is read as its Keras twin; [] for a layer without weights."""
    if hasattr(module, "keras_slots"):
        return module.keras_slots()
    if isinstance(module, nn.Conv2d):
        return conv_slots(module)
    if isinstance(module, nn.Linear):
        return linear_slots(module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return batchnorm_slots(module)
    return []


# -- the spec's layers -------------------------------------------------------------------
class Activated(nn.Module):
    """A layer with a Keras `activation`; `skip_activation` gives its pre-activation (logits)."""

    def __init__(self, act: str | None):
        super().__init__()
        self.act = activation(act)
        self.skip_activation = False

    def activate(self, x):
        return x if self.skip_activation else self.act(x)


class Conv(Activated):
    """Conv2D and DepthwiseConv2D (groups = input channels, Keras' channel order c * dm + m)."""

    def __init__(self, layer, cin: int):
        super().__init__(layer.activation)
        self.kernel, self.strides, self.padding = layer.kernel_size, layer.strides, layer.padding
        if isinstance(layer, S.DepthwiseConv2D):
            cout, groups = cin * layer.depth_multiplier, cin
        else:
            cout, groups = layer.filters, 1
        self.conv = nn.Conv2d(cin, cout, self.kernel, self.strides, groups=groups, bias=layer.use_bias)

    def keras_slots(self):
        return conv_slots(self.conv)

    def forward(self, x):
        if self.padding == "same":
            x = pad_same(x, self.kernel, self.strides)
        return self.activate(self.conv(x))


class Separable(Activated):
    """SeparableConv2D: a depthwise conv (no bias) then a pointwise 1x1 conv with the bias."""

    def __init__(self, layer: S.SeparableConv2D, cin: int):
        super().__init__(layer.activation)
        self.kernel, self.strides, self.padding = layer.kernel_size, layer.strides, layer.padding
        mid = cin * layer.depth_multiplier
        self.depthwise = nn.Conv2d(cin, mid, self.kernel, self.strides, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(mid, layer.filters, 1, bias=layer.use_bias)

    def keras_slots(self):  # depthwise kernel, pointwise kernel, bias
        return conv_slots(self.depthwise) + conv_slots(self.pointwise)

    def forward(self, x):
        if self.padding == "same":
            x = pad_same(x, self.kernel, self.strides)
        return self.activate(self.pointwise(self.depthwise(x)))


class MaxPool(nn.Module):
    def __init__(self, layer: S.MaxPooling2D):
        super().__init__()
        self.pool, self.strides, self.padding = layer.pool_size, layer.strides or layer.pool_size, layer.padding

    def forward(self, x):
        if self.padding == "same":
            x = pad_same(x, self.pool, self.strides, value=float("-inf"))  # padding never wins a max
        return F.max_pool2d(x, self.pool, self.strides)


class AvgPool(nn.Module):
    def __init__(self, layer: S.AveragePooling2D):
        super().__init__()
        self.pool, self.strides, self.padding = layer.pool_size, layer.strides or layer.pool_size, layer.padding

    def forward(self, x):
        if self.padding != "same":
            return F.avg_pool2d(x, self.pool, self.strides)
        # Keras averages over the window's pixels inside the image: sum / count of real pixels.
        total = F.avg_pool2d(pad_same(x, self.pool, self.strides), self.pool, self.strides, divisor_override=1)
        ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        count = F.avg_pool2d(pad_same(ones, self.pool, self.strides), self.pool, self.strides, divisor_override=1)
        return total / count


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class Flatten(nn.Module):
    def forward(self, x):
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)  # H, W, C order, as Keras flattens NHWC
        return x.flatten(1)


class Dense(Activated):
    def __init__(self, layer: S.Dense, n_in: int):
        super().__init__(layer.activation)
        self.linear = nn.Linear(n_in, layer.units, bias=layer.use_bias)

    def keras_slots(self):
        return linear_slots(self.linear)

    def forward(self, x):
        return self.activate(self.linear(x))


class BatchNorm(nn.Module):
    def __init__(self, layer: S.BatchNormalization, channels: int, rank: int):
        super().__init__()
        norm = nn.BatchNorm2d if rank == 3 else nn.BatchNorm1d
        self.bn = norm(channels, eps=layer.epsilon, momentum=1.0 - layer.momentum)

    def keras_slots(self):
        return batchnorm_slots(self.bn)

    def forward(self, x):
        return self.bn(x)


class Dropout(nn.Module):
    def __init__(self, layer: S.Dropout):
        super().__init__()
        self.dropout = nn.Dropout(layer.rate)

    def forward(self, x):
        return self.dropout(x)


class Activation(Activated):
    def __init__(self, layer: S.Activation):
        super().__init__(layer.activation)

    def forward(self, x):
        return self.activate(x)


class ZeroPad(nn.Module):
    def __init__(self, layer: S.ZeroPadding2D):
        super().__init__()
        (top, bottom), (left, right) = layer.padding
        self.pad = (left, right, top, bottom)

    def forward(self, x):
        return F.pad(x, self.pad)


class SqueezeExcite(nn.Module):
    """Average each channel over the map, Dense(units, activation), Dense(channels, gate),
    and scale the input's channels by the result (Keras' Dense on the pooled (N, C) vector)."""

    def __init__(self, layer: S.SqueezeExcite, channels: int):
        super().__init__()
        self.squeeze = nn.Linear(channels, layer.units)
        self.squeeze_act = activation(layer.activation)
        self.excite = nn.Linear(layer.units, channels)
        self.gate = activation(layer.gate)

    def forward(self, x):
        scale = self.gate(self.excite(self.squeeze_act(self.squeeze(x.mean(dim=(2, 3))))))
        return x * scale[:, :, None, None]

    def keras_slots(self):
        return linear_slots(self.squeeze) + linear_slots(self.excite)


class Add(nn.Module):
    """A Residual block's output: body + shortcut."""

    def forward(self, *inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Concatenate(nn.Module):
    """An Inception block's output: its branches stacked on channels."""

    def forward(self, *inputs):
        return torch.cat(inputs, dim=1)


# spec layer type -> its module, given the spec layer and its input shape (NHWC, from the calculator)
MODULES = {
    S.Conv2D: lambda layer, shape: Conv(layer, shape[-1]),
    S.DepthwiseConv2D: lambda layer, shape: Conv(layer, shape[-1]),
    S.SeparableConv2D: lambda layer, shape: Separable(layer, shape[-1]),
    S.MaxPooling2D: lambda layer, shape: MaxPool(layer),
    S.AveragePooling2D: lambda layer, shape: AvgPool(layer),
    S.GlobalAveragePooling2D: lambda layer, shape: GlobalAvgPool(),
    S.Flatten: lambda layer, shape: Flatten(),
    S.Dense: lambda layer, shape: Dense(layer, shape[-1]),
    S.BatchNormalization: lambda layer, shape: BatchNorm(layer, shape[-1], len(shape)),
    S.Dropout: lambda layer, shape: Dropout(layer),
    S.Activation: lambda layer, shape: Activation(layer),
    S.ZeroPadding2D: lambda layer, shape: ZeroPad(layer),
    S.SqueezeExcite: lambda layer, shape: SqueezeExcite(layer, shape[-1]),
    S.Residual: lambda layer, shape: Add(),
    S.Inception: lambda layer, shape: Concatenate(),
}


def make(layer: S.Layer, input_shape: tuple[int, ...]) -> nn.Module:
    """The module for one spec layer, given its input shape."""
    if type(layer) not in MODULES:
        raise ValueError(f"the PyTorch backend cannot build layer type {layer.type}")
    return MODULES[type(layer)](layer, input_shape)

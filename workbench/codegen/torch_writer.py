"""The PyTorch code for a spec: an ``nn.Module`` with one attribute per spec layer (a block's parts
as ``nn.Sequential``), a forward that calls them in order and returns logits (the final softmax is
inside the cross-entropy loss), torch.optim, torchvision augmentation and a plain training loop.

Sizes torch needs and Keras infers (in_channels, in_features) come from the calculator; Keras'
"same" padding, which torch writes only for stride 1, is an explicit pad of the sizes it computes."""

from __future__ import annotations

import re

from workbench import shapes
from workbench import spec as S
from workbench.codegen.common import Settings, binary, header, literal, square, stand_in_data

ACTIVATIONS = {"relu": "nn.ReLU()", "relu6": "nn.ReLU6()", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()",
               "elu": "nn.ELU()", "selu": "nn.SELU()", "swish": "nn.SiLU()", "gelu": "nn.GELU()",
               "hard_sigmoid": "nn.Hardsigmoid()", "hard_swish": "nn.Hardswish()", "softmax": "nn.Softmax(dim=1)"}
OPTIMIZERS = {
    "sgd": "SGD(model.parameters(), {lr})", "momentum": "SGD(model.parameters(), {lr}, momentum={m})",
    "nesterov": "SGD(model.parameters(), {lr}, momentum={m}, nesterov=True)",
    "adagrad": "Adagrad(model.parameters(), {lr})", "adadelta": "Adadelta(model.parameters(), {lr})",
    "rmsprop": "RMSprop(model.parameters(), {lr}, alpha=0.9)  # Keras' rho",
    "adam": "Adam(model.parameters(), {lr})", "adamax": "Adamax(model.parameters(), {lr})",
    "nadam": "NAdam(model.parameters(), {lr})", "amsgrad": "Adam(model.parameters(), {lr}, amsgrad=True)",
}


def activation(name) -> list[str]:
    return [] if name in (None, "linear") else [ACTIVATIONS[name]]


def _same(layer, shape, kernel, strides) -> tuple[int, int, int, int]:
    """Keras' "same" padding for this input size as (left, right, top, bottom)."""
    top, bottom = shapes.same_padding(shape[0], kernel[0], strides[0])
    left, right = shapes.same_padding(shape[1], kernel[1], strides[1])
    return left, right, top, bottom


def _padded(layer, shape, kernel, strides, fill: str = "") -> tuple[list[str], str]:
    """(the pad module before the layer, if any, and the layer's own padding argument)."""
    if layer.padding != "same":
        return [], ""
    pads = _same(layer, shape, kernel, strides)
    if not any(pads):
        return [], ""
    if pads[0] == pads[1] == pads[2] == pads[3] and not fill and tuple(strides) == (1, 1):
        return [], ', padding="same"'
    if fill:
        return [f"nn.ConstantPad2d({literal(pads)}, {fill})"], ""
    return [f"nn.ZeroPad2d({literal(pads)})  # Keras' 'same' for stride {literal(square(strides))}"], ""


def conv(layer, shape) -> list[str]:
    pad, same = _padded(layer, shape, layer.kernel_size, layer.strides)
    cin = shape[2]
    stride = "" if layer.strides == (1, 1) else f", stride={literal(square(layer.strides))}"
    bias = "" if layer.use_bias else ", bias=False"
    k = literal(square(layer.kernel_size))
    if isinstance(layer, S.DepthwiseConv2D):
        core = [f"nn.Conv2d({cin}, {cin * layer.depth_multiplier}, {k}{stride}{same}, groups={cin}{bias})"]
    elif isinstance(layer, S.SeparableConv2D):
        mid = cin * layer.depth_multiplier
        core = [f"nn.Conv2d({cin}, {mid}, {k}{stride}{same}, groups={cin}, bias=False)",
                f"nn.Conv2d({mid}, {layer.filters}, 1{bias})"]
    else:
        core = [f"nn.Conv2d({cin}, {layer.filters}, {k}{stride}{same}{bias})"]
    return pad + core + activation(layer.activation)


def pool(layer, shape) -> list[str]:
    strides = layer.strides or layer.pool_size
    size = literal(square(layer.pool_size))
    stride = "" if tuple(strides) == tuple(layer.pool_size) else f", stride={literal(square(strides))}"
    if isinstance(layer, S.MaxPooling2D):
        pad, _ = _padded(layer, shape, layer.pool_size, strides, fill='float("-inf")')
        return pad + [f"nn.MaxPool2d({size}{stride})"]
    if layer.padding == "same" and any(_same(layer, shape, layer.pool_size, strides)):
        left, right, top, bottom = _same(layer, shape, layer.pool_size, strides)
        # Keras averages over the pixels inside the image; torch's padding must be symmetric for that
        return [f"nn.AvgPool2d({size}{stride}, padding={literal((top, left))}, count_include_pad=False)"]
    return [f"nn.AvgPool2d({size}{stride})"]


def batchnorm(layer, shape) -> list[str]:
    kind = "BatchNorm2d" if len(shape) == 3 else "BatchNorm1d"
    # Keras' momentum 0.99 keeps 99% of the running average; torch's momentum is the new batch's share
    return [f"nn.{kind}({shape[-1]}, eps={layer.epsilon:g}, momentum={1 - layer.momentum:.2g})"]


# spec type -> the modules it is made of, given the spec layer and its input shape (H, W, C); a block:
# (its helper class, the arguments it takes), given its parts' code
CODE = {
    S.Conv2D: conv, S.DepthwiseConv2D: conv, S.SeparableConv2D: conv,
    S.MaxPooling2D: pool, S.AveragePooling2D: pool,
    S.GlobalAveragePooling2D: lambda layer, shape: ["nn.AdaptiveAvgPool2d(1)", "nn.Flatten()"],
    S.BatchNormalization: batchnorm,
    S.Dropout: lambda layer, shape: [f"nn.Dropout({layer.rate:g})"],
    # torch flattens C, H, W: the same count as Keras' H, W, C, in another order
    S.Flatten: lambda layer, shape: ["nn.Flatten()"],
    S.Dense: lambda layer, shape: [f"nn.Linear({shape[0]}, {layer.units}" + ("" if layer.use_bias else ", bias=False")
                                   + ")", *activation(layer.activation)],
    S.Activation: lambda layer, shape: activation(layer.activation) or ["nn.Identity()"],
    S.ZeroPadding2D: lambda layer, shape: [f"nn.ZeroPad2d({literal((*layer.padding[1], *layer.padding[0]))})"],
    S.SqueezeExcite: lambda layer, shape: [f"SqueezeExcite({shape[2]}, {layer.units}, "
                                           f"{(activation(layer.activation) or ['nn.Identity()'])[0]}, "
                                           f"{(activation(layer.gate) or ['nn.Identity()'])[0]})"],
    S.Residual: lambda layer, parts: ["Residual", parts[:1] if parts[1] == "None" else parts],
    S.Inception: lambda layer, parts: ["Concatenate", parts],
}

HELPERS = {
    S.Residual: '''class Residual(nn.Module):
    """body(x) + shortcut(x); no shortcut: x itself."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body, self.shortcut = body, shortcut or nn.Identity()

    def forward(self, x):
        return self.body(x) + self.shortcut(x)
''',
    S.Inception: '''class Concatenate(nn.Module):
    """The branches side by side on the channels; an empty branch (None) passes x through."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branch or nn.Identity() for branch in branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)
''',
    S.SqueezeExcite: '''class SqueezeExcite(nn.Module):
    """The mean of each channel, two Linear layers, then each channel of x times its gate."""

    def __init__(self, channels, units, activation, gate):
        super().__init__()
        self.squeeze, self.activation = nn.Linear(channels, units), activation
        self.excite, self.gate = nn.Linear(units, channels), gate

    def forward(self, x):
        scale = self.gate(self.excite(self.activation(self.squeeze(x.mean(dim=(2, 3))))))
        return x * scale[:, :, None, None]
''',
}


def sequential(modules: list[str], indent: str) -> str:
    """One module, or nn.Sequential of several: on one line when short, else one per line."""
    codes = [m.split("  #")[0] for m in modules]
    if len(codes) == 1:
        return codes[0]
    one_line = "nn.Sequential(" + ", ".join(codes) + ")"
    if len(one_line) + len(indent) <= 110 and "\n" not in one_line:
        return one_line
    return "nn.Sequential(\n" + "".join(f"{indent}    {c},\n" for c in codes) + f"{indent})"


def _modules(layer, table, indent: str) -> list[str]:
    """The module expressions one spec layer is made of (a block: one, its parts inside, one per line)."""
    if isinstance(layer, S.Block):
        parts = []
        for _, part in layer.parts():
            inner = [m for sub in part for m in _modules(sub, table, indent + "    ")]
            parts.append(sequential(inner, indent + "    ") if inner else "None")
        name, args = CODE[type(layer)](layer, parts)
        return [f"{name}(\n" + "".join(f"{indent}    {a},\n" for a in args) + f"{indent})"]
    return CODE[type(layer)](layer, table.row(layer.name).input_shape)


def _final_softmax(arch) -> bool:
    return getattr(arch.layers[-1], "activation", None) in ("softmax", "sigmoid")


def class_name(arch) -> str:
    words = re.split(r"[^A-Za-z0-9]+", arch.name)
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    return name if name and name[0].isalpha() else f"Net{name}"


def model_code(arch: S.Architecture) -> list[str]:
    table = shapes.compute(arch)
    used = {type(layer) for layer in S.walk(arch.layers)}
    lines = [HELPERS[t] + "\n" for t in HELPERS if t in used]
    lines += [f"class {class_name(arch)}(nn.Module):",
              f'    """{arch.name}: {"x".join(map(str, arch.input_shape))} images (NCHW in torch), '
              f'{arch.num_classes} classes; forward gives logits."""', "",
              "    def __init__(self):", "        super().__init__()"]
    calls = []
    last = len(arch.layers) - 1
    for i, layer in enumerate(arch.layers):
        modules = _modules(layer, table, "        ")
        if i == last and _final_softmax(arch):
            modules = modules[:-1]  # the softmax / sigmoid: inside the loss (and torch.softmax for probabilities)
        if not modules:
            continue
        row = table.row(layer.name)
        shape = "x".join(map(str, row.output_shape))
        lines.append(f"        self.{layer.name} = {sequential(modules, '        ')}")
        calls.append(f"        x = self.{layer.name}(x)  # -> {shape}")
    return lines + ["", "    def forward(self, x):", *calls, "        return x"]


def augmentation(aug) -> list[str]:
    """ImageDataGenerator's settings as torchvision transforms (a fresh draw per image)."""
    affine = []
    if aug.rotation_range:
        affine.append(f"degrees={aug.rotation_range:g}")
    if aug.width_shift_range or aug.height_shift_range:
        affine.append(f"translate=({aug.width_shift_range:g}, {aug.height_shift_range:g})")
    if aug.shear_range:
        affine.append(f"shear={aug.shear_range:g}")
    if aug.zoom_range:
        affine.append(f"scale=({1 - aug.zoom_range:g}, {1 + aug.zoom_range:g})")
    steps = [f"v2.RandomAffine({', '.join(affine) if aug.rotation_range else 'degrees=0, ' + ', '.join(affine)})"] \
        if affine else []
    if aug.horizontal_flip:
        steps.append("v2.RandomHorizontalFlip()")
    if aug.vertical_flip:
        steps.append("v2.RandomVerticalFlip()")
    return ["augment = v2.Compose(["] + [f"    {s}," for s in steps] + ["])"]


def torch_code(arch: S.Architecture, settings: Settings | None = None) -> str:
    """A runnable PyTorch file for the architecture and training settings."""
    if not arch.is_spec:
        raise ValueError(f"{arch.name} is a pretrained model with no spec: there is no layer table to write out")
    s = settings or Settings()
    lr = f"lr={s.learning_rate:g}"
    loss = "nn.BCEWithLogitsLoss()" if binary(arch) else "nn.CrossEntropyLoss()"
    target = "yb.float()[:, None]" if binary(arch) else "yb"
    lines = [header(arch, "PyTorch", s), "import numpy as np", "import torch", "from torch import nn",
             "from torch.utils.data import DataLoader, TensorDataset"]
    if s.augment.active:
        lines.append("from torchvision.transforms import v2")
    lines += ["", "", *model_code(arch), "", "", "torch.manual_seed(0)", f"model = {class_name(arch)}()",
              f"optimizer = torch.optim.{OPTIMIZERS[s.optimizer].format(lr=lr, m=s.momentum)}",
              f"loss_fn = {loss}  # on logits: the softmax is inside it", "",
              *stand_in_data(arch, s, "NCHW"), ""]
    lines += augmentation(s.augment) if s.augment.active else ["augment = None"]
    lines += ["loader = DataLoader(TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),",
              f"                    batch_size={s.batch_size}, shuffle=True)", "", "",
              "def fit(model, loader, epochs):",
              '    """Mean training loss per epoch."""',
              "    history = []",
              "    for epoch in range(epochs):",
              "        model.train()  # Dropout drops, BatchNorm uses each batch's statistics",
              "        total, seen = 0.0, 0",
              "        for xb, yb in loader:",
              "            if augment is not None:",
              "                xb = torch.stack([augment(image) for image in xb])  # each image its own draw",
              "            optimizer.zero_grad()",
              f"            loss = loss_fn(model(xb), {target})",
              "            loss.backward()",
              "            optimizer.step()",
              "            total, seen = total + loss.item() * len(xb), seen + len(xb)",
              "        history.append(total / seen)",
              '        print(f"epoch {epoch + 1}: loss {history[-1]:.4f}")',
              "    model.eval()",
              "    return history", "", "",
              f"history = fit(model, loader, epochs={s.epochs})"]
    return "\n".join(lines) + "\n"

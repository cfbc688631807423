"""The Keras code for a spec: keras.Sequential when the layers follow each other, the functional
API where a block branches (Residual, Inception) or a layer multiplies its input (SqueezeExcite);
model.compile and model.fit with the settings, Keras preprocessing layers for augmentation.

The spec speaks Keras' vocabulary, so most layers are written as they are: ``layers.<Type>(key=value)``
with the keys the spec sets. CODE holds the layers written otherwise."""

from __future__ import annotations

import math
from dataclasses import fields

from workbench import shapes
from workbench import spec as S
from workbench.codegen.common import Settings, binary, header, literal, square, stand_in_data

# Keys Keras needs although the spec has a default for them
REQUIRED = {"Dropout": ("rate",), "Dense": ("units",), "Activation": ("activation",),
            "MaxPooling2D": ("pool_size",), "AveragePooling2D": ("pool_size",)}
OPTIMIZERS = {
    "sgd": "SGD({lr})", "momentum": "SGD({lr}, momentum={m})", "nesterov": "SGD({lr}, momentum={m}, nesterov=True)",
    "adagrad": "Adagrad({lr})", "adadelta": "Adadelta({lr})", "rmsprop": "RMSprop({lr})", "adam": "Adam({lr})",
    "adamax": "Adamax({lr})", "nadam": "Nadam({lr})", "amsgrad": "Adam({lr}, amsgrad=True)",
}


def plain(layer: S.Layer) -> str:
    """``layers.Conv2D(filters=32, kernel_size=3, ..., name=...)``: the keys the spec sets."""
    args = []
    for f in fields(layer):
        value = getattr(layer, f.name)
        if f.name == "name" or (value == f.default and f.name not in REQUIRED.get(layer.type, ())):
            continue
        if f.name in ("kernel_size", "pool_size", "strides"):
            value = square(value)
        args.append(f"{f.name}={literal(value)}")
    return f"layers.{layer.type}({', '.join(args + [f'name={layer.name!r}'])})"


def squeeze_excite(layer: S.SqueezeExcite, x: str, channels: int, out: list[str], indent: str) -> str:
    """Squeeze (mean per channel), excite (two Dense layers), scale the input's channels."""
    gate = f"{layer.name}_gate"
    n = layer.name
    out += [f"{indent}{gate} = layers.GlobalAveragePooling2D(keepdims=True, name='{n}_squeeze')({x})",
            f"{indent}{gate} = layers.Dense({layer.units}, activation={layer.activation!r}, name='{n}_reduce')({gate})",
            f"{indent}{gate} = layers.Dense({channels}, activation={layer.gate!r}, name='{n}_expand')({gate})"]
    return f"layers.Multiply(name={layer.name!r})([{x}, {gate}])"


# spec type -> how the functional API writes it: (layer, input variable, its input shape, lines, indent)
# -> the expression of its output; every other type is plain(layer)(x)
CODE = {
    S.SqueezeExcite: lambda layer, x, shape, out, indent: squeeze_excite(layer, x, shape[-1], out, indent),
    S.Residual: lambda layer, parts, shape, out, indent: f"layers.Add(name={layer.name!r})([{', '.join(parts)}])",
    S.Inception: lambda layer, parts, shape, out, indent:
        f"layers.Concatenate(name={layer.name!r})([{', '.join(parts)}])",
}


def sequential(arch: S.Architecture) -> bool:
    return not any(isinstance(layer, (S.Block, S.SqueezeExcite)) for layer in S.walk(arch.layers))


def _functional(layers, x: str, table: shapes.ShapeTable, out: list[str]) -> str:
    """Lines that apply ``layers`` to the variable x; the variable holding their output."""
    for layer in layers:
        shape = table.row(layer.name).input_shape
        if isinstance(layer, S.Block):
            parts = []
            for where, part in layer.parts():
                if not part:
                    parts.append(x)  # an empty part is the block's input itself
                    continue
                var = f"{layer.name}_{where.replace('[', '').replace(']', '')}"
                out.append(f"    {var} = {x}")
                parts.append(_functional(part, var, table, out))
            out.append(f"    {x} = {CODE[type(layer)](layer, parts, shape, out, '    ')}")
        elif type(layer) in CODE:
            out.append(f"    {x} = {CODE[type(layer)](layer, x, shape, out, '    ')}")
        else:
            out.append(f"    {x} = {plain(layer)}({x})")
    return x


def model_code(arch: S.Architecture) -> list[str]:
    name = repr(arch.name.replace(" ", "_"))
    if sequential(arch):
        return (["model = keras.Sequential([", f"    keras.Input(shape={literal(tuple(arch.input_shape))}),"]
                + [f"    {plain(layer)}," for layer in arch.layers] + [f"], name={name})"])
    lines = ["def build_model():", f"    inputs = keras.Input(shape={literal(tuple(arch.input_shape))})",
             "    x = inputs"]
    _functional(arch.layers, "x", shapes.compute(arch), lines)
    return lines + [f"    return keras.Model(inputs, x, name={name})", "", "", "model = build_model()"]


def augmentation(aug) -> list[str]:
    """ImageDataGenerator's settings as Keras preprocessing layers (a fresh draw per image)."""
    fill = f", fill_mode={aug.fill_mode!r}"
    steps = []
    if aug.rotation_range:
        steps.append(f"layers.RandomRotation({aug.rotation_range:g} / 360{fill})  # a fraction of a full turn")
    if aug.shear_range:
        steps.append(f"layers.RandomShear(x_factor={math.tan(math.radians(aug.shear_range)):.4f}{fill})"
                     f"  # tan({aug.shear_range:g} degrees)")
    if aug.width_shift_range or aug.height_shift_range:
        steps.append(f"layers.RandomTranslation({aug.height_shift_range:g}, {aug.width_shift_range:g}{fill})")
    if aug.zoom_range:
        steps.append(f"layers.RandomZoom(({-aug.zoom_range:g}, {aug.zoom_range:g}){fill})")
    flips = [k for k, on in (("horizontal", aug.horizontal_flip), ("vertical", aug.vertical_flip)) if on]
    if flips:
        steps.append(f"layers.RandomFlip({'_and_'.join(flips)!r})")
    return ["augment = keras.Sequential(["] + [listed(s) for s in steps] + ["])"]


def listed(item: str, indent: str = "    ") -> str:
    """One item of a list literal: its comma before its comment."""
    code, _, comment = item.partition("  #")
    return f"{indent}{code}," + (f"  #{comment}" if comment else "")


def keras_code(arch: S.Architecture, settings: Settings | None = None) -> str:
    """A runnable Keras file for the architecture and training settings."""
    if not arch.is_spec:
        raise ValueError(f"{arch.name} is a pretrained model with no spec: there is no layer table to write out")
    s = settings or Settings()
    squashed = getattr(arch.layers[-1], "activation", None) in ("softmax", "sigmoid")
    loss = "BinaryCrossentropy" if binary(arch) else "SparseCategoricalCrossentropy"
    lr = f"learning_rate={s.learning_rate:g}"
    lines = [header(arch, "Keras", s), "import numpy as np", "import keras", "from keras import layers"]
    if s.augment.active:
        lines.append("import tensorflow as tf")
    lines += ["", "", *model_code(arch), "model.summary()", ""]
    lines += [f"model.compile(optimizer=keras.optimizers.{OPTIMIZERS[s.optimizer].format(lr=lr, m=s.momentum)},",
              f"              loss=keras.losses.{loss}(from_logits={not squashed}),", '              metrics=["accuracy"])',
              "", *stand_in_data(arch, s, "NHWC"), ""]
    if s.augment.active:
        lines += [*augmentation(s.augment), "",
                  "# shuffled batches, each image augmented afresh every epoch",
                  "train = (tf.data.Dataset.from_tensor_slices((x_train, y_train))",
                  "         .shuffle(len(x_train), seed=0)",
                  f"         .batch({s.batch_size})",
                  "         .map(lambda x, y: (augment(x, training=True), y)))",
                  f"history = model.fit(train, epochs={s.epochs})"]
    else:
        lines.append(f"history = model.fit(x_train, y_train, batch_size={s.batch_size}, epochs={s.epochs}, shuffle=True)")
    return "\n".join(lines) + "\n"

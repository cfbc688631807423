"""The layer dicts of an architecture file, and the YAML a student reads.

The landmark models are long (ResNet50 has 177 layers), so their files are generated from the
short Python beside this module; the helpers here write one spec layer each, in the file
format's own keys (docs/architectures.md), and ``dump`` writes a file in the style of the
hand-written ones: one flow mapping per layer, blocks in block style.
"""

from __future__ import annotations

import json
import re
import textwrap

WIDTH = 100
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~"}


def layer(type_: str, name: str, **keys) -> dict:
    """One spec layer: type and name first, then the keys that differ from the defaults."""
    return {"type": type_, "name": name, **{k: v for k, v in keys.items() if v is not None}}


def conv(name, filters, kernel_size, strides=1, padding=None, activation=None, use_bias=True):
    return layer("Conv2D", name, filters=filters, kernel_size=kernel_size, strides=None if strides == 1 else strides,
                 padding=padding, activation=activation, use_bias=None if use_bias else False)


def depthwise(name, kernel_size, strides=1, padding=None, use_bias=True):
    return layer("DepthwiseConv2D", name, kernel_size=kernel_size, strides=None if strides == 1 else strides,
                 padding=padding, use_bias=None if use_bias else False)


def separable(name, filters, kernel_size, padding=None, use_bias=True):
    return layer("SeparableConv2D", name, filters=filters, kernel_size=kernel_size, padding=padding,
                 use_bias=None if use_bias else False)


def batch_norm(name, epsilon=None, momentum=None):
    return layer("BatchNormalization", name, momentum=momentum, epsilon=epsilon)


def activation(name, function="relu"):
    return layer("Activation", name, activation=function)


def zero_pad(name, padding):
    return layer("ZeroPadding2D", name, padding=padding)


def max_pool(name, pool_size, strides=None, padding=None):
    return layer("MaxPooling2D", name, pool_size=pool_size, strides=strides, padding=padding)


def residual(name, body, shortcut=()):
    return {"type": "Residual", "name": name, "body": list(body), "shortcut": list(shortcut)}


def inception(name, branches):
    return {"type": "Inception", "name": name, "branches": [list(b) for b in branches]}


def architecture(name, description, source, explain_layer, layers, size=224) -> dict:
    """An ImageNet architecture file's top level: a size x size RGB input, 1000 classes."""
    return {"name": name, "description": description, "source": source, "input_shape": [size, size, 3],
            "num_classes": 1000, "explain_layer": explain_layer, "layers": layers}


def correct_pad(size: int, kernel: int):
    """keras.applications' imagenet_utils.correct_pad: the ZeroPadding2D before a stride-2 'valid'
    convolution that gives TF's 'same' output (one pixel less before than after on an even size)."""
    adjust = 1 - size % 2
    return [[kernel // 2 - adjust, kernel // 2]] * 2


# -- writing -----------------------------------------------------------------------------
def scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        if "." not in mantissa:  # YAML 1.1 (PyYAML) reads 1e-05 as a string, 1.0e-05 as a number
            mantissa += ".0"
        if exponent and exponent[0] not in "+-":
            exponent = "+" + exponent
        return mantissa + ("e" + exponent if exponent else "")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, str) and _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def flow(item: dict) -> str:
    return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in item.items()) + "}"


def _items(layers, indent: int) -> list[str]:
    pad = " " * indent
    out = []
    for item in layers:
        if item["type"] == "Residual":
            out += [f"{pad}- type: Residual", f"{pad}  name: {item['name']}"]
            for key in ("body", "shortcut"):
                out += [f"{pad}  {key}:" + (" []" if not item[key] else "")] + _items(item[key], indent + 4)
        elif item["type"] == "Inception":
            out += [f"{pad}- type: Inception", f"{pad}  name: {item['name']}", f"{pad}  branches:"]
            for branch in item["branches"]:
                if not branch:
                    out.append(f"{pad}    - []")
                    continue
                lines = _items(branch, indent + 6)
                out.append(f"{pad}    - " + lines[0].lstrip())  # "- - {...}": a list of layer lists
                out += lines[1:]
        else:
            out.append(f"{pad}- {flow(item)}")
    return out


def dump(arch: dict, header: str) -> str:
    """The architecture file: the header as comments, then the keys in the usual order."""
    lines = []
    for i, paragraph in enumerate(header.strip().split("\n\n")):
        lines += (["#"] if i else []) + ["# " + line for line in textwrap.wrap(" ".join(paragraph.split()), WIDTH - 2)]
    lines += [f"name: {scalar(arch['name'])}", "description: >-"]
    lines += ["  " + line for line in textwrap.wrap(" ".join(arch["description"].split()), WIDTH - 2)]
    lines += [f"source: {json.dumps(arch['source'], ensure_ascii=False)}",
              f"input_shape: {scalar(arch['input_shape'])}",
              f"num_classes: {arch['num_classes']}",
              f"explain_layer: {scalar(arch['explain_layer'])}",
              "layers:"]
    lines += _items(arch["layers"], 2)
    return "\n".join(lines) + "\n"

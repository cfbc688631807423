"""The neutral architecture spec, in the Keras vocabulary the course notes use.

One description, three consumers: the shape calculator (workbench.shapes), the TensorFlow
builder and the PyTorch builder. The same vocabulary is the JSON/YAML file format:

    {"name": "mnist-cnn", "input_shape": [28, 28, 1], "num_classes": 10,
     "layers": [{"type": "Conv2D", "filters": 32, "kernel_size": 3, "activation": "relu"}, ...]}

Layer names are filled in the Keras way (conv2d_1, conv2d_2, ...) when a file omits them, so
that "block5_conv1" or "conv2d_3" addresses the same layer in every backend.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Union

# The vocabulary: every layer type, each in its home (workbench.model), re-exported here so that
# `from workbench import spec as S; S.Conv2D(...)` reads like Keras.
from workbench.model.blocks import *  # noqa: F401,F403 - Block, Residual, Inception, BLOCK_TYPES
from workbench.model.blocks import BLOCK_TYPES, Block
from workbench.model import limits
from workbench.model.checks import ACTIVATIONS, PADDINGS, SpecError, positive_int  # noqa: F401
from workbench.model.layers import *  # noqa: F401,F403 - Layer, Conv2D, ..., SqueezeExcite, PLAIN_TYPES, CONV_TYPES
from workbench.model.layers import CONV_TYPES, PLAIN_TYPES, Dense, Layer

# type name in a file -> its class: every layer type the file format knows
LAYER_TYPES: dict[str, type[Layer]] = {cls.__name__: cls for cls in (*PLAIN_TYPES, *BLOCK_TYPES)}


# -- architectures -----------------------------------------------------------------------
@dataclass(frozen=True)
class Architecture:
    """A named architecture: a spec (layers) or, for zoo models, native builders per backend."""

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    layers: tuple[Layer, ...] = ()
    description: str = ""
    source: str = ""  # where it comes from: "KEY: where" (KEY of workbench.sources)
    explain_layer: str | None = None  # the layer worth explaining (Grad-CAM); default: last conv
    # For models that are not spec-built (pretrained zoo models): backend name -> builder.
    native: dict[str, Callable[..., Any]] = field(default_factory=dict, compare=False, hash=False)
    class_names: tuple[str, ...] | None = None
    new_head: bool = False  # a native model its builders can give another class count (fine-tuning)
    # How its (pretrained) weights want their input (workbench.imagenet.Preprocessing); None: as they come.
    preprocessing: Any = field(default=None, compare=False, hash=False)
    roles: tuple[str, ...] = ()  # what the workbench uses it for by default: workbench.registry.ROLES
    finetune_from: str | None = None  # where fine-tuning a pretrained model unfreezes by default
    head_layer: str | None = None  # a native model's classifier, the layer a new head replaces

    @property
    def is_spec(self) -> bool:
        return bool(self.layers)

    def with_input(self, input_shape) -> "Architecture":
        return parse_architecture({**self.to_dict(), "input_shape": list(input_shape)})

    def with_classes(self, num_classes: int) -> "Architecture":
        """The same architecture with its last Dense layer resized to ``num_classes``."""
        data = self.to_dict()
        data["num_classes"] = num_classes
        for layer in reversed(data["layers"]):
            if layer["type"] == "Dense":
                layer["units"] = num_classes
                break
        return parse_architecture(data)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
        }
        for key in ("description", "source", "explain_layer"):  # so dumps -> loads round-trips
            if getattr(self, key):
                out[key] = getattr(self, key)
        out["layers"] = [layer_to_dict(layer) for layer in self.layers]
        return out

    def last_conv(self) -> str | None:
        if self.explain_layer:
            return self.explain_layer
        convs = [layer.name for layer in walk(self.layers) if isinstance(layer, CONV_TYPES)]
        return convs[-1] if convs else None


def walk(layers) -> list[Layer]:
    """Every layer, blocks' inner layers first and then the block itself, in order."""
    out: list[Layer] = []
    for layer in layers:
        if isinstance(layer, Block):
            for _, part in layer.parts():
                out += walk(part)
        out.append(layer)
    return out


# -- parsing -----------------------------------------------------------------------------
def parse_layer(data: Any, where: str = "layers[0]") -> Layer:
    if isinstance(data, Layer):
        return data
    if not isinstance(data, dict):
        raise SpecError(where, None, f"a layer must be an object with a 'type', got {data!r}")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in LAYER_TYPES:
        raise SpecError(where, "type", f"unknown layer type {kind!r}; known: {', '.join(LAYER_TYPES)}")
    cls = LAYER_TYPES[kind]
    allowed = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "type":
            continue
        if key not in allowed:
            raise SpecError(where, key, f"{kind} has no key '{key}'; its keys are: {', '.join(allowed)}")
        if key in getattr(cls, "nested", ()):
            kwargs[key] = cls.parse_part(key, value, where, _parse_list)
        else:
            kwargs[key] = cls.check(key, value, where)
    missing = [
        f.name for f in fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in kwargs
    ]
    if missing:
        raise SpecError(where, missing[0], f"{kind} needs '{missing[0]}'")
    layer = cls(**kwargs)
    layer.validate(where)
    return layer


def _parse_list(value, where) -> tuple[Layer, ...]:
    if not isinstance(value, list):
        raise SpecError(where, None, "must be a list of layers")
    return tuple(parse_layer(item, f"{where}[{i}]") for i, item in enumerate(value))


def _assign_names(layers, counters: dict[str, int], taken: set[str]) -> tuple[Layer, ...]:
    """Give every unnamed layer a Keras-style name: conv2d_1, max_pooling2d_1, ..."""
    out = []
    for layer in layers:
        if isinstance(layer, Block):
            layer = layer.with_parts([_assign_names(part, counters, taken) for _, part in layer.parts()])
        if layer.name is None:
            base = snake_case(layer.type)
            while True:
                counters[base] = counters.get(base, 0) + 1
                name = f"{base}_{counters[base]}"
                if name not in taken:
                    break
            layer = dataclasses.replace(layer, name=name)
        out.append(layer)
        taken.add(layer.name)
    return tuple(out)


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower().replace("2_d", "2d")


def parse_architecture(data: dict[str, Any], **extra) -> Architecture:
    """Build an Architecture from its JSON/YAML form, with errors that name the place."""
    if not isinstance(data, dict):
        raise SpecError("architecture", None, "must be an object with name, input_shape, num_classes, layers")
    known = {"name", "input_shape", "num_classes", "layers", "description", "source", "explain_layer"}
    for key in data:
        if key not in known:
            raise SpecError("architecture", key, f"unknown key; expected: {', '.join(sorted(known))}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError("architecture", "name", "needs a non-empty name")
    shape = data.get("input_shape")
    if (
        not isinstance(shape, (list, tuple))
        or len(shape) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
    ):
        raise SpecError("architecture", "input_shape", f"must be [height, width, channels], got {shape!r}")
    limits.check_input_shape(shape)
    num_classes = data.get("num_classes")
    layers_data = data.get("layers")
    if not isinstance(layers_data, list) or not layers_data:
        raise SpecError("architecture", "layers", "must be a non-empty list of layers")
    layers = _parse_list(layers_data, "layers")
    dense = [i for i, layer in enumerate(layers) if isinstance(layer, Dense)]
    if num_classes is None and dense and layers[dense[-1]].units:
        num_classes = layers[dense[-1]].units
    num_classes = positive_int(num_classes, "architecture", "num_classes")
    if dense and layers[dense[-1]].units is None:
        layers = layers[: dense[-1]] + (dataclasses.replace(layers[dense[-1]], units=num_classes),) + layers[dense[-1] + 1:]
    for i, layer in enumerate(layers):
        if isinstance(layer, Dense) and layer.units is None:
            raise SpecError(f"layers[{i}]", "units", "only the last Dense layer may omit units")
    taken = {layer.name for layer in walk(layers) if layer.name}
    if len(taken) != sum(1 for layer in walk(layers) if layer.name):
        raise SpecError("architecture", "layers", "layer names must be unique")
    limits.check_layer_count(len(walk(layers)))
    layers = _assign_names(layers, {}, taken)
    return Architecture(
        name=name,
        input_shape=tuple(shape),
        num_classes=num_classes,
        layers=layers,
        description=data.get("description", ""),
        source=data.get("source", ""),
        explain_layer=data.get("explain_layer"),
        **extra,
    )


def layer_to_dict(layer: Layer) -> dict[str, Any]:
    out: dict[str, Any] = {"type": layer.type}
    for f in fields(layer):
        value = getattr(layer, f.name)
        if f.name in getattr(layer, "nested", ()):
            value = _layers_to_json(value)
        elif value == f.default:
            continue
        elif isinstance(value, tuple):
            value = json.loads(json.dumps(value))  # tuples -> lists, nested too
            if f.name in ("kernel_size", "pool_size", "strides") and value[0] == value[1]:
                value = value[0]
        out[f.name] = value
    return out


def _layers_to_json(value):
    """A block's nested layers (a list of layers, or a list of such lists) as JSON."""
    return layer_to_dict(value) if isinstance(value, Layer) else [_layers_to_json(v) for v in value]


def load_architecture_file(path: str | Path) -> Architecture:
    """Read a JSON or YAML architecture file (bounded: workbench.model.limits)."""
    path = Path(path)
    limits.check_file_size(path.stat().st_size, str(path))
    return loads_architecture(path.read_bytes(), suffix=path.suffix)


def loads_data(text: str | bytes, suffix: str = ".json") -> Any:
    """An architecture file's text -> plain data, refused (SpecError) before it can expand past
    the bounds of workbench.model.limits: the one reader for files, uploads and saved models."""
    limits.check_file_size(len(text))
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = limits.load_yaml(text)
        except yaml.YAMLError as exc:
            raise SpecError("file", None, f"not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError("file", None, f"not valid JSON: {exc}") from None
        except RecursionError:
            raise SpecError("file", None, f"nested more than {limits.MAX_DEPTH} levels deep") from None
    limits.check_data(data)
    return data


def loads_architecture(text: str | bytes, suffix: str = ".json") -> Architecture:
    return parse_architecture(loads_data(text, suffix))


def dumps_architecture(arch: Architecture, fmt: str = "json") -> str:
    data = arch.to_dict()
    if fmt in ("yaml", "yml"):
        import yaml

        return yaml.safe_dump(data, sort_keys=False)
    return json.dumps(data, indent=2)


LayerLike = Union[Layer, dict]

"""docs/architectures.md documents every layer type and key, and its examples are true."""

import dataclasses
import re
from pathlib import Path

import pytest

from workbench import shapes, spec

DOC = (Path(__file__).resolve().parent.parent / "docs" / "architectures.md").read_text()


def section(title):
    m = re.search(rf"^### {title}\n(.*?)(?=^##)", DOC + "\n##", flags=re.M | re.S)
    assert m, f"docs/architectures.md has no '### {title}' section"
    return m.group(1)


@pytest.mark.parametrize("kind", sorted(spec.LAYER_TYPES))
def test_every_layer_type_and_key_is_documented(kind):
    text = section(kind)
    for field in dataclasses.fields(spec.LAYER_TYPES[kind]):
        if field.name != "name":  # documented once for all layers
            assert f"`{field.name}`" in text, f"{kind}'s key {field.name} is not documented"


def test_every_activation_is_listed():
    for name in spec.ACTIVATIONS:
        assert f"`{name}`" in DOC


def test_the_yaml_examples_are_valid_architectures():
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)
    assert len(blocks) >= 3
    for text in blocks:
        shapes.compute(spec.loads_architecture(text, suffix=".yaml"))


@pytest.mark.parametrize("layers", [
    [{"type": "Conv2D", "filters": 8, "kernel_size": 3}, {"type": "Conv2D", "filters": 8, "kernel_size": 3},
     {"type": "Conv2D", "filters": 8, "kernel_size": 3},
     {"type": "Residual", "body": [{"type": "Flatten"}, {"type": "Conv2D", "kernel_size": 3}]}],
    [{"type": "Flatten"}, {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "full"}],
    [{"type": "Conv2D", "filters": 8, "kernel_size": 3, "stride": 2}],
])
def test_the_documented_errors_are_the_real_messages(layers):
    with pytest.raises(spec.SpecError) as info:
        spec.parse_architecture({"name": "t", "input_shape": [28, 28, 1], "num_classes": 10, "layers": layers})
    assert f"\n{info.value}\n" in DOC


def test_the_documented_shape_error_is_the_real_message():
    from workbench.registry import get_registry

    with pytest.raises(shapes.ShapeError) as info:
        shapes.compute(get_registry().architectures()["mnist-cnn"], input_shape=(8, 8, 1))
    assert f"\n{info.value}\n" in DOC

"""Blocks: layers made of parts (lists of layers) that all read the block's input.

A block owns how its parts compose: which parts it has (``parts``), how they are parsed
(``parse_part``), and what their outputs make together (``combine``: shape and formula). An
empty part is the identity: a Residual's empty shortcut, or DenseNet's
``Inception(branches=[[], [...]])``, which concatenates the input to what the branch adds.
The builders walk the parts with workbench.graph.run and merge them with the framework's
Add / Concatenate.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, ClassVar

from workbench.model.checks import SpecError
from workbench.model.layers import Layer
from workbench.model.maths import LayerError

ParseList = Callable[[object, str], tuple]  # (value, where) -> tuple of layers


class Block(Layer):
    nested: ClassVar[tuple[str, ...]] = ()  # its keys that hold layers
    family = "block"

    def parts(self) -> list[tuple[str, tuple[Layer, ...]]]:
        """(where in the file, layers) for each part, in order."""
        raise NotImplementedError

    def with_parts(self, parts: list[tuple[Layer, ...]]) -> "Block":
        """The same block with new parts (given in the order of ``parts``)."""
        raise NotImplementedError

    def combine(self, shapes: list[tuple[int, ...]]) -> tuple[tuple[int, ...], str]:
        """Output shape and formula from the parts' output shapes (raises LayerError)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Residual(Block):
    """Outputs of body and shortcut are added; an empty shortcut is the identity."""

    body: tuple[Layer, ...] = ()
    shortcut: tuple[Layer, ...] = ()

    nested = ("body", "shortcut")

    @classmethod
    def parse_part(cls, key, value, where, parse_list: ParseList):
        return parse_list(value, f"{where}.{key}")

    def validate(self, where):
        if not self.body:
            raise SpecError(where, "body", "a Residual block needs a non-empty body")

    def parts(self):
        return [("body", self.body), ("shortcut", self.shortcut)]

    def with_parts(self, parts):
        return dataclasses.replace(self, body=parts[0], shortcut=parts[1])

    def combine(self, shapes):
        body, shortcut = shapes
        if body != shortcut:
            raise LayerError(f"body gives {list(body)} but the shortcut gives {list(shortcut)}; "
                             "they must match to be added (add a 1x1 Conv2D to the shortcut)")
        return body, "body + shortcut (Add)"

    def macs(self, shape, out):
        return math.prod(out)  # one addition per value


@dataclass(frozen=True)
class Inception(Block):
    """Outputs of the branches are concatenated on the channel axis; an empty branch is the input."""

    branches: tuple[tuple[Layer, ...], ...] = ()

    nested = ("branches",)

    @classmethod
    def parse_part(cls, key, value, where, parse_list: ParseList):
        if not isinstance(value, list) or not value:
            raise SpecError(where, key, "must be a non-empty list of layer lists")
        return tuple(parse_list(b, f"{where}.branches[{i}]") for i, b in enumerate(value))

    def parts(self):
        return [(f"branches[{k}]", branch) for k, branch in enumerate(self.branches)]

    def with_parts(self, parts):
        return dataclasses.replace(self, branches=tuple(parts))

    def combine(self, shapes):
        if len({s[:2] for s in shapes}) != 1 or any(len(s) != 3 for s in shapes):
            raise LayerError(f"branch outputs {[list(s) for s in shapes]} differ in height/width; use padding 'same'")
        channels = sum(s[2] for s in shapes)
        return (*shapes[0][:2], channels), " + ".join(str(s[2]) for s in shapes) + f" = {channels} channels (Concatenate)"


BLOCK_TYPES = (Residual, Inception)
__all__ = ["Block", "BLOCK_TYPES", *(cls.__name__ for cls in BLOCK_TYPES)]  # what workbench.spec re-exports

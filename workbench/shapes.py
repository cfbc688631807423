"""The output-shape and parameter calculator: the table of the course notes, row by row.

Each layer type computes its own row (workbench.model.layers); the calculator walks the
spec, asks every layer, and numbers the rows. For every layer: its output shape with the formula filled in
(W_out = floor((W - F + 2P) / S) + 1, or Keras' "same": ceil(W / S)), its parameters split
trainable / non-trainable the Keras way, its receptive field (size, jump, start), its
multiply-accumulates and its activation memory.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

from workbench import spec as S
from workbench.model.maths import (  # noqa: F401 - the formulas, re-exported for the pages and backends
    INPUT_FIELD, LayerError, ReceptiveField, conv_output_size, same_padding, wider,
)

BYTES_PER_FLOAT = 4


class ShapeError(ValueError):
    """A layer that cannot be applied to its input: names the row, the layer and why.

    ``row`` counts the calculator's table rows (a block's inner layers included) from 1;
    ``where`` is the layer's place in the architecture file, as SpecError writes it
    (``layers[2]``, ``layers[4].body[1]``), filled in on the way out of the calculator."""

    def __init__(self, row: int, name: str, layer_type: str, reason: str, where: str | None = None):
        self.row, self.name, self.layer_type, self.reason, self.where = row, name, layer_type, reason, where
        super().__init__(reason)

    def __str__(self) -> str:
        return f"{self.where or f'row {self.row}'} ({self.name}, {self.layer_type}): {self.reason}"



@dataclass(frozen=True)
class LayerRow:
    row: int
    name: str
    type: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    formula: str
    params: int
    trainable: int
    non_trainable: int
    receptive_field: ReceptiveField | None
    macs: int
    memory_bytes: int
    depth: int = 0  # 0 at the top level, 1 inside a block, ...

    def as_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["output_shape"] = list(self.output_shape)
        return d


@dataclass(frozen=True)
class ShapeTable:
    architecture: str
    input_shape: tuple[int, int, int]
    rows: tuple[LayerRow, ...]

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def trainable_params(self) -> int:
        return sum(r.trainable for r in self.rows)

    @property
    def non_trainable_params(self) -> int:
        return sum(r.non_trainable for r in self.rows)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.rows[-1].output_shape

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    def row(self, name: str) -> LayerRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def as_json(self) -> dict:
        """The `workbench shapes --json` form (output shapes exclude the batch axis)."""
        return {
            "architecture": self.architecture,
            "input_shape": list(self.input_shape),
            "layers": [
                {
                    "name": r.name,
                    "type": r.type,
                    "output_shape": list(r.output_shape),
                    "params": r.params,
                    "trainable": r.trainable,
                    "non_trainable": r.non_trainable,
                    "formula": r.formula,
                    "receptive_field": None if r.receptive_field is None else {
                        "size": list(r.receptive_field.size),
                        "jump": list(r.receptive_field.jump),
                        "start": list(r.receptive_field.start),
                    },
                    "macs": r.macs,
                    "memory_bytes": r.memory_bytes,
                }
                for r in self.rows
            ],
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "total_macs": self.total_macs,
        }


# -- the calculator: asks each layer ----------------------------------------------------
class _Calculator:
    def __init__(self):
        self.rows: list[LayerRow] = []

    def emit(self, layer, in_shape, out_shape, formula, trainable, non_trainable, rf, macs, depth):
        self.rows.append(
            LayerRow(
                row=len(self.rows) + 1, name=layer.name, type=layer.type,
                input_shape=tuple(in_shape), output_shape=tuple(out_shape), formula=formula,
                params=trainable + non_trainable, trainable=trainable, non_trainable=non_trainable,
                receptive_field=rf, macs=int(macs),
                memory_bytes=int(math.prod(out_shape)) * BYTES_PER_FLOAT, depth=depth,
            )
        )

    def sequence(self, layers, shape, rf, depth, where="layers"):
        for i, layer in enumerate(layers):
            try:
                shape, rf = self.layer(layer, shape, rf, depth, f"{where}[{i}]")
            except ShapeError as exc:
                exc.where = exc.where or f"{where}[{i}]"  # the innermost place wins
                raise
        return shape, rf

    def layer(self, layer, shape, rf, depth, where):
        try:
            if isinstance(layer, S.Block):  # its parts' rows come before the block's own
                outs = [self.sequence(part, shape, rf, depth + 1, f"{where}.{place}") for place, part in layer.parts()]
                out, formula = layer.combine([part_out for part_out, _ in outs])
                rf = functools.reduce(wider, [part_rf for _, part_rf in outs])
            else:
                layer.check_input(shape)
                out, formula = layer.output_shape(shape)
                rf = layer.receptive_field(rf, shape)
        except LayerError as exc:
            raise ShapeError(len(self.rows) + 1, layer.name, layer.type, str(exc)) from None
        trainable, non_trainable = layer.params(shape)
        self.emit(layer, shape, out, formula, trainable=trainable, non_trainable=non_trainable,
                  rf=rf, macs=layer.macs(shape, out), depth=depth)
        return out, rf


def compute(arch: S.Architecture, input_shape=None) -> ShapeTable:
    """The calculator's table for an architecture (optionally at another input size)."""
    if not arch.is_spec:
        raise ValueError(f"{arch.name} is a native model with no spec; ask a backend for its summary")
    shape = tuple(input_shape or arch.input_shape)
    calc = _Calculator()
    calc.sequence(arch.layers, shape, INPUT_FIELD, 0)
    return ShapeTable(arch.name, shape, tuple(calc.rows))

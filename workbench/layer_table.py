"""An architecture as an editable table (one row per top-level layer) and back.

The shape calculator lets a student edit layers in a grid. Common keys get their own column
(sizes written "3" or "3x5"); anything else (a block's body or branches, use_bias, ...) sits
as JSON in the "more" column, so every architecture round-trips through the table.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pandas as pd

from workbench import spec as S
from workbench.model import limits

COLUMNS = ["type", "name", "filters", "kernel_size", "strides", "padding", "activation", "pool_size", "units", "rate", "more"]
PAIRS = ("kernel_size", "strides", "pool_size")
NUMBERS = {"filters": int, "units": int, "rate": float}


def to_frame(arch: S.Architecture) -> pd.DataFrame:
    """One row per top-level layer, in the columns above."""
    rows = []
    for layer in arch.layers:
        data = S.layer_to_dict(layer)
        for f in dataclasses.fields(layer):  # show the defaults a file leaves out (a pool's 2x2, 'valid')
            value = getattr(layer, f.name)
            if f.name in COLUMNS and f.name not in data and value is not None:
                data[f.name] = json.loads(json.dumps(value))
        row = {c: None for c in COLUMNS}
        more = {}
        for key, value in data.items():
            if key in PAIRS:
                row[key] = _pair_text(value)
            elif key == "padding" and not isinstance(value, str):
                row[key] = json.dumps(value)
            elif key in COLUMNS:
                row[key] = value
            else:
                more[key] = value
        row["more"] = json.dumps(more) if more else None
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for key in NUMBERS:
        frame[key] = pd.to_numeric(frame[key])
    return frame


def _pair_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}"
    return str(value)


def _empty(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip())


def row_to_layer(row: dict, index: int) -> dict:
    """A table row back to the layer's dict form; a bad cell raises SpecError naming the row."""
    where = f"layers[{index}]"
    layer = {}
    for key in COLUMNS:
        value = row.get(key)
        if _empty(value):
            continue
        if key in PAIRS:
            numbers = re.findall(r"-?\d+", str(value))
            if len(numbers) not in (1, 2) or re.search(r"[^\d\sx,()\[\]-]", str(value)):
                raise S.SpecError(where, key, f"write a size as 3 or 3x3, got {value!r}")
            layer[key] = int(numbers[0]) if len(numbers) == 1 else [int(n) for n in numbers]
        elif key in NUMBERS:
            number = float(value)
            if NUMBERS[key] is int and number != int(number):
                raise S.SpecError(where, key, f"must be a whole number, got {value!r}")
            layer[key] = NUMBERS[key](number)
        elif key == "padding" and row.get("type") == "ZeroPadding2D":
            try:
                layer[key] = json.loads(str(value))
            except json.JSONDecodeError:
                raise S.SpecError(where, key, f"write ZeroPadding2D padding as 1, [1, 2] or [[1, 1], [2, 2]], got {value!r}") from None
        elif key == "more":
            try:
                more = json.loads(str(value))
                limits.check_data(more)  # a cell is as bounded as a file (workbench.model.limits)
            except json.JSONDecodeError as exc:
                raise S.SpecError(where, "more", f"is not valid JSON ({exc.msg})") from None
            except RecursionError:
                raise S.SpecError(where, "more", f"nested more than {limits.MAX_DEPTH} levels deep") from None
            except limits.LimitError as exc:
                raise S.SpecError(where, "more", exc.reason) from None
            if not isinstance(more, dict):
                raise S.SpecError(where, "more", "must be a JSON object like {\"use_bias\": false}")
            layer.update(more)
        else:
            layer[key] = str(value).strip()
    if "type" not in layer:
        raise S.SpecError(where, "type", "choose a layer type")
    return layer


def from_frame(frame: pd.DataFrame, name: str, input_shape, num_classes: int) -> S.Architecture:
    """Parse the edited table into an Architecture (errors name the row, counted from 1)."""
    rows = [r for r in frame.to_dict("records") if not all(_empty(v) for v in r.values())]
    layers = [row_to_layer(r, i) for i, r in enumerate(rows)]
    return S.parse_architecture(
        {"name": name, "input_shape": [int(v) for v in input_shape], "num_classes": int(num_classes), "layers": layers}
    )


def table_row(where: str) -> int | None:
    """'layers[3].body[0]' -> 4: the table row (from 1) a SpecError points at."""
    match = re.match(r"layers\[(\d+)\]", where or "")
    return int(match.group(1)) + 1 if match else None

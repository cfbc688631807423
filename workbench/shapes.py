"""The output-shape and parameter calculator: the formulas of the course notes, in numpy.

For every layer: its output shape with the formula filled in
(W_out = floor((W - F + 2P) / S) + 1, or Keras' "same": ceil(W / S)), its parameters split
trainable / non-trainable the Keras way, its receptive field (size, jump, start), its
multiply-accumulates and its activation memory.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from workbench import spec as S

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
class ReceptiveField:
    size: tuple[int, int]  # how many input pixels one output pixel sees (rows, cols)
    jump: tuple[int, int]  # input pixels between two neighbouring output pixels
    start: tuple[float, float]  # centre of the first output pixel's field, in input pixels

    def window(self, i: int, j: int, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """The input window (top, left, bottom, right; clipped to the image) seen by output (i, j)."""
        cy, cx = self.start[0] + i * self.jump[0], self.start[1] + j * self.jump[1]
        top, left = math.floor(cy - (self.size[0] - 1) / 2), math.floor(cx - (self.size[1] - 1) / 2)
        bottom, right = top + self.size[0], left + self.size[1]
        return max(top, 0), max(left, 0), min(bottom, image_hw[0]), min(right, image_hw[1])


INPUT_FIELD = ReceptiveField((1, 1), (1, 1), (0.0, 0.0))


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


# -- the formulas ------------------------------------------------------------------------
def conv_output_size(w: int, f: int, s: int, padding: str) -> tuple[int, int, str]:
    """Output size, the total padding applied, and the formula written out.

    "valid": W_out = floor((W - F) / S) + 1.  "same" (Keras): W_out = ceil(W / S), with
    P_total = max((W_out - 1) * S + F - W, 0) split top/left = P_total // 2, the rest after.
    """
    if padding == "same":
        out = math.ceil(w / s)
        total = max((out - 1) * s + f - w, 0)
        return out, total, f"ceil({w} / {s}) = {out}  (same: pad {total // 2}+{total - total // 2})"
    out = (w - f) // s + 1
    return out, 0, f"floor(({w} - {f} + 2*0) / {s}) + 1 = {out}"


def same_padding(w: int, f: int, s: int) -> tuple[int, int]:
    """Keras/TF "same" padding before and after along one axis."""
    _, total, _ = conv_output_size(w, f, s, "same")
    return total // 2, total - total // 2


def _spatial(layer, shape, row, kernel, strides, padding):
    h, w, _ = shape
    (kh, kw), (sh, sw) = kernel, strides
    if padding == "valid" and (kh > h or kw > w):
        raise ShapeError(
            row, layer.name, layer.type,
            f"its {kh}x{kw} window is larger than its {h}x{w} input; use padding 'same' or a smaller window",
        )
    oh, ph, fh = conv_output_size(h, kh, sh, padding)
    ow, pw, fw = conv_output_size(w, kw, sw, padding)
    if oh < 1 or ow < 1:
        raise ShapeError(row, layer.name, layer.type, f"the output would be {oh}x{ow}, below 1x1")
    formula = f"H: {fh}; W: {fw}" if (h, kh, sh) != (w, kw, sw) else f"W_out = {fw}"
    return oh, ow, (ph // 2, pw // 2), formula


def _field(rf: ReceptiveField, kernel, strides, pad_before) -> ReceptiveField:
    """Receptive-field recurrence: r' = r + (k-1) j;  j' = j s;  start' = start + ((k-1)/2 - p) j."""
    return ReceptiveField(
        size=tuple(r + (k - 1) * j for r, k, j in zip(rf.size, kernel, rf.jump)),
        jump=tuple(j * s for j, s in zip(rf.jump, strides)),
        start=tuple(st + ((k - 1) / 2 - p) * j for st, k, p, j in zip(rf.start, kernel, pad_before, rf.jump)),
    )


class _Calculator:
    def __init__(self):
        self.rows: list[LayerRow] = []

    def emit(self, layer, in_shape, out_shape, formula, trainable=0, non_trainable=0, rf=None, macs=0, depth=0):
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

    def layer(self, layer, shape, rf, depth, where):  # noqa: C901 - one branch per layer type reads best
        row = len(self.rows) + 1
        if isinstance(layer, S.Residual):
            body_shape, body_rf = self.sequence(layer.body, shape, rf, depth + 1, f"{where}.body")
            short_shape, short_rf = self.sequence(layer.shortcut, shape, rf, depth + 1, f"{where}.shortcut")
            if body_shape != short_shape:
                raise ShapeError(
                    len(self.rows) + 1, layer.name, "Residual",
                    f"body gives {list(body_shape)} but the shortcut gives {list(short_shape)}; "
                    "they must match to be added (add a 1x1 Conv2D to the shortcut)",
                )
            field = _wider(body_rf, short_rf)
            self.emit(layer, shape, body_shape, "body + shortcut (Add)", rf=field,
                      macs=math.prod(body_shape), depth=depth)
            return body_shape, field
        if isinstance(layer, S.Inception):
            outs = [self.sequence(b, shape, rf, depth + 1, f"{where}.branches[{k}]") for k, b in enumerate(layer.branches)]
            hw = {o[0][:2] for o in outs}
            if len(hw) != 1 or any(len(o[0]) != 3 for o in outs):
                raise ShapeError(
                    len(self.rows) + 1, layer.name, "Inception",
                    f"branch outputs {[list(o[0]) for o in outs]} differ in height/width; use padding 'same'",
                )
            channels = sum(o[0][2] for o in outs)
            out = (*outs[0][0][:2], channels)
            field = outs[0][1]
            for o in outs[1:]:
                field = _wider(field, o[1])
            self.emit(layer, shape, out, " + ".join(str(o[0][2]) for o in outs) + f" = {channels} channels (Concatenate)",
                      rf=field, depth=depth)
            return out, field

        needs_image = isinstance(layer, (*S.CONV_TYPES, S.MaxPooling2D, S.AveragePooling2D,
                                         S.GlobalAveragePooling2D, S.ZeroPadding2D, S.Flatten))
        if needs_image and len(shape) != 3:
            raise ShapeError(row, layer.name, layer.type, f"needs an image (H, W, C) input, got {list(shape)}")
        if isinstance(layer, S.Dense) and len(shape) != 1:
            raise ShapeError(row, layer.name, layer.type,
                             f"needs a flat input, got {list(shape)}; add Flatten or GlobalAveragePooling2D before it")

        if isinstance(layer, S.CONV_TYPES):
            cin = shape[2]
            oh, ow, pad, formula = _spatial(layer, shape, row, layer.kernel_size, layer.strides, layer.padding)
            kh, kw = layer.kernel_size
            if isinstance(layer, S.Conv2D):
                cout = layer.filters
                weights = kh * kw * cin * cout
                macs = oh * ow * cout * kh * kw * cin
            elif isinstance(layer, S.DepthwiseConv2D):
                cout = cin * layer.depth_multiplier
                weights = kh * kw * cout
                macs = oh * ow * cout * kh * kw
            else:  # SeparableConv2D: depthwise then a pointwise 1x1
                mid = cin * layer.depth_multiplier
                cout = layer.filters
                weights = kh * kw * mid + mid * cout
                macs = oh * ow * (mid * kh * kw + mid * cout)
            bias = cout if layer.use_bias else 0
            out = (oh, ow, cout)
            self.emit(layer, shape, out, formula, trainable=weights + bias,
                      rf=_field(rf, layer.kernel_size, layer.strides, pad), macs=macs, depth=depth)
            return out, self.rows[-1].receptive_field
        if isinstance(layer, (S.MaxPooling2D, S.AveragePooling2D)):
            strides = layer.strides or layer.pool_size
            oh, ow, pad, formula = _spatial(layer, shape, row, layer.pool_size, strides, layer.padding)
            out = (oh, ow, shape[2])
            field = _field(rf, layer.pool_size, strides, pad)
            self.emit(layer, shape, out, formula, rf=field,
                      macs=oh * ow * shape[2] * math.prod(layer.pool_size), depth=depth)
            return out, field
        if isinstance(layer, S.ZeroPadding2D):
            (t, b), (l, r) = layer.padding
            out = (shape[0] + t + b, shape[1] + l + r, shape[2])
            field = ReceptiveField(rf.size, rf.jump, (rf.start[0] - t * rf.jump[0], rf.start[1] - l * rf.jump[1]))
            self.emit(layer, shape, out, f"{shape[0]} + {t} + {b} = {out[0]}", rf=field, depth=depth)
            return out, field
        if isinstance(layer, S.GlobalAveragePooling2D):
            out = (shape[2],)
            field = ReceptiveField(
                tuple(s + (n - 1) * j for s, n, j in zip(rf.size, shape[:2], rf.jump)), rf.jump,
                tuple(st + (n - 1) / 2 * j for st, n, j in zip(rf.start, shape[:2], rf.jump)),
            )
            self.emit(layer, shape, out, f"mean over {shape[0]}x{shape[1]}", rf=field,
                      macs=math.prod(shape), depth=depth)
            return out, field
        if isinstance(layer, S.Flatten):
            out = (math.prod(shape),)
            self.emit(layer, shape, out, " x ".join(map(str, shape)) + f" = {out[0]}", depth=depth)
            return out, None
        if isinstance(layer, S.Dense):
            n = shape[0]
            weights = n * layer.units + (layer.units if layer.use_bias else 0)
            out = (layer.units,)
            formula = f"{n} x {layer.units} + {layer.units if layer.use_bias else 0} = {weights}"
            self.emit(layer, shape, out, formula, trainable=weights, macs=n * layer.units, depth=depth)
            return out, None
        if isinstance(layer, S.BatchNormalization):
            c = shape[-1]
            # gamma and beta are learned; the moving mean and variance are not (Keras convention).
            self.emit(layer, shape, shape, f"4 x {c} ({2 * c} trainable)", trainable=2 * c,
                      non_trainable=2 * c, rf=rf, macs=math.prod(shape), depth=depth)
            return shape, rf
        if isinstance(layer, (S.Dropout, S.Activation)):
            self.emit(layer, shape, shape, "same shape", rf=rf, depth=depth)
            return shape, rf
        raise ShapeError(row, layer.name, layer.type, "the calculator does not know this layer")


def _wider(a: ReceptiveField | None, b: ReceptiveField | None) -> ReceptiveField | None:
    if a is None or b is None:
        return a or b
    return a if a.size >= b.size else b


def compute(arch: S.Architecture, input_shape=None) -> ShapeTable:
    """The calculator's table for an architecture (optionally at another input size)."""
    if not arch.is_spec:
        raise ValueError(f"{arch.name} is a native model with no spec; ask a backend for its summary")
    shape = tuple(input_shape or arch.input_shape)
    calc = _Calculator()
    calc.sequence(arch.layers, shape, INPUT_FIELD, 0)
    return ShapeTable(arch.name, shape, tuple(calc.rows))

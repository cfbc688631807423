"""The formulas of the course notes: output size of a sliding window, Keras' "same" padding,
and the receptive-field recurrence. Plain Python, for the layers and the calculator to share."""

from __future__ import annotations

import math
from dataclasses import dataclass


class LayerError(ValueError):
    """A layer that cannot take its input; the calculator adds which row and layer it was."""


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

    def slide(self, kernel, strides, pad_before) -> "ReceptiveField":
        """One sliding window on top: r' = r + (k-1) j;  j' = j s;  start' = start + ((k-1)/2 - p) j."""
        return ReceptiveField(
            size=tuple(r + (k - 1) * j for r, k, j in zip(self.size, kernel, self.jump)),
            jump=tuple(j * s for j, s in zip(self.jump, strides)),
            start=tuple(st + ((k - 1) / 2 - p) * j for st, k, p, j in zip(self.start, kernel, pad_before, self.jump)),
        )


INPUT_FIELD = ReceptiveField((1, 1), (1, 1), (0.0, 0.0))


def wider(a: ReceptiveField | None, b: ReceptiveField | None) -> ReceptiveField | None:
    """The larger of two fields (a block's output sees what its widest part sees)."""
    if a is None or b is None:
        return a or b
    return a if a.size >= b.size else b


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


def sliding_window(shape, kernel, strides, padding) -> tuple[int, int, tuple[int, int], str]:
    """(out rows, out cols, padding before (top, left), formula) of a window sliding over (H, W, C)."""
    h, w, _ = shape
    (kh, kw), (sh, sw) = kernel, strides
    if padding == "valid" and (kh > h or kw > w):
        raise LayerError(f"its {kh}x{kw} window is larger than its {h}x{w} input; use padding 'same' or a smaller window")
    oh, ph, fh = conv_output_size(h, kh, sh, padding)
    ow, pw, fw = conv_output_size(w, kw, sw, padding)
    if oh < 1 or ow < 1:
        raise LayerError(f"the output would be {oh}x{ow}, below 1x1")
    formula = f"H: {fh}; W: {fw}" if (h, kh, sh) != (w, kw, sw) else f"W_out = {fw}"
    return oh, ow, (ph // 2, pw // 2), formula

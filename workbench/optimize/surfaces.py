"""The loss surfaces of the lesson, each written once in the formula language, with its
minimum, a start that shows the optimizers' characters, and a view box for the contour plot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.optimize.formula import Formula, FormulaError, parse


@dataclass(frozen=True)
class Surface:
    name: str
    formula: Formula
    minimum: tuple[float, float] | None  # the global minimum the star marks (None: unbounded)
    start: tuple[float, float]
    box: tuple[float, float, float, float]  # x0, x1, y0, y1
    description: str = ""
    learning_rate: float = 1e-3  # one that lets SGD move without blowing up from `start`

    def value(self, x, y) -> np.ndarray:
        return self.formula.numpy(x, y)

    def grid(self, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x0, x1, y0, y1 = self.box
        xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
        return xs, ys, self.value(*np.meshgrid(xs, ys))

    def scale(self) -> float:
        """The size of the view box: distances (separation, convergence) are measured against it."""
        x0, x1, y0, y1 = self.box
        return float(max(x1 - x0, y1 - y0))


SURFACES = {s.name: s for s in (
    Surface("rosenbrock", parse("(1 - x)^2 + 100 (y - x^2)^2"), (1.0, 1.0), (-1.5, 1.5), (-2.0, 2.0, -1.0, 3.0),
            "A long curved valley: finding it is easy, following it to (1, 1) is not.", 1e-3),
    Surface("beale", parse("(1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2"), (3.0, 0.5),
            (1.0, 1.5), (-4.5, 4.5, -4.5, 4.5), "Flat plateaus and steep walls; the minimum is at (3, 0.5).", 1e-3),
    Surface("himmelblau", parse("(x^2 + y - 11)^2 + (x + y^2 - 7)^2"), (3.0, 2.0), (-0.5, -0.5),
            (-5.0, 5.0, -5.0, 5.0), "Four equal minima: where an optimizer ends depends on its path.", 1e-2),
    Surface("saddle", parse("x^2 - y^2"), None, (-1.5, 1e-3), (-2.0, 2.0, -2.0, 2.0),
            "A saddle point at (0, 0): methods that escape it fast leave along y.", 1e-2),
    Surface("ellipse", parse("x^2 + 10 y^2"), (0.0, 0.0), (-1.8, 0.9), (-2.0, 2.0, -1.2, 1.2),
            "Ill-conditioned: ten times steeper along y than along x.", 5e-2),
)}


def surface(name_or_formula: str) -> Surface:
    """A named surface, or the user's formula with a view box around the origin."""
    key = str(name_or_formula).strip()
    if key.lower() in SURFACES:
        return SURFACES[key.lower()]
    try:
        formula = parse(key)
    except FormulaError as exc:
        raise FormulaError(f"{key[:60]!r} is neither a surface ({', '.join(SURFACES)}) nor a formula: {exc}") from None
    return Surface("formula", formula, None, (1.5, 1.5), (-3.0, 3.0, -3.0, 3.0), f"f(x, y) = {formula.text}", 1e-2)


def contour_levels(z: np.ndarray, n: int = 24) -> np.ndarray:
    """Log-spaced levels between the grid's smallest and largest values: a valley that is a
    million times lower than the walls still shows its shape (shifted when values go negative)."""
    z = z[np.isfinite(z)]
    lo, hi = float(z.min()), float(z.max())
    shift = 0.0 if lo > 0 else -lo + max(1e-3 * (hi - lo), 1e-9)
    return np.geomspace(lo + shift, hi + shift, n) - shift

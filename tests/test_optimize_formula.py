"""The formula grammar: hostile input is refused with a message, never evaluated; the five
surfaces typed as formulas give the same values as numpy written by hand."""

import json
import re

import numpy as np
import pytest

from workbench.cli import main
from workbench.optimize.formula import FormulaError, parse
from workbench.optimize.surfaces import SURFACES, contour_levels, surface

HOSTILE = {
    "__import__('os')": "unknown name '__import__'",
    "x.__class__": "unexpected character '.'",
    "().__class__.__bases__": "unexpected",
    "lambda: 1": "unknown name 'lambda'",
    "(lambda x: x)(1)": "unknown name 'lambda'",
    "9^9^9^9": "power of a power",
    "x^(9^9)": "plain number",
    "x^99999": "too large",
    "x**1e9": "too large",
    "1e999 * x": "too large",
    "x" + " + x" * 200: "too long",
    "(" * 40 + "x" + ")" * 40: "nested too deeply",
    "-" * 40 + "x": "nested too deeply",
    "open('/etc/passwd')": "unknown name 'open'",
    "x; import os": "unexpected character ';'",
    "x[0]": "unexpected character '['",
    "exp x": "expected '('",
    "x +": "ends too early",
    "": "empty",
    "sin(x) y)": "unexpected ')'",
    "'x'": "unexpected character",
    "x @ y": "unexpected character '@'",
}


@pytest.mark.parametrize("text", list(HOSTILE))
def test_hostile_input_is_refused_with_a_message(text):
    with pytest.raises(FormulaError, match=re.escape(HOSTILE[text])):
        parse(text)


def test_the_five_surfaces_typed_as_formulas():
    by_hand = {
        "rosenbrock": ("(1 - x)^2 + 100 (y - x^2)^2", lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2),
        "beale": ("(1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2",
                  lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2),
        "himmelblau": ("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", lambda x, y: (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2),
        "saddle": ("x^2 - y^2", lambda x, y: x ** 2 - y ** 2),
        "ellipse": ("x^2 + 10 y^2", lambda x, y: x ** 2 + 10 * y ** 2),
    }
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-3, 3, 500), rng.uniform(-3, 3, 500)
    for name, (text, f) in by_hand.items():
        typed = surface(text)
        np.testing.assert_allclose(typed.value(x, y), f(x, y), rtol=1e-12)
        np.testing.assert_allclose(SURFACES[name].value(x, y), f(x, y), rtol=1e-12)
        assert surface(name.upper()) is SURFACES[name]
    assert SURFACES["rosenbrock"].value(1.0, 1.0) == 0 and SURFACES["beale"].value(3.0, 0.5) == 0


def test_grammar_details():
    f = parse("-x^2 + 2x y - exp(-(x^2)) / sqrt(abs(y) + 1) + tanh(log(2)) - sin(x) cos(y) + .5 + x**2")
    x, y = 0.7, -1.3
    expected = (-x ** 2 + 2 * x * y - np.exp(-(x ** 2)) / np.sqrt(abs(y) + 1) + np.tanh(np.log(2))
                - np.sin(x) * np.cos(y) + 0.5 + x ** 2)
    assert f.numpy(x, y) == pytest.approx(expected)
    assert parse("x^-2").numpy(2.0, 0) == pytest.approx(0.25) and parse("3").numpy(np.ones(3), 0).shape == (3,)


def test_contour_levels_are_log_spaced():
    _, _, z = SURFACES["rosenbrock"].grid(60)
    levels = contour_levels(z, 10)
    assert levels[0] == pytest.approx(z.min()) and levels[-1] == pytest.approx(z.max())
    ratios = np.diff(np.log(levels))
    np.testing.assert_allclose(ratios, ratios[0])
    _, _, z = SURFACES["saddle"].grid(40)  # negative values: shifted, still increasing
    assert np.all(np.diff(contour_levels(z)) > 0)


def test_cli_refuses_a_hostile_formula(capsys):
    assert main(["optimize", "--surface", "__import__('os').system('true')", "--json"]) == 2
    assert "unknown name '__import__'" in json.loads(capsys.readouterr().out)["error"]

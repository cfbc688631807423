"""f(x, y) typed by a user, parsed by a whitelisted grammar (never ``eval``).

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/" | juxtaposition) unary)*      2x, x y, 100 (y - x^2)^2
    unary   := ("-" | "+") unary | power
    power   := primary (("^" | "**") signed number)?            exponents are plain numbers
    primary := number | x | y | FUNCTION "(" expr ")" | "(" expr ")"

A parsed formula is a tree of tuples, evaluated with Python's arithmetic operators (which numpy
arrays and both frameworks' tensors understand) and the named functions of an ``ops`` mapping
each backend provides, so the same tree runs in numpy, TensorFlow and PyTorch, and gradients
come from the framework's autograd. Limits keep a hostile input from costing anything: a
length, a nesting depth and an exponent bound (``9^9^9^9`` is refused, not computed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

FUNCTIONS = ("exp", "log", "sin", "cos", "tanh", "sqrt", "abs")
NUMPY_OPS = {name: getattr(np, name) for name in FUNCTIONS}
MAX_LENGTH = 300
MAX_DEPTH = 30
MAX_EXPONENT = 64
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z_0-9]*)|(\*\*|[-+*/^()]))")


class FormulaError(ValueError):
    """A formula the grammar does not accept; the message says what and where."""


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            ch = text[pos:].lstrip()[0]
            raise FormulaError(f"unexpected character {ch!r} at position {pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1}; "
                               f"a formula uses numbers, x, y, + - * / ^, parentheses and {', '.join(FUNCTIONS)}")
        number, name, op = m.groups()
        start = m.start(m.lastindex)
        if number is not None:
            out.append(("num", number, start))
        elif name is not None:
            if name not in ("x", "y") and name not in FUNCTIONS:
                raise FormulaError(f"unknown name {name!r} at position {start + 1}; only x, y and "
                                   f"{', '.join(FUNCTIONS)} are allowed")
            out.append(("name", name, start))
        else:
            out.append(("op", "^" if op == "**" else op, start))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None, -1)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None:
            raise FormulaError("the formula ends too early" + (f": expected {value!r}" if value else ""))
        if value is not None and tok[1] != value:
            raise FormulaError(f"expected {value!r} at position {tok[2] + 1}, found {tok[1]!r}")
        self.i += 1
        return tok

    def nested(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(f"the formula is nested too deeply (more than {MAX_DEPTH} levels)")

    def expr(self):
        self.nested()
        node = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = ("add" if op == "+" else "sub", node, self.term())
        self.depth -= 1
        return node

    def term(self):
        node = self.unary()
        while True:
            kind, value, _ = self.peek()
            if value in ("*", "/"):
                self.take()
                node = ("mul" if value == "*" else "div", node, self.unary())
            elif kind in ("num", "name") or value == "(":  # juxtaposition: 2x, x y, 3 (x + 1)
                node = ("mul", node, self.unary())
            else:
                return node

    def unary(self):
        if self.peek()[1] in ("-", "+"):
            op = self.take()[1]
            self.nested()
            inner = self.unary()
            self.depth -= 1
            return ("neg", inner) if op == "-" else inner
        return self.power()

    def power(self):
        base = self.primary()
        if self.peek()[1] != "^":
            return base
        at = self.take()[2]
        sign = -1.0 if self.peek()[1] == "-" else 1.0
        if self.peek()[1] in ("-", "+"):
            self.take()
        kind, value, _ = self.peek()
        if kind != "num":
            raise FormulaError(f"the exponent after '^' at position {at + 1} must be a plain number "
                               f"(at most {MAX_EXPONENT}); write exp(...) for other powers")
        self.take()
        e = sign * float(value)
        if abs(e) > MAX_EXPONENT:
            raise FormulaError(f"the exponent {e:g} at position {at + 1} is too large (at most {MAX_EXPONENT})")
        if self.peek()[1] == "^":
            raise FormulaError(f"a power of a power at position {self.peek()[2] + 1}: use parentheses, "
                               f"and exponents of at most {MAX_EXPONENT}")
        return ("pow", base, e)

    def primary(self):
        kind, value, pos = self.take()
        if kind == "num":
            v = float(value)
            if not math.isfinite(v) or abs(v) > 1e12:
                raise FormulaError(f"the number {value} at position {pos + 1} is too large")
            return ("num", v)
        if kind == "name" and value in ("x", "y"):
            return ("var", value)
        if kind == "name":
            self.take("(")
            inner = self.expr()
            self.take(")")
            return ("call", value, inner)
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        raise FormulaError(f"unexpected {value!r} at position {pos + 1}")


def _evaluate(node, x, y, ops):
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "var":
        return x if node[1] == "x" else y
    if kind == "neg":
        return -_evaluate(node[1], x, y, ops)
    if kind == "pow":
        base, e = _evaluate(node[1], x, y, ops), node[2]
        return base ** int(e) if e == int(e) else base ** e
    if kind == "call":
        return ops[node[1]](_evaluate(node[2], x, y, ops))
    a, b = _evaluate(node[1], x, y, ops), _evaluate(node[2], x, y, ops)
    return {"add": a + b, "sub": a - b, "mul": a * b}[kind] if kind != "div" else a / b


def _uses(node, what: str) -> bool:
    return node == ("var", what) or any(isinstance(c, tuple) and _uses(c, what) for c in node[1:])


@dataclass(frozen=True)
class Formula:
    """A parsed f(x, y): ``evaluate(x, y, ops)`` in any array library, ``numpy(x, y)`` in numpy."""

    text: str
    tree: tuple = field(repr=False, compare=False)

    def evaluate(self, x, y, ops):
        """f at (x, y): Python operators on whatever x and y are, the named functions from ops.
        A formula without x or y is still a tensor of x's kind (0 * x keeps the autograd link)."""
        value = _evaluate(self.tree, x, y, ops)
        if not (_uses(self.tree, "x") and _uses(self.tree, "y")):
            value = value + 0 * x + 0 * y
        return value

    def numpy(self, x, y):
        with np.errstate(all="ignore"):
            return np.asarray(self.evaluate(np.asarray(x, dtype=float), np.asarray(y, dtype=float), NUMPY_OPS),
                              dtype=float)

    def __hash__(self):
        return hash(self.text)


def parse(text: str) -> Formula:
    """A Formula, or a FormulaError saying what is wrong (one line)."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula is text, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise FormulaError("the formula is empty; type f(x, y), e.g. x^2 + 10 y^2")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is too long ({len(text)} characters, at most {MAX_LENGTH})")
    p = _Parser(text)
    tree = p.expr()
    if p.peek()[0] is not None:
        raise FormulaError(f"unexpected {p.peek()[1]!r} at position {p.peek()[2] + 1}")
    return Formula(text, tree)

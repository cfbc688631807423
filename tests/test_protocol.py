"""The Backend protocol is exactly what is used (as datasette's test holds its documented hooks to
its hookspecs): every registered backend implements every protocol method with a compatible
signature, no core / page / explainer code calls a backend method outside the protocol, and
docs/plugins.md's smallest complete backend is a complete backend."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

from workbench.backend import PROTOCOL, Backend
from workbench.registry import get_registry

ROOT = Path(__file__).resolve().parent.parent
# The code that calls backends (the backend plugins themselves implement it, workbench/backend*.py defines it).
CALLERS = [p for folder in ("workbench", "pages", "plugins/explainers", "plugins/lessons", "plugins/datasets",
                            "plugins/architectures")
           for p in sorted((ROOT / folder).rglob("*.py")) if p.name not in ("backend.py", "backend_base.py")]


def mismatches(backend) -> list[str]:
    """What in `backend` breaks the protocol: a missing method, or a signature that cannot be called
    the way the protocol's is (same parameters in the same order and kind; extras need defaults)."""
    problems = [] if isinstance(getattr(backend, "name", None), str) and backend.name else ["no name"]
    for method in PROTOCOL:
        impl = getattr(backend, method, None)
        if not callable(impl):
            problems.append(f"{method}: missing")
            continue
        wanted = list(inspect.signature(getattr(Backend, method)).parameters.values())[1:]  # without self
        have = list(inspect.signature(impl).parameters.values())
        if any(p.kind is p.VAR_POSITIONAL for p in have) and any(p.kind is p.VAR_KEYWORD for p in have):
            continue  # (*args, **kwargs) takes anything
        for i, param in enumerate(wanted):
            if i >= len(have) or have[i].name != param.name:
                problems.append(f"{method}: parameter {i + 1} should be {param.name!r}, "
                                f"has {have[i].name if i < len(have) else 'none'}")
                break
            if param.default is not param.empty and have[i].default is param.empty:
                problems.append(f"{method}: {param.name} needs a default, as in the protocol")
        extra = [p.name for p in have[len(wanted):] if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL,
                                                                                                  p.VAR_KEYWORD)]
        if extra:
            problems.append(f"{method}: extra parameters without defaults: {', '.join(extra)}")
    return problems


def test_the_protocol_is_not_empty():
    assert {"logits", "layer_names", "optimize", "augment", "predict", "gradients"} <= set(PROTOCOL)


@pytest.mark.parametrize("name", sorted(get_registry().backends()))
def test_every_registered_backend_implements_the_protocol(name):
    backend = get_registry().backends()[name]
    assert mismatches(backend) == []
    assert isinstance(backend, Backend)


def test_the_check_catches_a_broken_backend():
    from workbench_plugins.torch_backend.backend import TorchBackend

    class Broken(TorchBackend):
        name = "broken"

        def logits(self, model, images, batch_size=64):  # renamed parameter
            return super().logits(model, images, batch_size)

        def optimize(self, loss_fn, start, optimizers, steps):  # learning_rate dropped
            return None

        def summary(self, model, verbose):  # a new required parameter
            return []

    Broken.layer_names = None
    found = mismatches(Broken())
    assert any(p.startswith("logits: parameter 2") for p in found)
    assert any(p.startswith("optimize: parameter 5") for p in found)
    assert any(p.startswith("summary: extra") for p in found)
    assert "layer_names: missing" in found


# -- no caller reaches past the protocol ---------------------------------------------------------
def _is_backend(node: ast.AST) -> bool:
    """`backend`, `self.backend`, `be`, `backends[name]` ...: an expression that holds a backend."""
    if isinstance(node, ast.Name):
        return node.id in ("backend", "be") or node.id.endswith("_backend")
    if isinstance(node, ast.Attribute):
        return node.attr == "backend"
    if isinstance(node, ast.Subscript):
        value = node.value
        return (isinstance(value, ast.Name) and value.id == "backends") or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "backends")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):  # lookup.backend(name).x
        return node.func.attr in ("backend", "default_backend")
    return False


def backend_calls(source: str) -> list[tuple[int, str]]:
    """(line, method) for every method called on, or fetched by getattr from, a backend."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_backend(node.func.value):
            found.append((node.lineno, node.func.attr))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
                and len(node.args) >= 2 and _is_backend(node.args[0]) and isinstance(node.args[1], ast.Constant)):
            found.append((node.lineno, node.args[1].value))
    return found


def test_the_scan_sees_calls():
    calls = backend_calls("backend.logits(m, x)\nself.backend._delegate('a')\ngetattr(backend, 'peak_memory')\n"
                          "lookup.backend('tf').summary(m)\nregistry.backends()[n].build(a)\nbackend.name\n")
    assert sorted(m for _, m in calls) == ["_delegate", "build", "logits", "peak_memory", "summary"]


def test_no_caller_uses_a_backend_method_outside_the_protocol():
    allowed = set(PROTOCOL) | {"name", "backend"}  # .backend: what the explainers' metering wrapper wraps
    outside = [f"{p.relative_to(ROOT)}:{line}: {method}" for p in CALLERS
               for line, method in backend_calls(p.read_text(encoding="utf-8")) if method not in allowed]
    assert outside == []
    used = {method for p in CALLERS for _, method in backend_calls(p.read_text(encoding="utf-8"))}
    unused = set(PROTOCOL) - used - {"optimize"}  # optimize: the optimizer lesson's, which lands beside this
    assert unused == set(), f"protocol methods no core code calls: {sorted(unused)}"


# -- docs/plugins.md's smallest complete backend ------------------------------------------------
def doc_block(first_line: str) -> str:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    found = [b for b in blocks if b.startswith(first_line)]
    assert len(found) == 1, f"docs/plugins.md should hold one block starting {first_line!r}"
    return found[0]


def test_the_documented_smallest_backend_is_complete():
    pytest.importorskip("torch")
    from workbench import lookup, spec

    namespace = {"__name__": "my_backend.backend", "__package__": "workbench_plugins.torch_backend"}  # the modules it names
    exec(compile(doc_block("# my_backend/backend.py"), "docs/plugins.md", "exec"), namespace)
    mine = namespace["MyBackend"]()
    assert mine.name == "mine" and mismatches(mine) == []
    arch = spec.parse_architecture({"name": "doc-net", "input_shape": [8, 8, 1], "num_classes": 3, "layers": [
        {"type": "Conv2D", "filters": 2, "kernel_size": 3, "activation": "relu"}, {"type": "Flatten"},
        {"type": "Dense", "units": 3, "activation": "softmax"}]})
    model = mine.build(arch, seed=0)
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    reference = lookup.backend("pytorch")
    np.testing.assert_allclose(mine.predict(model, x), reference.predict(reference.build(arch, seed=0), x), atol=1e-6)
    assert mine.layer_names(model) == [layer.name for layer in spec.walk(arch.layers)]


def test_the_documented_hook_registers_that_backend(monkeypatch):
    import importlib.util
    import sys
    import types

    from workbench.registry import Registry

    package = types.ModuleType("my_backend")
    package.__path__ = []
    backend_module = types.ModuleType("my_backend.backend")
    backend_module.__package__ = "workbench_plugins.torch_backend"
    exec(doc_block("# my_backend/backend.py"), backend_module.__dict__)
    monkeypatch.setitem(sys.modules, "my_backend", package)
    monkeypatch.setitem(sys.modules, "my_backend.backend", backend_module)
    package.__package__ = "my_backend"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "myframework" else real(name, *a))
    exec(doc_block("# my_backend/__init__.py"), package.__dict__)
    registry = Registry(entry_points=False, extra_plugins={"mine": package})
    assert [p.error for p in registry.plugins()] == [None]
    assert mismatches(registry.backends()["mine"]) == []

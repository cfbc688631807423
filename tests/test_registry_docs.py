"""docs/plugins.md documents every hook with its exact signature (as datasette's docs test does)."""

import inspect
import re
from pathlib import Path

import pytest

from workbench import backend, hookspecs

DOC = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
HOOKS = [
    (name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "cnn_workbench_spec")  # the attribute pluggy's HookspecMarker sets
]
HEADINGS = re.findall(r"^### (\w+)(\(.*\))$", DOC, flags=re.M)


def test_hookspecs_are_found():
    assert len(HOOKS) >= 5


@pytest.mark.parametrize("name,fn", HOOKS, ids=[h[0] for h in HOOKS])
def test_every_hook_is_documented_with_its_signature(name, fn):
    assert (name, str(inspect.signature(fn))) in HEADINGS, f"docs/plugins.md needs '### {name}{inspect.signature(fn)}'"


def test_no_documented_hook_is_missing_from_hookspecs():
    assert {h for h, _ in HEADINGS} == {name for name, _ in HOOKS}


def test_the_entry_point_group_is_the_registry_s():
    from workbench.registry import GROUP

    assert f"[project.entry-points.{GROUP}]" in DOC


def test_every_backend_method_is_in_the_protocol_table():
    methods = [m for m in vars(backend.Backend) if not m.startswith("_") and callable(getattr(backend.Backend, m))]
    assert len(methods) >= 10
    for method in methods:
        assert f"`{method}(" in DOC, f"docs/plugins.md's Backend table lacks {method}"

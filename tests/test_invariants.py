"""DESIGN.md invariant 1: only the backend plugins import a deep-learning framework.

Checked twice: statically (every import statement and every importlib.import_module / __import__
of a constant string in workbench/, pages/ and plugins/ outside the two backend plugins), and
dynamically (discovering every plugin leaves torch, tensorflow and keras unimported).
"""

import ast
import json
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = {"torch", "torchvision", "tensorflow", "keras", "tf_keras"}
BACKEND_PLUGINS = ("plugins/torch_backend/", "plugins/tensorflow_backend/")


def checked_modules():
    for folder in ("workbench", "pages", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith(BACKEND_PLUGINS):
                yield rel, path


def imported_names(tree):
    """(line, module) for every import the module can make, lazy ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def forbidden(module: str) -> bool:
    parts = module.split(".")
    backends = {f"{top}.{name}" for top in ("plugins", "workbench_plugins")  # the folder, the installed name
                for name in ("torch_backend", "tensorflow_backend")}
    return parts[0] in FRAMEWORKS or ".".join(parts[:2]) in backends


def test_the_checker_sees_every_kind_of_import():
    source = (
        "import torch.nn as nn\nfrom tensorflow import keras\nimport importlib\n"
        "def f():\n    import keras\n    importlib.import_module('torch')\n    __import__('tensorflow.keras')\n"
        "from plugins.torch_backend.backend import TorchBackend\nimport numpy\nfrom . import torch\n"
    )
    found = sorted((line, name) for line, name in imported_names(ast.parse(source)) if forbidden(name))
    assert found == [(1, "torch.nn"), (2, "tensorflow"), (5, "keras"), (6, "torch"), (7, "tensorflow.keras"),
                     (8, "plugins.torch_backend.backend")]


def test_no_module_outside_the_backend_plugins_imports_a_framework():
    modules = list(checked_modules())
    assert any(rel.startswith("workbench/") for rel, _ in modules) and any(rel.startswith("plugins/") for rel, _ in modules)
    offences = [
        f"{rel}:{line} imports {name}"
        for rel, path in modules
        for line, name in imported_names(ast.parse(path.read_text(encoding="utf-8"), filename=rel))
        if forbidden(name)
    ]
    assert offences == [], "only plugins/torch_backend and plugins/tensorflow_backend may import a framework"


PROBE = """
import json, sys
from workbench.registry import get_registry
registry = get_registry()
names = sorted(registry.architectures())
registry.plugins(), registry.backends(), registry.explainers(), registry.datasets(), registry.lessons()
from workbench import shapes
shapes.compute(registry.architectures()["mnist-cnn"])
print(json.dumps({"architectures": names, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in %r)}))
"""


def test_discovering_plugins_imports_no_framework():
    done = subprocess.run([sys.executable, "-c", PROBE % sorted(FRAMEWORKS)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "mnist-cnn" in result["architectures"]
    assert result["loaded"] == []

"""Each backend installs and works alone (DESIGN.md invariant 8).

A user who runs `pip install 'cnn-workbench[tensorflow]'` has no torch, and one who installs
`[torch]` has no TensorFlow. Each test here starts a fresh Python in which the other framework
and everything built on it cannot be imported (``sys.modules[name] = None``, Python's own way of
saying "not installed": ``import`` raises ModuleNotFoundError and ``importlib.util.find_spec``
answers None), then drives the app's lessons through AppTest and runs `workbench explain` on
the pretrained model, with a fresh cache so that nothing converted earlier helps.

Statically too: no plugin imports another plugin, by an import statement or by naming its
modules in a string.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from workbench.registry import get_registry

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = {"torch": ("torch",), "tensorflow": ("tensorflow", "tensorflow-cpu", "keras", "tf-keras")}


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requires(dist) -> set[str]:
    """What a distribution needs, whatever extras the user picked."""
    return {_key(re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0]) for r in dist.requires or [] if "extra ==" not in r}


def without(framework: str) -> set[str]:
    """The distributions an install without ``framework`` lacks: it, what requires it, and what only
    they required (triton, the nvidia-* libraries for torch)."""
    dists = {_key(d.metadata["Name"]): d for d in importlib.metadata.distributions()}
    gone = {_key(n) for n in FRAMEWORKS[framework]} & set(dists)
    while True:
        kept = set(dists) - gone - {"cnn-workbench"}
        needed = set().union(*(_requires(dists[n]) for n in kept))
        more = {n for n in kept if _requires(dists[n]) & gone}
        more |= {n for n in set().union(*(_requires(dists[g]) for g in gone)) & set(dists) if n not in needed} - gone
        if not more:
            return gone
        gone |= more


def site_without(framework: str, folder: Path) -> Path:
    """A site-packages that is the shared one without ``framework`` (links to everything else), the
    way a venv looks after `pip install 'cnn-workbench[the other]'`. The workbench itself comes from
    this checkout (PYTHONPATH), so the shared venv's editable install of it is left out too."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()))
    dists = {_key(d.metadata["Name"]): d for d in importlib.metadata.distributions()}
    hidden = set()
    for name in without(framework) | {"cnn-workbench"}:
        dist = dists[name]
        hidden.add(Path(dist._path).name)  # its .dist-info
        hidden |= {f.parts[0] for f in dist.files or [] if f.parts and f.parts[0] != ".."}
    hidden = {h.removesuffix(".py") for h in hidden} | hidden
    hidden |= {p.name for p in site.glob("__editable__*cnn_workbench*")}
    folder.mkdir(parents=True)
    for entry in site.iterdir():
        if entry.name not in hidden and entry.name.removesuffix(".py") not in hidden and entry.name != "__pycache__":
            (folder / entry.name).symlink_to(entry)
    # this checkout, as an editable install sees it: its folders under their installed names (the
    # rest of it, workbench/, comes from PYTHONPATH), and its metadata with the built-ins' entry points
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for name, where in config["tool"]["setuptools"]["package-dir"].items():
        (folder / name).symlink_to(ROOT / where)
    project = config["project"]
    info = folder / f"cnn_workbench-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = project["entry-points"]["cnn_workbench"]
    (info / "entry_points.txt").write_text("[cnn_workbench]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()))
    return folder


SCRIPT = r'''
import site, sys
site.addsitedir(sys.argv[3])  # started with -S: this is the only site-packages, the framework not in it
import importlib.util, json
absent, out = sys.argv[1].split(","), sys.argv[2]
report = {"importable": sorted(n for n in absent if importlib.util.find_spec(n) is not None)}

from streamlit.testing.v1 import AppTest


def page_app(module, timeout):
    # one lesson page rendered alone, as tests/conftest.py's lesson_app does
    return AppTest.from_string(f"import importlib\nimportlib.import_module('workbench_pages.{module}').render()\n",
                               default_timeout=timeout)

def errors(at):
    return [e.message for e in at.exception] + [e.value for e in at.error]

from workbench.registry import get_registry
registry = get_registry()
report["backends"] = sorted(registry.backends())
report["plugin_errors"] = {p.name: p.error for p in registry.plugins() if p.error}
report["natives"] = sorted(registry.architectures()["efficientnet-lite0"].native)
report["pages"] = {}
for page in ("home", "gallery", "shape_calculator", "convolution"):
    at = page_app(page, 300).run()
    report["pages"][page] = errors(at)
at = page_app("explanations", 600).run()
at.multiselect(key="ex_samples").set_value(["coffee"])
at.multiselect(key="ex_methods").set_value(["saliency", "grad-cam"])
at.run()
at.button(key="ex_run").click()
at.run()
report["pages"]["explanations"] = errors(at)
report["explanations_prediction"] = at.dataframe[0].value.iloc[0, 1] if len(at.dataframe) else None
report["explanations_captions"] = [c.value for c in at.caption]

import contextlib, io
from workbench.cli import main
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    report["cli"] = main(["explain", "sample:chelsea", "--model", "efficientnet-lite0", "--methods",
                          "grad-cam,saliency", "--out", out, "--json"])
report["cli_json"] = json.loads(printed.getvalue())
report["loaded"] = sorted(n for n in absent if n in sys.modules)
print("REPORT" + json.dumps(report))
'''


def run_alone(framework: str, tmp_path: Path) -> tuple[dict, dict]:
    site = site_without(framework, tmp_path / "site-packages")
    absent = ["torch", "torchvision", "triton"] if framework == "torch" else ["tensorflow", "keras"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKBENCH_DATA_DIR": str(tmp_path / "cache"),
           "TF_CPP_MIN_LOG_LEVEL": "2", "TQDM_DISABLE": "1"}
    out = tmp_path / "explain"
    done = subprocess.run([sys.executable, "-S", "-c", SCRIPT, ",".join(absent), str(out), str(site)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=1500)
    lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(lines[-1].removeprefix("REPORT"))
    return report, report.pop("cli_json")


def check(report: dict, cli: dict, backend: str, missing_plugin: str, tmp_path: Path) -> None:
    assert report["backends"] == [backend]
    assert report["natives"] == [backend]  # the pretrained model is built by the backend that is there
    assert set(report["plugin_errors"]) == {missing_plugin}  # the absent framework's plugin, and no other
    assert "is not installed: pip install 'cnn-workbench[" in report["plugin_errors"][missing_plugin]
    assert report["pages"] == {page: [] for page in ("home", "gallery", "shape_calculator", "convolution",
                                                     "explanations")}
    assert "espresso" in report["explanations_prediction"]
    assert {"saliency · image 1", "grad-cam · image 1"} <= set(report["explanations_captions"])
    assert report["cli"] == 0 and report["importable"] == [] and report["loaded"] == []
    assert cli["backend"] == backend and set(cli["methods"]) == {"grad-cam", "saliency"}
    assert cli["predictions"][0][0]["name"] in ("tabby", "tiger cat", "Egyptian cat")
    assert (tmp_path / "explain" / "explanations.png").stat().st_size > 10_000


@pytest.mark.slow
def test_tensorflow_alone(tmp_path):
    pytest.importorskip("tensorflow")
    report, cli = run_alone("torch", tmp_path)
    check(report, cli, "tensorflow", "torch_backend", tmp_path)
    # EfficientNet-Lite0's weights were read from the shipped .pth without torch, converted once and cached
    assert len(list((tmp_path / "cache" / "weights").glob("*.keras-layout.safetensors"))) == 1


@pytest.mark.slow
def test_pytorch_alone(tmp_path):
    pytest.importorskip("torch")
    report, cli = run_alone("tensorflow", tmp_path)
    check(report, cli, "pytorch", "tensorflow_backend", tmp_path)


# -- statically: no plugin reaches into another -------------------------------------------------
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())


def other_plugins_named(plugin: str, source: str) -> list[tuple[int, str]]:
    """(line, text) of every import of, or string naming, another built-in plugin's package."""
    others = [p for p in PLUGINS if p != plugin]
    pattern = re.compile(r"\b(?:plugins|workbench_plugins)\.(" + "|".join(map(re.escape, others)) + r")\b")
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if pattern.search(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and pattern.search(node.module):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level >= 2:  # from ..torch_backend import x
            if (node.module or "").split(".")[0] in others:
                found.append((node.lineno, "." * node.level + node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and pattern.search(node.value):
            found.append((node.lineno, node.value))
    return found


def test_the_scan_sees_imports_and_strings():
    source = ("import plugins.torch_backend.x\nfrom plugins.tensorflow_backend import y\n"
              "f('plugins.torch_backend.pretrained', 'build')\nfrom ..torch_backend import z\nfrom . import mine\n")
    assert [line for line, _ in sorted(other_plugins_named("architectures", source))] == [1, 2, 3, 4]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_no_plugin_names_another(plugin):
    named = [f"{p.relative_to(ROOT)}:{line}: {text}" for p in sorted((ROOT / "plugins" / plugin).rglob("*.py"))
             for line, text in other_plugins_named(plugin, p.read_text(encoding="utf-8"))]
    assert named == []


def test_the_core_names_no_pretrained_model():
    """The core and the pages ask the registry (roles, Architecture.preprocessing, native builders)
    instead of naming a plugin's model: no string in them is a native architecture's name."""
    natives = {name for name, arch in get_registry().architectures().items() if not arch.is_spec}
    assert "efficientnet-lite0" in natives
    named = [f"{p.relative_to(ROOT)}:{node.lineno}: {node.value}"
             for folder in ("workbench", "pages") for p in sorted((ROOT / folder).rglob("*.py"))
             for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in natives]
    assert named == []

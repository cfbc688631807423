"""Plugin discovery through the `cnn_workbench` entry-point group: a real install of the example
plugin, a plugin that fails to import, a plugin whose hook raises."""

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from workbench import shapes
from workbench.hookspecs import hookimpl
from workbench.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "workbench-example-plugin"
OUR_MODULES = ("workbench_example_plugin", "broken_plugin", "raising_plugin", "exiting_plugin")


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    """The example plugin, really installed (built by pip from a copy of its source) into a folder."""
    source = tmp_path_factory.mktemp("source") / "plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return site


@pytest.fixture(scope="module")
def bad_site(tmp_path_factory):
    """Plugins installed by hand (a dist-info with an entry point): one raises on import, one calls
    sys.exit on import, one raises in its hook."""
    site = tmp_path_factory.mktemp("bad")
    (site / "broken_plugin.py").write_text('raise RuntimeError("this plugin is broken on purpose")\n')
    (site / "exiting_plugin.py").write_text('import sys\n\nsys.exit("leaving on import")\n')
    (site / "raising_plugin.py").write_text(
        "from workbench.hookspecs import hookimpl\n\n\n"
        "@hookimpl\ndef register_architectures(register):\n"
        "    raise ValueError('no architectures today')\n\n\n"
        "@hookimpl\ndef register_datasets(register):\n    pass\n"
    )
    for dist, name, module in [("broken_plugin", "broken", "broken_plugin"), ("raising_plugin", "raising", "raising_plugin"),
                               ("exiting_plugin", "exiting", "exiting_plugin")]:
        info = site / f"{dist}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[cnn_workbench]\n{name} = {module}\n")
    return site


@contextmanager
def on_path(*folders):
    """Make installed folders importable for one fresh Registry, then forget them again."""
    saved = list(sys.path)
    sys.path[:0] = [str(f) for f in folders]
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved
        for name in [m for m in sys.modules if m.split(".")[0] in OUR_MODULES]:
            del sys.modules[name]
        importlib.invalidate_caches()


def test_example_plugin_is_installed_with_its_entry_point(example_site):
    entry_points = next(example_site.glob("workbench_example_plugin-*.dist-info")) / "entry_points.txt"
    assert "[cnn_workbench]" in entry_points.read_text()
    assert (example_site / "workbench_example_plugin" / "tinynet.yaml").exists()  # package data installed


def test_example_plugin_is_discovered_and_contributes_an_architecture(example_site):
    if importlib.util.find_spec("workbench_example_plugin") is None:  # not installed in the environment too
        assert "example-tinynet" not in Registry().architectures()
    with on_path(example_site):
        registry = Registry()
        plugins = {p.name: p for p in registry.plugins()}
        archs = registry.architectures()
    assert plugins["example"].as_dict() == {
        "name": "example", "version": "0.1.0", "hooks": ["register_architectures"], "error": None, "warnings": [],
    }
    tiny = archs["example-tinynet"]
    assert [r.output_shape for r in shapes.compute(tiny).rows] == [(28, 28, 8), (14, 14, 8), (14, 14, 16), (7, 7, 16), (16,), (10,)]
    assert "mnist-cnn" in archs  # the built-ins load alongside


def test_a_plugin_that_fails_to_import_is_listed_with_its_error(example_site, bad_site):
    with on_path(example_site, bad_site):
        registry = Registry()
        plugins = {p.name: p for p in registry.plugins()}
        archs = registry.architectures()
    broken = plugins["broken"]
    assert broken.version == "0.1" and broken.hooks == []
    assert broken.error.startswith("RuntimeError: this plugin is broken on purpose (broken_plugin.py:1)")
    assert plugins["exiting"].error.startswith("SystemExit: leaving on import (exiting_plugin.py:3)")  # not the end of us
    # the rest still load: built-ins and the example plugin
    assert {"mnist-cnn", "vgg16", "example-tinynet"} <= set(archs)
    assert plugins["example"].error is None and plugins["architectures"].error is None


def test_a_plugin_whose_hook_raises_is_reported_and_skipped(bad_site):
    with on_path(bad_site):
        registry = Registry()
        archs = registry.architectures()
        plugins = {p.name: p for p in registry.plugins()}
    raising = plugins["raising"]
    assert raising.hooks == ["register_architectures", "register_datasets"]
    assert raising.error.startswith("register_architectures: ValueError: no architectures today")
    assert "mnist-cnn" in archs


def test_registering_something_without_a_name_is_reported():
    class Nameless:
        @hookimpl
        def register_architectures(self, register):
            register(object())

    registry = Registry(entry_points=False, extra_plugins={"nameless": Nameless()})
    assert registry.architectures() == {}
    (info,) = registry.plugins()
    assert info.error.startswith("register_architectures: ValueError: a registered architecture needs a 'name'")


def test_get_names_what_is_registered():
    registry = Registry()
    with pytest.raises(KeyError, match="no backend named 'jax'; registered: "):
        registry.get("backends", "jax")


def test_plugins_command_shows_broken_plugins_and_keeps_working(example_site, bad_site):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(example_site), str(bad_site), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "plugins", "--json"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    assert plugins["broken"]["error"].startswith("RuntimeError: this plugin is broken on purpose")
    assert plugins["raising"]["error"].startswith("register_architectures: ValueError")
    assert plugins["example"]["error"] is None and plugins["architectures"]["error"] is None

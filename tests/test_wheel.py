"""The installed package owns its names: the repository's plugins/ and pages/ install as
`workbench_plugins` and `workbench_pages`, never as top-level `plugins` or `pages`.

The wheel is built from this checkout (its tracked and new files, copied aside so the build
leaves nothing in the repository) and installed with `--no-deps` into a fresh venv (made by
`python -m venv`, filled by this venv's pip through `pip --python`). So that
its dependencies resolve without a download, the venv gets one .pth line naming a folder of
links to the shared venv's packages, minus every trace of an installed cnn-workbench (its
metadata, its editable finder): what the wheel does not bring cannot come from elsewhere.
Then, from a folder outside the repository, the venv's own `workbench` command must list every
built-in plugin without an error, and `plugins` / `pages` must not be importable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILT_INS = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["cnn_workbench"])


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


def copy_checkout(dest: Path) -> Path:
    """This checkout's tracked and new files (what a clone plus the change holds), copied to dest."""
    files = run("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=ROOT).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def clean_venv(tmp_path: Path) -> tuple[Path, dict]:
    """A new venv whose only extra is one .pth naming links to the shared venv's packages, without
    any cnn-workbench; and an environment without PYTHONPATH (nothing of the checkout)."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    shared = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()))
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in shared.iterdir():
        if "cnn_workbench" not in entry.name and entry.name not in ("workbench", "plugins", "pages", "__pycache__"):
            (deps / entry.name).symlink_to(entry)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "shared-dependencies.pth").write_text(f"{deps}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    (tmp_path / "elsewhere").mkdir()  # where the commands run: not the repository
    return venv, env


def pip_install(venv: Path, env: dict, *args) -> None:
    # --no-build-isolation: builds use the shared setuptools instead of downloading one
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", "--no-index",
        "--no-build-isolation", "--quiet", *args, env=env)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source, out = copy_checkout(tmp_path_factory.mktemp("source")), tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", out, source)
    (built,) = out.glob("cnn_workbench-*.whl")
    return built


def test_the_wheel_holds_no_top_level_plugins_or_pages(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {"workbench", "workbench_plugins", "workbench_pages"} <= tops
    assert not tops & {"plugins", "pages", "tests", "datasets"}
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("workbench_plugins/architectures/specs/")}
    assert shipped == {p.name for p in (ROOT / "plugins" / "architectures" / "specs").glob("*.yaml")}
    assert "workbench/imagenet_classes.txt" in names


def test_installed_in_a_clean_venv(wheel, tmp_path):
    venv, env = clean_venv(tmp_path)
    pip_install(venv, env, wheel)
    outside, site = tmp_path / "elsewhere", next((venv / "lib").glob("python3*/site-packages"))
    listed = json.loads(run(venv / "bin" / "workbench", "plugins", "--json", cwd=outside, env=env).stdout)
    plugins = {p["name"]: p for p in listed}
    assert BUILT_INS <= set(plugins)
    assert {name: plugins[name]["error"] for name in BUILT_INS} == dict.fromkeys(BUILT_INS)
    where = run(venv / "bin" / "python", "-c", "import importlib.util as u, json, workbench, workbench_plugins, "
                "workbench_pages; print(json.dumps([u.find_spec('plugins') is None, u.find_spec('pages') is None, "
                "workbench.__file__, workbench_plugins.__file__, workbench_pages.__file__]))",
                cwd=outside, env=env).stdout
    no_plugins, no_pages, *files = json.loads(where)
    assert no_plugins and no_pages
    assert all(f.startswith(str(site)) for f in files), files  # the wheel's copies, not the repository's
    archs = json.loads(run(venv / "bin" / "workbench", "list", "architectures", "--json", cwd=outside, env=env).stdout)
    assert {"mnist-cnn", "efficientnet-lite0"} <= {a["name"] for a in archs}  # spec files shipped as package data
    lessons = json.loads(run(venv / "bin" / "workbench", "list", "lessons", "--json", cwd=outside, env=env).stdout)
    assert {"home", "explanations"} <= {lesson["name"] for lesson in lessons}


def test_an_editable_install_maps_the_names_onto_the_folders(tmp_path):
    """bin/setup's `pip install -e .` from a fresh clone: the installed names lead to the clone's folders."""
    clone = copy_checkout(tmp_path / "clone")
    venv, env = clean_venv(tmp_path)
    pip_install(venv, env, "-e", clone)
    outside = tmp_path / "elsewhere"
    where = run(venv / "bin" / "python", "-c", "import json, workbench, workbench_plugins.lessons, workbench_pages.home;"
                " print(json.dumps([workbench.__file__, workbench_plugins.lessons.__file__, workbench_pages.home.__file__]))",
                cwd=outside, env=env).stdout
    assert json.loads(where) == [str(clone / "workbench" / "__init__.py"),
                                 str(clone / "plugins" / "lessons" / "__init__.py"), str(clone / "pages" / "home.py")]
    listed = json.loads(run(venv / "bin" / "workbench", "plugins", "--json", cwd=outside, env=env).stdout)
    assert {p["name"]: p["error"] for p in listed if p["name"] in BUILT_INS} == dict.fromkeys(BUILT_INS)

"""The `workbench` command end to end: shapes, plugins, list."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import cli, shapes
from workbench.registry import KINDS, get_registry

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def workbench(*argv):
    """The installed console script, in a fresh process (what a user types)."""
    exe = Path(sys.executable).with_name("workbench")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "workbench.cli"]
    return subprocess.run(cmd + list(argv), capture_output=True, text=True, timeout=300, cwd=ROOT)


# -- shapes ------------------------------------------------------------------------------
def test_shapes_json_in_a_fresh_process():
    done = workbench("shapes", "mnist-cnn", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [l["output_shape"] for l in data["layers"][:5]] == [[26, 26, 32], [13, 13, 32], [11, 11, 64], [5, 5, 64], [3, 3, 64]]
    assert (data["total_params"], data["trainable_params"], data["non_trainable_params"]) == (93322, 93322, 0)
    assert {"name", "type", "output_shape", "params", "trainable"} <= set(data["layers"][0])


def test_shapes_text_table(capsys):
    code, out, _ = run_cli(capsys, "shapes", "naive-cnn-cifar10")
    assert code == 0
    assert "Total params: 374,986  Trainable: 374,858  Non-trainable: 128" in out
    assert "batch_normalization_1" in out and "(16, 16, 64)" in out


def test_shapes_input_and_classes(capsys):
    code, out, _ = run_cli(capsys, "shapes", "mnist-cnn", "--input", "32,32,3", "--classes", "5", "--json")
    data = json.loads(out)
    assert code == 0 and data["input_shape"] == [32, 32, 3]
    assert data["layers"][0]["output_shape"] == [30, 30, 32] and data["layers"][0]["params"] == 3 * 3 * 3 * 32 + 32
    assert data["layers"][-1]["output_shape"] == [5]


def test_shapes_of_an_architecture_file(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "name: tiny\ninput_shape: [12, 12, 1]\nnum_classes: 3\nlayers:\n"
        "  - {type: Conv2D, filters: 4, kernel_size: 3, strides: 2, padding: same}\n"
        "  - {type: GlobalAveragePooling2D}\n  - {type: Dense, activation: softmax}\n"
    )
    code, out, _ = run_cli(capsys, "shapes", str(path), "--json")
    data = json.loads(out)
    assert code == 0
    assert [l["output_shape"] for l in data["layers"]] == [[6, 6, 4], [4], [3]]
    assert data["total_params"] == (9 * 4 + 4) + (4 * 3 + 3)


def test_a_wrong_file_gets_a_clear_message_not_a_traceback(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"name": "broken", "input_shape": [28, 28, 1], "num_classes": 10, "layers": [
        {"type": "Conv2D", "filters": 8, "kernel_size": 3},
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "full"},
    ]}))
    done = workbench("shapes", str(path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert "layers[1], key 'padding': must be 'valid' or 'same', got 'full'" in done.stderr


@pytest.mark.parametrize("argv,words", [
    (["shapes", "mnist-cnn", "--input", "8,8,1"], "layers[3] (max_pooling2d_2, MaxPooling2D)"),
    (["shapes", "mnist-cnn", "--classes", "0"], "--classes must be at least 1, got 0"),
    (["shapes", "mnist-cnn", "--input", "28x28"], "--input must be three positive integers"),
    (["shapes", "no-such-net"], "no architecture named 'no-such-net'; registered: alexnet"),
    (["shapes", "missing.yaml"], "no architecture file missing.yaml"),
    (["shapes", "efficientnet-lite0"], "efficientnet-lite0 is a native model with no spec; ask a backend"),
])
def test_shapes_errors_exit_2_with_one_line(capsys, argv, words):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and words in err and err.count("\n") == 1


def test_shapes_of_a_folder_is_one_line_not_a_traceback(capsys, tmp_path):
    folder = tmp_path / "net.json"
    folder.mkdir()
    code, _, err = run_cli(capsys, "shapes", str(folder))
    assert code == 2 and "is a folder, not an architecture file" in err and err.count("\n") == 1


def test_shapes_errors_with_json_print_a_json_error(capsys):
    code, out, _ = run_cli(capsys, "shapes", "mnist-cnn", "--input", "8,8,1", "--json")
    assert code == 2 and "max_pooling2d_2" in json.loads(out)["error"]


@pytest.mark.parametrize("backend", ["tensorflow", "pytorch"])
def test_shapes_backend_numbers_come_from_the_real_model(capsys, backend):
    if backend not in get_registry().backends():
        pytest.skip(f"the {backend} backend is not registered")
    code, out, _ = run_cli(capsys, "shapes", "residual-cifar10", "--backend", backend, "--json")
    data = json.loads(out)
    assert code == 0 and data["backend"] == backend
    table = shapes.compute(get_registry().architectures()["residual-cifar10"])
    assert [(l["name"], l["output_shape"], l["params"], l["trainable"]) for l in data["layers"]] == [
        (r.name, list(r.output_shape), r.params, r.trainable) for r in table.rows
    ]
    assert (data["total_params"], data["trainable_params"], data["non_trainable_params"]) == (1_108_234, 1_107_978, 256)


# -- plugins and list --------------------------------------------------------------------
BACKEND_PLUGINS = {"tensorflow_backend": "tensorflow", "torch_backend": "pytorch"}


def test_plugins_json_lists_builtins_and_both_backends_without_errors():
    done = workbench("plugins", "--json")
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    for p in plugins.values():
        assert set(p) == {"name", "version", "hooks", "error", "warnings"}
    for name in ("architectures", "explainers", "datasets", "lessons", *BACKEND_PLUGINS):
        assert plugins[name]["error"] is None and plugins[name]["warnings"] == [], plugins[name]
        assert plugins[name]["version"]
    assert plugins["architectures"]["hooks"] == ["register_architectures"]
    for name in BACKEND_PLUGINS:
        assert plugins[name]["hooks"] == ["register_backends", "register_benchmarks", "register_native_builders"]


@pytest.mark.parametrize("kind", KINDS)
def test_list_json(capsys, kind):
    code, out, _ = run_cli(capsys, "list", kind, "--json")
    rows = json.loads(out)
    assert code == 0 and isinstance(rows, list)
    assert [r["name"] for r in rows] == sorted(getattr(get_registry(), kind)())
    if kind == "lessons":
        assert all(r["url_path"] for r in rows)
    if kind == "architectures":
        names = {r["name"] for r in rows}
        assert {"mnist-cnn", "vgg16", "residual-cifar10"} <= names
        assert all(r.get("description") for r in rows)
    if kind == "backends":
        assert {r["name"] for r in rows} >= set(BACKEND_PLUGINS.values()) & set(get_registry().backends())
        assert all("device" in r for r in rows)

"""`workbench optimize` in both forms and `workbench bench optimize`, as JSON."""

import json
import subprocess
import sys

import numpy as np
import pytest

from workbench.cli import main


@pytest.mark.parametrize("backend", ["tensorflow", "pytorch"])
def test_optimize_surface_json(backend, capsys):
    assert main(["optimize", "--surface", "rosenbrock", "--optimizers", "sgd,momentum,adagrad", "--backend", backend,
                 "--steps", "40", "--lr", "1e-3", "--start=-1,2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"surface", "start", "minimum", "paths", "loss"} and out["minimum"] == [1.0, 1.0]
    for name in ("sgd", "momentum", "adagrad"):
        path = np.array(out["paths"][name])
        assert path.shape == (41, 2) and path[0].tolist() == [-1.0, 2.0] and len(out["loss"][name]) == 41
    f = lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2  # noqa: E731
    assert out["loss"]["momentum"][-1] == pytest.approx(f(out["paths"]["momentum"][-1]))
    assert out["loss"]["momentum"][-1] < out["loss"]["sgd"][-1]  # momentum speeds up along the valley


def test_a_diverging_path_stops_and_says_so(capsys):
    assert main(["optimize", "--surface", "x^2 - y^2", "--optimizers", "sgd", "--backend", "pytorch",
                 "--steps", "500", "--lr", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    path = out["paths"]["sgd"]
    assert len(path) < 501 and np.isfinite(path).all() and "finite" in out["stopped"]["sgd"]


def test_bad_arguments(capsys):
    assert main(["optimize", "--optimizers", "adamw", "--json"]) == 2
    assert "unknown optimizer" in json.loads(capsys.readouterr().out)["error"]
    assert main(["optimize", "--start", "1", "--json"]) == 2
    assert "two numbers" in json.loads(capsys.readouterr().out)["error"]


def test_optimize_cnn_json():
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "optimize", "--cnn", "--dataset", "mnist-5k",
                          "--arch", "cnn1", "--optimizers", "sgd,adam", "--steps", "6", "--backend", "pytorch",
                          "--images", "500", "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    loss = json.loads(out.stdout)["loss"]
    assert len(loss["sgd"]) == len(loss["adam"]) == 6
    assert loss["sgd"][0] == pytest.approx(loss["adam"][0], rel=1e-6)  # same initial weights, same first batch


def test_bench_optimize_json():
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "bench", "optimize", "--steps", "30", "--repeats", "1",
                          "--backend", "pytorch", "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout)["backends"]["pytorch"]
    assert r["gradient_evaluations"] == 300 and r["race_seconds"] > 0 and r["floor_seconds"] > 0
    assert r["ratio"] == pytest.approx(r["race_seconds"] / r["floor_seconds"], rel=0.01)

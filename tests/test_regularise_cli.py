"""`workbench regularise ...` prints the issue's JSON shapes, with the numbers the library gives."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args) -> dict:
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "regularise", *args, "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("backend", ["tensorflow", "pytorch"])
def test_dropout(backend):
    out = cli("dropout", "--w0", "0.3", "--w1", "-0.7", "--x", "2", "--y", "1", "--p", "0.5", "--samples", "20000",
              "--backend", backend)
    assert set(out) == {"enumerated", "monte_carlo", "inference", "lecture_test_scaling"}
    assert set(out["monte_carlo"]) == {"mean", "se"}
    assert out["enumerated"] == pytest.approx(0.5 * (0.3 * 2 - 0.7))
    assert abs(out["monte_carlo"]["mean"] - (0.3 * 2 - 0.7)) < 3 * out["monte_carlo"]["se"]
    assert out["inference"] == pytest.approx(-0.1, abs=1e-6)
    assert out["lecture_test_scaling"] == pytest.approx(-0.05)


def test_standardisation_shape():
    out = cli("standardisation", "--arch", "cnn1", "--dataset", "mnist-5k", "--epochs", "1", "--limit", "100",
              "--backend", "pytorch")
    assert list(out) == ["raw", "rescaled", "global", "per_channel", "per_pixel"]
    for result in out.values():
        assert len(result["history"]) == 1
        assert result["best_val_accuracy"] == result["history"][0]["val_accuracy"]


def test_dead_relu_large_learning_rate_kills_without_bn():
    kw = ("--arch", "cnn1", "--dataset", "mnist-5k", "--epochs", "1", "--limit", "600", "--lr", "0.05",
          "--backend", "pytorch")
    off, on = cli("dead-relu", *kw, "--batchnorm", "off"), cli("dead-relu", *kw, "--batchnorm", "on")
    assert [e["epoch"] for e in off["epochs"]] == [0, 1]
    assert set(off["epochs"][0]["dead_fraction"]) == {"activation_1", "activation_2"}
    assert off["epochs"][0]["dead_fraction"] == {"activation_1": 0.0, "activation_2": 0.0}  # alive at the start
    assert max(off["epochs"][1]["dead_fraction"].values()) > 0.5  # Adam at 0.05 kills them
    assert max(on["epochs"][1]["dead_fraction"].values()) < 0.2  # with BN before every ReLU, they live


def test_bad_input_is_one_line():
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "regularise", "dropout", "--p", "1.5"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "dropout probability must be in [0, 1)" in done.stderr.strip().splitlines()[-1]

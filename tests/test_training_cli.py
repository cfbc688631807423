"""`workbench train --json` and `workbench bench train --json`, and seed 001's MNIST CNN learning
on the real offline digits in both backends."""

import json

import numpy as np
import pytest

from workbench.cli import main


def run_json(capsys, argv):
    code = main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_train_cli_json(capsys, tmp_path):
    code, result = run_json(capsys, ["train", "--dataset", "shapes", "--arch", "mnist-cnn", "--backend", "tensorflow",
                                     "--epochs", "2", "--batch-size", "64", "--optimizer", "nesterov", "--lr", "0.05",
                                     "--augment", "horizontal_flip=true", "--save", str(tmp_path / "m.safetensors"),
                                     "--json"])
    assert code == 0
    assert [list(r)[:6] for r in result["history"]] == [["epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                                                         "seconds"]] * 2
    test = result["test"]
    cm = np.array(test["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == 180  # the shapes test split
    assert test["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert 0 < test["loss"] < 5
    # the saved model loads back (safely) and scores the same on the same test split
    from workbench import lookup
    from workbench.training import prepare

    backend = lookup.backend("tensorflow")
    model = backend.load(tmp_path / "m.safetensors")
    splits = prepare(lookup.dataset("shapes"), lookup.architecture("mnist-cnn")).splits
    x, y = splits["test"]
    assert (backend.predict(model, x).argmax(1) == y).mean() == pytest.approx(test["accuracy"])


def test_train_cli_reports_a_diverged_run_as_valid_json(capsys):
    code, result = run_json(capsys, ["train", "--dataset", "digits-8x8", "--arch", "mnist-cnn", "--backend",
                                     "pytorch", "--epochs", "3", "--optimizer", "sgd", "--lr", "1e6", "--json"])
    assert code == 0 and "diverged" in result["stopped"]


def test_train_cli_bad_input_is_one_clear_line(capsys):
    assert main(["train", "--dataset", "nope", "--arch", "mnist-cnn", "--json"]) == 2
    assert "no dataset named 'nope'" in json.loads(capsys.readouterr().out)["error"]
    assert main(["train", "--dataset", "shapes", "--arch", "mnist-cnn", "--optimizer", "adamw", "--json"]) == 2
    assert "unknown optimizer" in json.loads(capsys.readouterr().out)["error"]


def test_bench_train_json(capsys):
    code, result = run_json(capsys, ["bench", "train", "--backend", "pytorch", "--images", "128", "--repeats", "1",
                                     "--json"])
    r = result["backends"]["pytorch"]
    assert code == 0 and r["workbench_ips"] > 0 and r["baseline_ips"] > 0
    assert r["ratio"] == pytest.approx(r["workbench_ips"] / r["baseline_ips"], rel=1e-2)


@pytest.mark.parametrize("backend", ["pytorch", "tensorflow"])  # about 5 s each on 2 cores: in the default run
def test_seed_001_mnist_cnn_reaches_95_percent_on_mnist_5k(capsys, backend):
    code, result = run_json(capsys, ["train", "--dataset", "mnist-5k", "--arch", "mnist-cnn", "--backend", backend,
                                     "--epochs", "6", "--batch-size", "32", "--json"])
    assert code == 0
    assert result["history"][-1]["loss"] < result["history"][0]["loss"]
    assert result["test"]["accuracy"] >= 0.95, result["test"]

"""`workbench train --save`: the destination is checked before any training, an existing model is
replaced only with --overwrite, and the files are written all at once (the old model survives a
failure half-way); Ctrl-C stops after the current batch and keeps, reports and saves the work."""

import os
import signal

import numpy as np
import pytest

from conftest import require
from workbench.cli import main

require("torch")

TRAIN = ["train", "--dataset", "shapes", "--arch", "mnist-cnn", "--backend", "pytorch", "--epochs", "1"]


@pytest.fixture
def trainings(monkeypatch):
    """How many times the PyTorch backend trained (the real training, counted)."""
    from workbench_plugins.torch_backend import training as T

    calls, real = [], T.train

    def train(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(T, "train", train)
    return calls


@pytest.mark.parametrize("where, message", [
    (lambda tmp: "/proc/model", "cannot save to /proc/model: /proc is not writable"),
    (lambda tmp: tmp / "a-file" / "model", "is a file, not a folder"),
    (lambda tmp: tmp, "it is a folder; give a file name inside it"),
])
def test_a_destination_that_cannot_be_written_is_refused_before_training(capsys, tmp_path, trainings, where,
                                                                         message):
    (tmp_path / "a-file").write_text("not a folder")
    assert main(TRAIN + ["--save", str(where(tmp_path))]) == 2
    assert message in capsys.readouterr().err
    assert trainings == []  # nothing trained, so nothing lost


def saved_weights(path):
    from workbench import weights as W

    return W.load_file(W.find_weights(path))


def test_an_existing_model_is_replaced_only_with_overwrite(capsys, tmp_path, trainings):
    target = tmp_path / "m"
    assert main(TRAIN + ["--save", str(target)]) == 0
    first = saved_weights(target)
    layer = next(iter(first))
    assert main(TRAIN + ["--save", str(target), "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert f"a saved model is already at {target} (m.safetensors, m.json); pass --overwrite" in err
    assert len(trainings) == 1  # refused before the second training
    np.testing.assert_array_equal(saved_weights(target)[layer][0], first[layer][0])
    assert main(TRAIN + ["--save", str(target), "--seed", "1", "--overwrite"]) == 0
    assert not np.array_equal(saved_weights(target)[layer][0], first[layer][0])  # another seed's model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]  # no staging left behind


def test_a_save_that_fails_half_way_leaves_the_old_model_whole(capsys, tmp_path, monkeypatch):
    from workbench import weights as W

    target = tmp_path / "m"
    assert main(TRAIN + ["--save", str(target), "--standardize"]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(before) == {"m.json", "m.safetensors", "m.standardizer.npz"}

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(W, "write_architecture", full_disk)  # the weights are written, then the disk fills
    assert main(TRAIN + ["--save", str(target), "--seed", "3", "--overwrite"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_ctrl_c_stops_after_the_current_batch_and_keeps_the_work(capsys, tmp_path, monkeypatch):
    """SIGINT delivered to this process at the end of epoch 1 (as a terminal's Ctrl-C would be):
    epoch 2 ends after its batch, and the run is tested, reported and saved."""
    from workbench_plugins.torch_backend import training as T

    real = T.train

    def train(backend, model, data, config, on_epoch=None):
        def interrupt_after_epoch_1(record):
            on_epoch(record)
            if record["epoch"] == 1:
                os.kill(os.getpid(), signal.SIGINT)

        return real(backend, model, data, config, interrupt_after_epoch_1)

    monkeypatch.setattr(T, "train", train)
    handler = signal.getsignal(signal.SIGINT)
    code = main(TRAIN[:-1] + ["20", "--save", str(tmp_path / "m")])
    out, err = capsys.readouterr()
    assert code == 130
    assert "stopping after the current batch" in err and "stopped: stopped by the user" in err
    epochs = [line for line in out.splitlines() if line.startswith("epoch=")]
    assert [line.split()[0] for line in epochs] == ["epoch=1", "epoch=2"]  # not 20
    assert "test loss" in out and "accuracy" in out  # what was learned is tested
    assert signal.getsignal(signal.SIGINT) is handler  # the terminal's Ctrl-C is given back
    from workbench import lookup

    assert lookup.backend("pytorch").load(tmp_path / "m") is not None  # ... and saved

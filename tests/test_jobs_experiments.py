"""The transfer-learning experiment and the optimizer race on a CNN as jobs (workbench.transfer.job,
workbench.optimize.job): in a worker process each gives the numbers the same work gives in this
process (same seeds); Stop mid-run hands on what was done; what travels is JSON and safetensors.

Oracles: run_experiment and race_cnn called here on the same definition, the page-free numbers of
the finished runs (each run's own epochs, the first loss every optimizer shares: the same initial
weights on the same first batch)."""

import json

import numpy as np
import pytest

from conftest import require

require("torch")

from workbench import lookup  # noqa: E402
from workbench.jobs import payload  # noqa: E402
from workbench.jobs.executors import LocalExecutor  # noqa: E402
from workbench.jobs.job import DONE  # noqa: E402
from workbench.jobs.queue import JobQueue  # noqa: E402
from workbench.optimize.job import QueuedRace, race_on  # noqa: E402
from workbench.training import predicted  # noqa: E402
from workbench.transfer.experiment import ExperimentSpec, prepare_data, run_experiment  # noqa: E402
from workbench.transfer.job import QueuedExperiment, experiment_json  # noqa: E402

TINY = ExperimentSpec("digits-8x8", base="mnist-cnn", backend="pytorch", variants=("scratch", "frozen", "features"),
                      epochs=2, seeds=2, limit=60, batch_size=16)


@pytest.fixture(scope="module")
def local():
    queue = JobQueue(LocalExecutor(slots=1), idle_timeout=900)
    yield queue
    queue.close()


def test_the_transfer_kind_in_a_worker_equals_the_experiment_here(local):
    job = QueuedExperiment(TINY, owner="a", queue=local).start()
    here = run_experiment(TINY)
    assert job.wait(300) and job.status == DONE, job.job.error
    there = job.result
    backend, data = lookup.backend("pytorch"), prepare_data(TINY, lookup.dataset(TINY.dataset))
    assert [(r.variant, r.seed) for r in there.runs] == [(r.variant, r.seed) for r in here.runs]
    assert there.notes == here.notes and there.spec == here.spec
    for a, b in zip(there.runs, here.runs):
        assert a.test_accuracy == pytest.approx(b.test_accuracy, abs=1e-6)
        assert (a.trainable_tensors, a.trainable_params, a.cached) == (b.trainable_tensors, b.trainable_params, b.cached)
        assert [h["val_loss"] for h in a.history] == pytest.approx([h["val_loss"] for h in b.history], rel=1e-4)
        # seed 0's models come back (the page compares, explains and exports them), the others' numbers alone
        assert (a.run is not None) == (b.run is not None and b.seed == 0)
        if a.run is not None:
            np.testing.assert_allclose(a.run.test_probs, b.run.test_probs, atol=1e-5)
            # the model came back whole: loaded here, it predicts what the worker's model predicted
            x = data[a.variant == "scratch"].splits["test"][0]
            np.testing.assert_allclose(predicted(backend, a.run.model, x)[0], b.run.test_probs, atol=1e-4)
    # the streamed epochs are the runs' own, in order
    labels = list(dict.fromkeys(label for label, _ in job.records))
    assert len(labels) == 4 and labels[0] == "scratch seed 0 (100% of the training data)"  # features train no epochs
    assert [r["val_loss"] for label, r in job.records if label == labels[0]] == pytest.approx(
        [h["val_loss"] for h in here.runs[0].history], rel=1e-4)


def test_what_the_transfer_kind_hands_back_is_json_and_safetensors():
    from safetensors.numpy import load

    exp = run_experiment(ExperimentSpec(**{**TINY.__dict__, "variants": ("frozen",), "seeds": 1}))
    doc, blob = payload.pack(experiment_json(exp))
    assert set(json.loads(doc)["doc"]) == {"spec", "runs", "notes"}
    weights = load(blob)  # the model's files as bytes, the test labels and probabilities: all in one safetensors blob
    assert any(a.shape == exp.runs[0].run.test_probs.shape for a in weights.values())
    with pytest.raises(TypeError, match="not TrainedRun"):
        payload.pack({"run": exp.runs[0].run})  # a live object never travels as a pickle


def test_stop_mid_experiment_keeps_the_runs_that_finished(local):
    spec = ExperimentSpec(**{**TINY.__dict__, "variants": ("frozen", "scratch"), "seeds": 1, "epochs": 40})
    job = QueuedExperiment(spec, owner="b", queue=local).start()
    while not any(label.startswith("scratch") for label, _ in job.records):
        assert not job.job.wait(0.05), f"the experiment ended before its scratch run: {job.job.error}"
    job.stop()
    assert job.wait(120) and job.status == DONE, job.job.error
    frozen, scratch = job.result.runs
    assert frozen.variant == "frozen" and len(frozen.history) == 40
    assert scratch.variant == "scratch" and len(scratch.history) < 40
    assert scratch.history[-1]["stopped"].startswith("stopped by the user") and scratch.run is not None


RACE = dict(backend="pytorch", dataset="mnist-5k", arch="cnn1", images=300, optimizers=["sgd", "adam"], steps=4,
            lr={"sgd": 0.05, "adam": 1e-3}, batch_size=32, seed=3)


def test_the_optimizer_race_kind_in_a_worker_equals_the_race_here(local):
    args = {k: v for k, v in RACE.items() if k != "lr"}
    job = QueuedRace(**args, rates=RACE["lr"], owner="c", queue=local).start()
    here = race_on(**RACE)
    assert job.wait(300) and job.status == DONE, job.job.error
    assert list(job.result) == ["sgd", "adam"]
    for name, t in job.result.items():
        np.testing.assert_allclose(t.loss, here[name].loss, rtol=1e-5)
        assert (t.framework_class, t.hyper, t.stopped) == (here[name].framework_class, here[name].hyper, None)
    assert job.result["sgd"].loss[0] == pytest.approx(job.result["adam"].loss[0], rel=1e-6)  # same start, same batch
    # the steps streamed one by one are the finished race's losses
    assert [(e["optimizer"], e["step"]) for e in job.events] == [(n, k) for n in ("sgd", "adam") for k in range(1, 5)]
    np.testing.assert_allclose([e["loss"] for e in job.events], np.concatenate([here["sgd"].loss, here["adam"].loss]),
                               rtol=1e-5)


def test_stop_mid_race_keeps_the_losses_so_far(local):
    job = QueuedRace("pytorch", "mnist-5k", "cnn1", 300, ["sgd", "adam"], 5000, {"sgd": 0.01, "adam": 1e-3}, 32,
                     owner="d", queue=local).start()
    while len(job.events) < 3:
        assert not job.job.wait(0.05), f"the race ended before its third step: {job.job.error}"
    job.stop()
    assert job.wait(120) and job.status == DONE, job.job.error
    sgd, adam = job.result["sgd"], job.result["adam"]
    assert 3 <= len(sgd.loss) < 5000 and sgd.stopped == "stopped"
    assert len(adam.loss) == 0 and adam.stopped == "stopped"  # Stop ends the race, not only the current optimizer
    np.testing.assert_allclose([e["loss"] for e in job.events], sgd.loss)


@pytest.mark.slow  # about 20 s on two cores: EfficientNet-Lite0 built, saved and loaded in TensorFlow
def test_a_native_tensorflow_model_travels_as_the_files_its_backend_writes():
    """The transfer page's default base in TensorFlow: its weights are a .weights.h5 file, which
    model_files must let the backend name (a .safetensors name is refused by Keras)."""
    require("tensorflow")
    from workbench.jobs.train import load_model, model_files
    from workbench.training import with_dataset_head
    from workbench.transfer.bases import base, default_base

    backend = lookup.backend("tensorflow")
    model = backend.build(with_dataset_head(base(default_base()).arch, 3), seed=0)
    files = model_files(backend, model)
    assert files["weights"].endswith(".weights.h5")
    back = load_model(backend, files)
    before, after = backend.get_weights(model), backend.get_weights(back)
    assert before.keys() == after.keys()
    for name in before:
        for a, b in zip(before[name], after[name]):
            np.testing.assert_array_equal(a, b)

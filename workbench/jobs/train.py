"""The training run as a job: ``train`` is the kind a worker runs (workbench.runs.run_training, its
data prepared once per worker process), ``QueuedRun`` is what a page holds while it waits for it.

Across the process boundary a run is JSON (its RunSpec, history, class names), arrays (test labels
and probabilities) and the files ``Backend.save`` writes (safetensors, the architecture's JSON, the
standardiser), as bytes; the page loads the model back with ``Backend.load``.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np

from workbench import folders, lookup
from workbench.backend import TrainConfig
from workbench.jobs import cache
from workbench.jobs.follow import QueuedJob
from workbench.jobs.job import Resources
from workbench.model_facts import arch_of, standardizer_of
from workbench.runs import RunSpec, TrainedRun, prepare_run, run_training


def spec_json(spec: RunSpec) -> dict:
    return asdict(spec)


def spec_from_json(data: dict) -> RunSpec:
    return RunSpec(**{**data, "config": TrainConfig(**data["config"])})


def model_files(backend, model) -> dict:
    """What ``backend.save`` writes for ``model``, as {"weights": its file name, "files": {name: bytes}}."""
    with tempfile.TemporaryDirectory() as folder:
        # no suffix: the backend names the file (a native TensorFlow model's is .weights.h5, not .safetensors)
        target = Path(backend.save(model, Path(folder) / "model"))
        return {"weights": target.name, "files": {p.name: p.read_bytes() for p in Path(folder).iterdir()}}


def load_model(backend, files: dict):
    """The model ``model_files`` packed, loaded as ``Backend.load`` loads a saved one (no pickles)."""
    with tempfile.TemporaryDirectory() as folder:
        for name, data in files["files"].items():
            (Path(folder) / Path(name).name).write_bytes(data)
        return backend.load(Path(folder) / Path(files["weights"]).name)


def dataset_once(name: str):
    """(dataset, its folder's contents) from this process's class-wide cache (a changed folder is read again)."""
    contents = folders.dataset_contents(name)
    return cache.shared("datasets", 8).get(cache.key(name, contents), lambda: lookup.dataset(name)), contents


def prepared_once(spec: RunSpec):
    """(dataset, prepared data) for a spec, from this process's class-wide caches: the same data for
    every student who trains on it (a spec model's the same in both backends)."""
    dataset, contents = dataset_once(spec.dataset)
    arch = lookup.architecture(spec.arch)
    k = cache.key(spec.dataset, contents, spec.arch, spec.standardize, None if arch.is_spec else spec.backend, spec.limit)
    return dataset, cache.shared("prepared", 8).get(k, lambda: prepare_run(spec, dataset))


def train(args: dict, progress, stop: threading.Event) -> dict:
    """The "train" job kind: one run_training, its epochs streamed, its model handed back as files."""
    spec = spec_from_json(args["spec"])
    backend = lookup.backend(spec.backend)
    model = load_model(backend, args["model"]) if args.get("model") else None
    dataset, prepared = prepared_once(spec)
    run = run_training(spec, progress, stop, label=args.get("label", ""), dataset=dataset, prepared=prepared,
                       model=model)
    return run_json(run)


def run_json(run: TrainedRun) -> dict:
    """A TrainedRun as it travels back from a worker (its model as the files Backend.save writes)."""
    return {"spec": spec_json(run.spec), "label": run.label, "history": run.history, "images": run.images,
            "class_names": list(run.class_names), "test_labels": np.asarray(run.test_labels),
            "test_probs": np.asarray(run.test_probs), "dataset_name": run.dataset_name, "device": run.device,
            "notes": list(run.notes), "model": model_files(lookup.backend(run.spec.backend), run.model)}


def trained_run(result: dict) -> TrainedRun:
    """A finished job's result (``run_json``) as the TrainedRun the pages use (its model loaded in this process)."""
    spec = spec_from_json(result["spec"])
    model = load_model(lookup.backend(spec.backend), result["model"])
    names = tuple(result["class_names"])
    return TrainedRun(spec=spec, label=result["label"], model=model, arch=replace(arch_of(model), class_names=names),
                      standardizer=standardizer_of(model), history=result["history"], images=result["images"],
                      class_names=names, test_labels=result["test_labels"], test_probs=result["test_probs"],
                      dataset_name=result["dataset_name"], device=result["device"], notes=tuple(result["notes"]))


class QueuedRun(QueuedJob):
    """A training run submitted to the job queue (a QueuedJob of kind "train"), its result the
    TrainedRun the pages use; ``history`` is the epochs so far, then the finished run's."""

    kind = "train"

    def __init__(self, spec: RunSpec, label: str = "", on_done: Callable[[TrainedRun], None] | None = None, *,
                 owner: str, model=None, queue=None, resources: Resources | None = None):
        files = None if model is None else model_files(lookup.backend(spec.backend), model)
        super().__init__({"spec": spec_json(spec), "label": label, "model": files}, owner=owner, label=label,
                         on_done=on_done, queue=queue, resources=resources)
        self.spec = spec

    def convert(self, result: dict) -> TrainedRun:
        return trained_run(result)

    @property
    def history(self) -> list[dict]:
        return self.result.history if self.result is not None else self.events

    @property
    def stopped(self) -> str | None:
        history = self.history
        return history[-1].get("stopped") if history else None

"""The transfer-learning experiment as a job: ``experiment`` is the "transfer" kind a worker runs
(workbench.transfer.experiment.run_experiment, its data prepared once per worker process),
``QueuedExperiment`` is what the page holds while it waits for it.

Across the process boundary the experiment is JSON (its spec, every variant's numbers and epochs,
its notes) and, for the seeds asked for (seed 0 by default: the models the page compares, explains
and exports), each variant's run as workbench.jobs.train hands a training run back (its model as
the files Backend.save writes). A progress event is one epoch record of one variant's run.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, fields

from workbench.jobs import cache
from workbench.jobs.follow import QueuedJob
from workbench.jobs.job import Resources
from workbench.jobs.train import dataset_once, run_json, trained_run
from workbench.transfer.experiment import Experiment, ExperimentSpec, VariantRun, check, prepare_data, run_experiment


def spec_json(spec: ExperimentSpec) -> dict:
    return asdict(spec)


def spec_from_json(data: dict) -> ExperimentSpec:
    return ExperimentSpec(**{**data, "variants": tuple(data["variants"]), "fractions": tuple(data["fractions"])})


def experiment_json(exp: Experiment, model_seeds=(0,)) -> dict:
    """The experiment as it travels: the runs of ``model_seeds`` with their models, the others' numbers alone."""
    runs = []
    for r in exp.runs:
        row = {f.name: getattr(r, f.name) for f in fields(VariantRun) if f.name != "run"}
        row["run"] = run_json(r.run) if r.run is not None and r.seed in model_seeds else None
        runs.append(row)
    return {"spec": spec_json(exp.spec), "runs": runs, "notes": list(exp.notes)}


def experiment_from_json(result: dict) -> Experiment:
    runs = [VariantRun(**{**r, "run": trained_run(r["run"]) if r["run"] is not None else None})
            for r in result["runs"]]
    return Experiment(spec_from_json(result["spec"]), runs, list(result["notes"]))


def experiment(args: dict, progress, stop: threading.Event) -> dict:
    """The "transfer" kind. args: {"spec": spec_json's, "model_seeds": the seeds whose models come back}."""
    spec = check(spec_from_json(args["spec"]))
    dataset, contents = dataset_once(spec.dataset)
    k = cache.key(spec.dataset, contents, spec.base, spec.from_layer, spec.backend, spec.limit, spec.wrong_scale,
                  spec.scratch_arch if "scratch" in spec.variants else None)
    data = cache.shared("transfer-data", 2).get(k, lambda: prepare_data(spec, dataset))
    exp = run_experiment(spec, lambda label, record: progress({"run": label, "record": record}), stop,
                         dataset=dataset, data=data)
    return experiment_json(exp, tuple(args.get("model_seeds", (0,))))


class QueuedExperiment(QueuedJob):
    """The experiment submitted to the job queue; its result the Experiment the page shows, with
    seed 0's variants as TrainedRuns. ``records``: (run label, epoch record) as they came."""

    kind = "transfer"

    def __init__(self, spec: ExperimentSpec, *, owner: str, on_done=None, queue=None,
                 resources: Resources | None = None):
        self.spec = check(spec)  # a spec that cannot run says so now, not from the queue
        super().__init__({"spec": spec_json(self.spec), "model_seeds": [0]}, owner=owner,
                         label=f"transfer: {', '.join(self.spec.variants)} on {self.spec.dataset}", on_done=on_done,
                         queue=queue, resources=resources)

    def convert(self, result: dict) -> Experiment:
        return experiment_from_json(result)

    @property
    def records(self) -> list[tuple[str, dict]]:
        return [(e["run"], e["record"]) for e in self.events]

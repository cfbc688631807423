"""The lesson's experiments as a job: ``experiment`` is the kind a worker runs (the runs rebuilt from
their plain definition, trained by experiments.train_runs as the CLI trains them), ``QueuedExperiment``
is what the page holds while it waits and trains.

An experiment travels as JSON: which setups (setups.py's functions, by name, with their arguments),
the backend's name and the TrainConfig; the worker's progress is the runs' labels, then one event
per run start and per epoch (experiments.train_run's), and its result the runs' histories and probes.
"""

from __future__ import annotations

import threading
from dataclasses import asdict

from workbench import lookup
from workbench.backend import TrainConfig
from workbench.jobs.follow import QueuedJob
from workbench.regularise import setups
from workbench.regularise.experiments import Result, Run, replay, train_runs

# the setups an experiment may name: each returns a list of runs from JSON arguments
SETUPS = ("standardisation", "overfitting", "dead_relu", "initialisation", "cnn1_vs_cnn2")


def definition(backend: str, config: TrainConfig, *calls: tuple[str, dict]) -> dict:
    """An experiment's plain definition: the backend's name, the config, and its runs as setup calls."""
    return {"backend": backend, "config": asdict(config), "setups": [[name, dict(kwargs)] for name, kwargs in calls]}


def runs_of(args: dict) -> list[Run]:
    """The runs a definition names, in order (their data from setups' per-process cache)."""
    runs = []
    for name, kwargs in args["setups"]:
        if name not in SETUPS:
            raise ValueError(f"no experiment setup {name!r}; known: {', '.join(SETUPS)}")
        runs += getattr(setups, name)(**kwargs)
    return runs


def experiment(args: dict, progress, stop: threading.Event) -> dict:
    """The "regularise" job kind: the definition's runs trained one after another, an event per epoch;
    a Stop ends the current run after its batch and keeps every epoch done."""
    runs = runs_of(args)
    progress({"planned": [run.label for run in runs]})
    results = train_runs(lookup.backend(args["backend"]), runs, TrainConfig(**args["config"]), stop, progress=progress)
    return {"runs": [{"label": label, "history": r.history, "probes": r.probes, "stopped": r.stopped}
                     for label, r in results.items()]}


class QueuedExperiment(QueuedJob):
    """An experiment submitted to the job queue; ``results`` are its runs so far (from the events
    while it trains), then the finished job's."""

    kind = "regularise"

    def __init__(self, args: dict, *, owner: str, label: str = "", queue=None):
        super().__init__(args, owner=owner, label=label or "experiment", queue=queue)
        self.epochs = int(args["config"]["epochs"])

    def convert(self, result: dict) -> dict[str, Result]:
        return {r["label"]: Result(list(r["history"]), list(r["probes"]), r["stopped"]) for r in result["runs"]}

    @property
    def results(self) -> dict[str, Result]:
        return self.result if self.result is not None else replay(self.events)

    @property
    def planned(self) -> int:
        """How many runs the experiment trains (known once the worker has built them)."""
        return next((len(e["planned"]) for e in self.events if "planned" in e), 0)

    def fraction(self) -> float:
        done = sum(len(r.history) for r in self.results.values())
        return min(done / max(1, self.epochs * self.planned), 1.0)

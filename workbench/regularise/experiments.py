"""The lesson's training experiments: several runs of one backend, one after another, each a
fresh model trained with the framework's own loop (Backend.train), with an optional probe
after every epoch (dead ReLUs, say). The page runs them as a job (workbench.regularise.job), the
CLI in its own process; both call `train_runs`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from workbench.backend import TrainConfig
from workbench.regularise import init as I
from workbench.spec import Architecture
from workbench.training import TrainData, check_config


@dataclass
class Run:
    """One run: a label, the architecture, its splits as fed, and how its weights start."""

    label: str
    arch: Architecture
    splits: dict  # split -> (x, y)
    init: str = "default"
    probe: Callable | None = None  # probe(backend, model) -> dict, at epoch 0 and after each epoch


@dataclass
class Result:
    history: list = field(default_factory=list)
    probes: list = field(default_factory=list)  # [{"epoch": e, **probe}], epoch 0 before training
    stopped: str | None = None

    def as_dict(self) -> dict:
        vals = [r["val_accuracy"] for r in self.history if r.get("val_accuracy") is not None]
        out = {"history": self.history, "best_val_accuracy": max(vals) if vals else None}
        if self.probes:
            out["probes"] = self.probes
        if self.stopped:
            out["stopped"] = self.stopped
        return out


def train_run(backend, run: Run, config: TrainConfig, result: Result | None = None,
              stop: threading.Event | None = None, progress: Callable[[dict], None] | None = None) -> Result:
    """Build, start from run.init, train; the result fills in epoch by epoch, and ``progress`` hears
    of each: {"run": label, "record": the epoch's record or None before training, "probe": ... or None}."""
    result = result if result is not None else Result()
    model = I.build(backend, run.arch, run.init, config.seed)
    tell = progress or (lambda event: None)
    probe = {"epoch": 0, **run.probe(backend, model)} if run.probe is not None else None
    if probe is not None:
        result.probes.append(probe)
    tell({"run": run.label, "record": None, "probe": probe})

    def on_epoch(record):
        probe = None
        if run.probe is not None and np.isfinite(record.get("loss") or np.nan):
            probe = {"epoch": record["epoch"], **run.probe(backend, model)}
            result.probes.append(probe)
        result.history.append(record)
        tell({"run": run.label, "record": record, "probe": probe})

    x, y = run.splits["train"]
    xv, yv = run.splits.get("val", (None, None))
    backend.train(model, TrainData(x, y, xv, yv, stop=stop), config, on_epoch)
    result.stopped = result.history[-1].get("stopped") if result.history else None
    return result


def train_runs(backend, runs: list[Run], config: TrainConfig, stop: threading.Event | None = None,
               results: dict | None = None, progress: Callable[[dict], None] | None = None) -> dict[str, Result]:
    """The runs one after another (a Stop ends the current one after its batch and starts no other)."""
    config = check_config(config)
    results = results if results is not None else {}
    for run in runs:
        if stop is not None and stop.is_set():
            break
        results[run.label] = Result()
        train_run(backend, run, config, results[run.label], stop, progress)
    return results


def replay(events: list[dict]) -> dict[str, Result]:
    """The results that train_run's progress events describe, run by run (what a page shows live)."""
    results: dict[str, Result] = {}
    for event in events:
        if "run" not in event:  # the experiment's plan, not a run's epoch
            continue
        r = results.setdefault(event["run"], Result())
        if event.get("probe") is not None:
            r.probes.append(event["probe"])
        if event.get("record") is not None:
            r.history.append(event["record"])
            r.stopped = event["record"].get("stopped")
    return results

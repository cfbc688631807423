"""The lesson's training experiments: several runs of one backend, one after another, each a
fresh model trained with the framework's own loop (Backend.train), with an optional probe
after every epoch (dead ReLUs, say). `Experiment` runs them in a thread of its own, as
workbench.runs.BackgroundRun runs one, so a page can poll it and Stop it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from workbench.backend import TrainConfig
from workbench.regularise import init as I
from workbench.spec import Architecture
from workbench.runs import Background
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
              stop: threading.Event | None = None) -> Result:
    """Build, start from run.init, train; the result fills in epoch by epoch (a page reads it live)."""
    result = result if result is not None else Result()
    model = I.build(backend, run.arch, run.init, config.seed)
    if run.probe is not None:
        result.probes.append({"epoch": 0, **run.probe(backend, model)})

    def on_epoch(record):
        if run.probe is not None and np.isfinite(record.get("loss") or np.nan):
            result.probes.append({"epoch": record["epoch"], **run.probe(backend, model)})
        result.history.append(record)

    x, y = run.splits["train"]
    xv, yv = run.splits.get("val", (None, None))
    backend.train(model, TrainData(x, y, xv, yv, stop=stop), config, on_epoch)
    result.stopped = result.history[-1].get("stopped") if result.history else None
    return result


def train_runs(backend, runs: list[Run], config: TrainConfig, stop: threading.Event | None = None,
               results: dict | None = None) -> dict[str, Result]:
    config = check_config(config)
    results = results if results is not None else {}
    for run in runs:
        if stop is not None and stop.is_set():
            break
        results[run.label] = Result()
        train_run(backend, run, config, results[run.label], stop)
    return results


class Experiment(Background):
    """train_runs in a background thread (start / stop / running / wait, as every Background):
    `results` grows live, `stop()` ends it after the current batch, `error` holds what made it fail."""

    def __init__(self, backend, runs: list[Run], config: TrainConfig):
        self.stop_event = threading.Event()
        self.results: dict[str, Result] = {}
        self.labels = [r.label for r in runs]
        self.epochs = int(config.epochs)
        self.history, self.pred, self.error = [], None, None
        self._thread = threading.Thread(target=self._work, args=(backend, runs, config), daemon=True,
                                        name="workbench-regularise")

    def progress(self) -> float:
        done = sum(len(r.history) for r in self.results.values())
        return min(done / max(1, self.epochs * len(self.labels)), 1.0)

    def _work(self, backend, runs, config):
        try:
            train_runs(backend, runs, config, self.stop_event, self.results)
        except Exception as exc:  # noqa: BLE001 - the page shows it
            self.error = exc

"""The experiment in a thread of its own, for a page that reruns while it trains (as
workbench.runs.BackgroundRun does for one run)."""

from __future__ import annotations

import threading

from workbench.runs import Background
from workbench.transfer.experiment import Experiment, ExperimentSpec, run_experiment


class BackgroundExperiment(Background):
    def __init__(self, spec: ExperimentSpec, on_done=None, dataset=None):
        self.spec = spec
        self.stop_event = threading.Event()
        self.records: list[tuple[str, dict]] = []  # (variant seed fraction, epoch record), as they come
        self.result: Experiment | None = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._work, args=(on_done, dataset), name="workbench-transfer",
                                        daemon=True)

    def _work(self, on_done, dataset):
        try:
            self.result = run_experiment(self.spec, lambda label, rec: self.records.append((label, rec)),
                                         self.stop_event, dataset=dataset)
        except Exception as exc:  # noqa: BLE001 - the page shows it
            self.error = exc
            return
        if on_done is not None:
            on_done(self.result)

"""The optimizer race on a CNN as a job: ``cnn_race`` is the "optimize-cnn" kind a worker runs,
``QueuedRace`` is what the page holds while it waits for it, and ``race_on`` is the one function
both it and `workbench optimize --cnn` (in its own process, without the queue) call.

Across the process boundary a race is JSON (each optimizer's framework class, settings and why it
ended early) and arrays (the loss of every step); a progress event is one step of one optimizer.
"""

from __future__ import annotations

import threading

import numpy as np

from workbench import lookup
from workbench.jobs import cache
from workbench.jobs.follow import QueuedJob
from workbench.jobs.job import Resources
from workbench.jobs.train import dataset_once
from workbench.optimize import race as R


def data_once(dataset: str, arch: str, images: int):
    """(architecture with the dataset's head, training images, labels), prepared once per process."""
    from workbench.training import prepare

    data, contents = dataset_once(dataset)

    def make():
        arch_obj, splits, _ = prepare(data, lookup.architecture(arch), limit=int(images) or None)
        if not arch_obj.is_spec:
            raise ValueError(f"{arch_obj.name} is a pretrained model; race the optimizers on an architecture "
                             "built from scratch")
        return (arch_obj, *splits["train"])

    return cache.shared("race-data", 4).get(cache.key(dataset, contents, arch, int(images)), make)


def race_on(backend: str, dataset: str, arch: str, images: int, optimizers, steps: int, lr, batch_size: int = 64,
            seed: int = 0, mode: str = "defaults", on_step=None, stop: threading.Event | None = None
            ) -> dict[str, R.Trajectory]:
    """The optimizers on ``arch`` trained on ``images`` of ``dataset`` (workbench.optimize.race.race_cnn)."""
    R.cnn_arguments(optimizers, steps, lr)  # a bad setting says so before the data is read
    arch_obj, x, y = data_once(dataset, arch, images)
    return R.race_cnn(lookup.backend(backend), arch_obj, x, y, optimizers, steps, lr, batch_size, seed, mode,
                      on_step=on_step, stop=stop)


def trajectory_json(t: R.Trajectory) -> dict:
    return {"optimizer": t.optimizer, "backend": t.backend, "framework_class": t.framework_class, "hyper": t.hyper,
            "loss": np.asarray(t.loss, float), "stopped": t.stopped}


def cnn_race(args: dict, progress, stop: threading.Event) -> dict:
    """The "optimize-cnn" kind: args are race_on's (``rates``: {optimizer: learning rate})."""
    def step(name, k, loss):
        progress({"optimizer": name, "step": k, "loss": float(loss)})

    out = race_on(args["backend"], args["dataset"], args["arch"], args["images"], args["optimizers"], args["steps"],
                  args["rates"], args.get("batch_size", 64), args.get("seed", 0), args.get("mode", "defaults"),
                  on_step=step, stop=stop)
    return {"order": list(out), "trajectories": {n: trajectory_json(t) for n, t in out.items()}}


class QueuedRace(QueuedJob):
    """The race submitted to the job queue; its result {optimizer: Trajectory}. ``losses``: each
    optimizer's loss per step so far (the streamed steps, then the finished race's)."""

    kind = "optimize-cnn"

    def __init__(self, backend: str, dataset: str, arch: str, images: int, optimizers, steps: int, rates: dict,
                 batch_size: int = 64, seed: int = 0, mode: str = "defaults", *, owner: str, queue=None,
                 resources: Resources | None = None):
        self.names, self.steps, rates = R.cnn_arguments(optimizers, steps, rates)
        super().__init__({"backend": backend, "dataset": dataset, "arch": arch, "images": int(images),
                          "optimizers": self.names, "steps": self.steps, "rates": rates,
                          "batch_size": int(batch_size), "seed": int(seed), "mode": mode},
                         owner=owner, label=f"optimizers on {arch}: {', '.join(self.names)}", queue=queue,
                         resources=resources)

    def convert(self, result: dict) -> dict[str, R.Trajectory]:
        return {n: R.Trajectory(**result["trajectories"][n]) for n in result["order"]}

    @property
    def losses(self) -> dict[str, list[float]]:
        if self.result is not None:
            return {n: [float(v) for v in t.loss] for n, t in self.result.items()}
        out: dict[str, list[float]] = {n: [] for n in self.names}
        for e in self.events:
            out[e["optimizer"]].append(e["loss"])
        return out

"""The job kinds: a name -> the function a worker runs, as ``"module:function"`` (imported in
the worker on the job's first call, so the server never imports what a kind needs).

A kind's function is ``fn(args, progress, stop) -> result``: ``args`` and ``result`` are JSON,
numpy arrays and bytes (workbench.jobs.payload), ``progress(event)`` streams a JSON dict to the
job's owner (one per epoch, per method ...), ``stop`` is a threading.Event set when the owner
asks to stop, honoured where the work can end early and still hand on a result.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from workbench.contributed import resolve
from workbench.jobs import payload
from workbench.jobs.job import error_message

KINDS: dict[str, str] = {
    "train": "workbench.jobs.train:train",  # workbench.runs.run_training
    "explain": "workbench.jobs.explain:explain",  # workbench.explain.compare.run_methods, a grid of methods
    "sanity": "workbench.jobs.explain:sanity",  # workbench.explain.sanity.cascading_randomisation
    "lime-stability": "workbench.jobs.explain:lime_stability",  # workbench.explain.sanity.lime_stability
    "class-matrix": "workbench.jobs.explain:class_matrix",  # workbench.explain.cam.class_matrix, classes x images
    "regularise": "workbench.regularise.job:experiment",  # workbench.regularise.experiments.train_runs
    "transfer": "workbench.transfer.job:experiment",  # workbench.transfer.experiment.run_experiment
    "optimize-cnn": "workbench.optimize.job:cnn_race",  # the optimizers on a CNN's mini-batches
    "probe": "workbench.jobs.kinds:probe",  # a job of known length: tests and the benchmark's overhead
}


def register(name: str, function: str) -> None:
    """Add a kind (``"module:function"``, importable by a worker process)."""
    KINDS[name] = function


def function_of(kind: str) -> str:
    try:
        return KINDS[kind]
    except KeyError:
        raise KeyError(f"no job kind {kind!r}; known: {', '.join(sorted(KINDS))}") from None


def execute(function: str, doc: str, blob: bytes, job_id: str, board) -> tuple[str, str, bytes, float]:
    """What a worker runs for one job: (status "done" or "failed", result JSON or the error message,
    result arrays, seconds the work took). Everything that crosses back is a string or bytes."""
    stop = board.stop_event(job_id)
    t0 = time.perf_counter()
    try:
        args = payload.unpack(doc, blob)
        result = resolve(function)(args, lambda event: board.report(job_id, payload.to_json(event)), stop)
        out, arrays = payload.pack(result)
        return "done", out, arrays, time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - reported to the job's owner; the worker goes on
        return "failed", error_message(exc), b"", time.perf_counter() - t0
    finally:
        board.release(job_id)


def watched(stopped, interval: float = 0.2) -> tuple[threading.Event, threading.Event]:
    """(stop, done): a local Event set once ``stopped()`` says so, polled by a thread until ``done``
    is set; for workers that hear of Stop from another process."""
    stop, done = threading.Event(), threading.Event()

    def watch():
        while not done.wait(interval):
            try:
                if stopped():
                    stop.set()
                    return
            except Exception:  # noqa: BLE001 - the server went away: nobody wants the result
                stop.set()
                return

    threading.Thread(target=watch, name="workbench-job-stop-watch", daemon=True).start()
    return stop, done


def probe(args: dict, progress, stop: threading.Event) -> dict:
    """``steps`` steps of ``seconds`` each (``busy``: computing, not sleeping), an event after each;
    ``fail_at``: raise at that step. Returns its ``tag`` and ``size`` copies of ``value``."""
    steps, seconds = int(args.get("steps", 3)), float(args.get("seconds", 0.0))
    progress({"step": 0, "of": steps, "pid": os.getpid()})
    done = 0
    for step in range(1, steps + 1):
        if args.get("busy"):
            end = time.perf_counter() + seconds
            while time.perf_counter() < end and not stop.is_set():
                pass
        elif seconds:
            stop.wait(seconds)
        if stop.is_set():
            break
        if args.get("fail_at") == step:
            raise RuntimeError(args.get("message") or f"the probe failed at step {step}")
        done = step
        progress({"step": step, "of": steps, "pid": os.getpid()})
    return {"tag": args.get("tag"), "steps": done, "stopped": stop.is_set(), "pid": os.getpid(),
            "values": np.full(int(args.get("size", 4)), float(args.get("value", 0.0)), np.float32)}

"""A job: one long piece of work a student asked for (a training run, an experiment, an
explanation grid), owned by the student's session, with the resources it needs, its status, the
progress it streamed and its result or error. The queue (workbench.jobs.queue) owns and updates
jobs; a page only reads them and asks for `stop`."""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ENDED = (DONE, FAILED, CANCELLED)


@dataclass(frozen=True)
class Resources:
    """What one job takes: CPUs and a fraction of a GPU (Ray's num_cpus / num_gpus), and a memory
    estimate in MiB (Ray's memory resource; the local executor only reports it)."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory_mb: int | None = None

    @classmethod
    def from_env(cls) -> "Resources":
        """What a job asks for unless its page says otherwise: WORKBENCH_JOB_CPUS (1),
        WORKBENCH_JOB_GPUS (0; 0.25 lets four jobs share a GPU), WORKBENCH_JOB_MEMORY_MB (none)."""
        env = os.environ.get
        memory = env("WORKBENCH_JOB_MEMORY_MB")
        return cls(float(env("WORKBENCH_JOB_CPUS", "1")), float(env("WORKBENCH_JOB_GPUS", "0")),
                   int(memory) if memory else None)


class JobFailed(RuntimeError):
    """A job that raised or whose worker died: its message, for the owner (no traceback)."""


def error_message(exc: BaseException) -> str:
    """One sentence for a student: the exception's own message (a KeyError's without quotes)."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


@dataclass(eq=False)
class Job:
    kind: str  # a registered job kind (workbench.jobs.kinds)
    owner: str  # the student's session id
    args: dict  # JSON, arrays and bytes (workbench.jobs.payload)
    resources: Resources = field(default_factory=Resources)
    label: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: str = QUEUED
    events: list[dict] = field(default_factory=list)  # progress as the worker streamed it, oldest first
    result: dict | None = None  # unpacked: JSON values, numpy arrays, bytes
    error: str | None = None  # why it failed or was cancelled
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    worker_seconds: float | None = None  # the run time the worker itself measured
    worker: str | None = None  # where it ran (a pid, a Ray node)
    stop_event: threading.Event = field(default_factory=threading.Event)  # Stop was asked for
    done_event: threading.Event = field(default_factory=threading.Event)  # it has ended, however
    _packed: tuple | None = field(default=None, repr=False)  # (function, JSON, arrays) until it starts

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def progress(self) -> dict | None:
        """The latest progress event, or None before the first."""
        return self.events[-1] if self.events else None

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job has ended (done, failed or cancelled)."""
        return self.done_event.wait(timeout)

    def summary(self, position: int | None = None) -> dict:
        """Plain JSON for the instructor's view (`workbench jobs --json`)."""
        now = time.time()
        return {"id": self.id, "kind": self.kind, "owner": self.owner, "label": self.label, "status": self.status,
                "position": position, "progress": self.progress, "error": self.error,
                "resources": {"cpus": self.resources.cpus, "gpus": self.resources.gpus,
                              "memory_mb": self.resources.memory_mb},
                "wait_s": round((self.started or now) - self.submitted, 3),
                "run_s": None if self.started is None else round((self.finished or now) - self.started, 3),
                "worker": self.worker}

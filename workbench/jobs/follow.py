"""What a page holds while its job waits in the queue and runs: ``QueuedJob`` follows one job as the
old in-process threads were followed (``start``, ``stop``, ``running``, ``wait``, ``result`` /
``error``) and adds ``status``, ``position`` and ``events`` (the progress the worker streamed).

A kind's follower subclasses it and turns the job's plain result (JSON, arrays, bytes) back into
what its page shows, in ``convert``; that runs once, in the first script run that sees the job
done, and ``on_done(converted)`` is called then. Every look at ``running`` tells the queue that the
owner's session is still there, so a closed tab's jobs are cancelled and an open one's are not.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from workbench.jobs.job import CANCELLED, DONE, QUEUED, JobFailed, Resources


class QueuedJob:
    kind: str = ""  # the job kind (workbench.jobs.kinds) a subclass submits, unless given

    def __init__(self, args: dict, *, owner: str, label: str = "", kind: str | None = None,
                 on_done: Callable[[Any], None] | None = None, queue=None, resources: Resources | None = None):
        self.args, self.owner, self.label = args, owner, label
        self.kind = kind or self.kind
        self._queue, self._resources, self._on_done = queue, resources, on_done
        self.result: Any = None
        self.error: Exception | None = None
        self.job = None
        self._collected = threading.Lock()

    def convert(self, result: dict) -> Any:
        """The job's result as the page uses it (by default as it came)."""
        return result

    @property
    def queue(self):
        if self._queue is None:
            from workbench.jobs.queue import server_queue

            self._queue = server_queue()
        return self._queue

    def start(self):
        self.job = self.queue.submit(self.kind, self.args, self.owner, self._resources, self.label)
        self.args = None  # the queue holds the packed arguments now
        return self

    @property
    def stop_event(self) -> threading.Event:
        return self.job.stop_event

    def stop(self) -> None:
        self.queue.stop(self.job)

    @property
    def status(self) -> str:
        return self.job.status

    @property
    def position(self) -> int | None:
        """1 for the next job to start, ...; None once it has started."""
        return self.queue.position(self.job) if self.job.status == QUEUED else None

    @property
    def stopped_before_start(self) -> bool:
        """Stop was pressed while the job waited in the queue: it was cancelled and nothing ran."""
        return self.job.status == CANCELLED and self.job.started is None

    @property
    def events(self) -> list[dict]:
        return list(self.job.events)

    @property
    def progress(self) -> dict | None:
        return self.job.progress

    @property
    def running(self) -> bool:
        self.queue.touch(self.owner)
        if not self.job.ended:
            return True
        self._collect()
        return False

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job has ended (done, stopped, failed or cancelled)."""
        ended = self.job.wait(timeout)
        if ended:
            self._collect()
        return ended

    def _collect(self) -> None:
        with self._collected:
            if self.result is not None or self.error is not None:
                return
            if self.job.status != DONE:
                what = "was cancelled" if self.job.status == CANCELLED else "failed"
                self.error = JobFailed(self.job.error or f"the {self.label or self.kind} job {what}")
                return
            try:
                self.result = self.convert(self.job.result)
            except Exception as exc:  # noqa: BLE001 - shown to the owner like a failed job
                self.error = exc
                return
            self.job.result = None  # the session holds the result now; the queue's copy is dropped
        if self._on_done is not None:
            self._on_done(self.result)

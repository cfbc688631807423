"""The fair queue in front of an executor: one per server (``server_queue``), shared by every
student's session.

Order: round robin by owner. When a slot frees, the waiting job that starts is the one whose owner
has had the fewest jobs started so far (ties: the earliest submitted), among owners below the
per-owner limit of running jobs (one by default); so one student who submits ten jobs never
delays the others' first. A scheduler thread drains the executor's progress events into the jobs,
finishes jobs whose futures are done, cancels the jobs of sessions that stopped polling, and
starts what the slots allow. It never calls Streamlit: pages read their jobs and `touch` them.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

from workbench.jobs import kinds, payload
from workbench.jobs.executors import make_executor
from workbench.jobs.job import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Job, Resources

KILL_GRACE_S = 5.0  # a cancelled running job that has not ended by then has its worker ended
KEEP_ENDED = 200  # ended jobs the queue remembers for the instructor's view


class JobQueue:
    def __init__(self, executor=None, *, concurrency: int | None = None, per_owner: int = 1,
                 idle_timeout: float = 120.0, status_file: Path | None = None, interval: float = 0.05):
        self.executor = executor if executor is not None else make_executor()
        self.concurrency = concurrency or self.executor.slots
        self.per_owner, self.idle_timeout, self.interval = per_owner, idle_timeout, interval
        self.status_file = status_file
        self.starts: list[tuple[float, str, str]] = []  # (time, job id, owner), in start order
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._pending: list[Job] = []  # submission order
        self._running: dict[str, object] = {}  # job id -> future
        self._seq = itertools.count()
        self._order: dict[str, int] = {}
        self._started = Counter()  # owner -> jobs started
        self._seen: dict[str, float] = {}  # owner -> last poll
        self._kill_at: dict[str, float] = {}
        self._cancel_reason: dict[str, str] = {}
        self._closed = threading.Event()
        self._written = 0.0
        self._thread = threading.Thread(target=self._loop, name="workbench-job-queue", daemon=True)
        self._thread.start()

    # -- what pages and the CLI call ------------------------------------------------------------
    def submit(self, kind: str, args: dict, owner: str, resources: Resources | None = None, label: str = "") -> Job:
        function = kinds.function_of(kind)
        doc, blob = payload.pack(args)  # checked now: what cannot travel fails in the page, not the worker
        job = Job(kind, owner, args, resources or Resources.from_env(), label)
        job._packed = (function, doc, blob)
        with self._lock:
            self._jobs[job.id] = job
            self._order[job.id] = next(self._seq)
            self._pending.append(job)
            self._seen[owner] = time.time()
        return job

    def touch(self, owner: str) -> None:
        """The owner's session is still there (each poll of a page counts)."""
        self._seen[owner] = time.time()

    def stop(self, job: Job) -> None:
        """Stop as the student asks: a waiting job is cancelled, a running one is told to stop and
        hands on what it has (a training run: what it learned so far)."""
        job.stop_event.set()
        with self._lock:
            if job.status == QUEUED:
                self._cancel_waiting(job, "stopped before it started")
            elif job.status == RUNNING:
                self.executor.stop(job.id)

    def cancel(self, job: Job, reason: str = "cancelled") -> None:
        """End a job and drop whatever it would have handed on."""
        with self._lock:
            if job.status == QUEUED:
                self._cancel_waiting(job, reason)
            elif job.status == RUNNING:
                self._cancel_reason[job.id] = reason
                job.stop_event.set()
                self.executor.stop(job.id)
                self._kill_at[job.id] = time.time() + KILL_GRACE_S

    def position(self, job: Job) -> int | None:
        """1 for the next job to start, ... ; None once it has started."""
        return self.positions().get(job.id)

    def positions(self) -> dict[str, int]:
        with self._lock:
            started, waiting, order = Counter(self._started), list(self._pending), {}
            while waiting:
                job = min(waiting, key=lambda j: (started[j.owner], self._order[j.id]))
                waiting.remove(job)
                started[job.owner] += 1
                order[job.id] = len(order) + 1
            return order

    def jobs(self, owner: str | None = None) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if owner is None or j.owner == owner]

    def snapshot(self) -> dict:
        """The instructor's view: the queue in order, every student's jobs, what the workers use."""
        with self._lock:
            positions = self.positions()
            jobs = [j.summary(positions.get(j.id)) for j in self._jobs.values()]
            running = [self._jobs[i] for i in self._running]
        students: dict[str, list] = {}
        for j in jobs:
            students.setdefault(j["owner"], []).append(j["id"])
        return {"executor": self.executor.name, "concurrency": self.concurrency, "per_owner": self.per_owner,
                "idle_timeout_s": self.idle_timeout, "pid": os.getpid(), "written": time.time(),
                "queue": sorted((j for j in jobs if j["status"] == QUEUED), key=lambda j: j["position"]),
                "running": [j for j in jobs if j["status"] == RUNNING],
                "students": students, "counts": dict(Counter(j["status"] for j in jobs)),
                "resources": {"cpus": sum(j.resources.cpus for j in running),
                              "gpus": sum(j.resources.gpus for j in running),
                              "memory_mb": sum(j.resources.memory_mb or 0 for j in running)},
                "workers": self.executor.workers(), "caches": _cache_stats()}

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        with self._lock:
            for job in list(self._pending):
                self._cancel_waiting(job, "the server stopped")
        self.executor.close()
        if self.status_file is not None:
            self.status_file.unlink(missing_ok=True)

    # -- the scheduler --------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._closed.wait(self.interval):
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - the queue must go on; the instructor sees it
                self.last_error = f"{type(exc).__name__}: {exc}"

    def tick(self) -> None:
        with self._lock:
            done = [i for i, f in self._running.items() if f.done()]
            self._take_events()  # after the check: a done job's last events are in by now
            for job_id in done:
                self._finish(self._jobs[job_id], self._running.pop(job_id))
            self._reap_idle()
            self._kill_overdue()
            self._schedule()
        self._write_status()

    def _take_events(self) -> None:
        for job_id, event in self.executor.events():
            job = self._jobs.get(job_id)
            if job is not None:
                job.events.append(event)
                if job.worker is None and "pid" in event:
                    job.worker = f"pid {event['pid']}"

    def _schedule(self) -> None:
        while len(self._running) < self.concurrency:
            running = Counter(self._jobs[i].owner for i in self._running)
            ready = [j for j in self._pending if running[j.owner] < self.per_owner]
            if not ready:
                return
            job = min(ready, key=lambda j: (self._started[j.owner], self._order[j.id]))
            self._pending.remove(job)
            self._started[job.owner] += 1
            job.status, job.started = RUNNING, time.time()
            self.starts.append((job.started, job.id, job.owner))
            function, doc, blob = job._packed
            try:
                self._running[job.id] = self.executor.start(job, function, doc, blob)
            except Exception as exc:  # noqa: BLE001 - e.g. the pool is gone: this job fails, the rest wait
                self._end(job, FAILED, f"could not start: {exc}")
            if job.stop_event.is_set():  # stopped between the page's click and now
                self.executor.stop(job.id)

    def _finish(self, job: Job, future) -> None:
        reason = self._cancel_reason.pop(job.id, None)
        self._kill_at.pop(job.id, None)
        if reason is not None:
            return self._end(job, CANCELLED, reason)
        if future.cancelled():
            return self._end(job, CANCELLED, "cancelled")
        exc = future.exception()
        if exc is not None:  # the worker itself failed: it died, or the executor lost it
            return self._end(job, FAILED, f"its worker stopped before the job ended ({_describe(exc)})")
        status, out, blob, seconds = future.result()
        job.worker_seconds = seconds
        if status == DONE:
            try:
                job.result = payload.unpack(out, blob)
            except Exception as exc:  # noqa: BLE001 - a result that does not unpack is no result
                return self._end(job, FAILED, f"its result could not be read ({exc})")
            return self._end(job, DONE)
        self._end(job, FAILED, out)

    def _end(self, job: Job, status: str, error: str | None = None) -> None:
        job.status, job.error, job.finished = status, error, time.time()
        job._packed = None  # its arguments are no longer needed here
        job.done_event.set()
        ended = [j for j in self._jobs.values() if j.ended]
        for old in ended[:-KEEP_ENDED]:
            del self._jobs[old.id]

    def _cancel_waiting(self, job: Job, reason: str) -> None:
        if job in self._pending:
            self._pending.remove(job)
            self._end(job, CANCELLED, reason)

    def _reap_idle(self) -> None:
        now = time.time()
        for job in [j for j in self._jobs.values() if not j.ended]:
            if now - self._seen.get(job.owner, now) > self.idle_timeout and job.id not in self._cancel_reason:
                self.cancel(job, f"its session stopped asking for it for {self.idle_timeout:g} s (a closed tab?)")

    def _kill_overdue(self) -> None:
        now = time.time()
        for job_id, when in list(self._kill_at.items()):
            if now > when and job_id in self._running:
                self.executor.kill(job_id, self._running[job_id])
                self._kill_at[job_id] = now + KILL_GRACE_S  # again later if the kill did not take

    def _write_status(self) -> None:
        if self.status_file is None or time.time() - self._written < 1.0:
            return
        self._written = time.time()
        try:
            self.status_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.status_file.with_suffix(".tmp")
            tmp.write_text(payload.to_json(self.snapshot()))
            tmp.replace(self.status_file)
        except OSError:
            pass


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "exitcode", None)
    return f"exit code {code}" if code is not None else (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _cache_stats() -> dict:
    from workbench.jobs import cache

    return cache.stats()


def round_robin_violations(jobs: list[Job]) -> int:
    """Jobs that started while another owner had an earlier-submitted job still waiting and fewer
    jobs started (the benchmark's measure of fairness, from the jobs' own times)."""
    started = sorted((j for j in jobs if j.started is not None), key=lambda j: j.started)
    count, seen = 0, Counter()
    for job in started:
        for other in jobs:
            if (other.owner != job.owner and other.submitted < job.submitted and other.started is not None
                    and other.started > job.started and seen[other.owner] < seen[job.owner]):
                count += 1
                break
        seen[job.owner] += 1
    return count


# -- the server's queue -----------------------------------------------------------------------
_SERVER: JobQueue | None = None
_SERVER_LOCK = threading.Lock()


def status_dir() -> Path:
    from workbench.data import cache_dir

    return cache_dir() / "jobs"


def server_queue() -> JobQueue:
    """The one queue of this server process, configured from the environment:
    WORKBENCH_RAY_ADDRESS / WORKBENCH_EXECUTOR (workbench.jobs.executors.make_executor),
    WORKBENCH_JOBS (concurrent jobs; cores - 1 by default, local), WORKBENCH_JOBS_PER_STUDENT (1),
    WORKBENCH_IDLE_CANCEL_S (120: a session silent that long has its jobs cancelled),
    WORKBENCH_WARM (backends a local worker imports at start: "all", or names)."""
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None:
            env = os.environ.get
            slots = int(env("WORKBENCH_JOBS", "0")) or None
            name = env("WORKBENCH_EXECUTOR") or ("ray" if env("WORKBENCH_RAY_ADDRESS") else "local")
            options = {"slots": slots}
            if name == "local":
                options["warm"] = tuple(w for w in env("WORKBENCH_WARM", "").split(",") if w)
            _SERVER = JobQueue(make_executor(name, **options), per_owner=int(env("WORKBENCH_JOBS_PER_STUDENT", "1")),
                               idle_timeout=float(env("WORKBENCH_IDLE_CANCEL_S", "120")),
                               status_file=status_dir() / f"{os.getpid()}.json")
            atexit.register(_SERVER.close)
        return _SERVER


def set_server_queue(queue: JobQueue | None) -> JobQueue | None:
    """Replace this process's queue (tests; an embedding application); returns the one it replaced."""
    global _SERVER
    with _SERVER_LOCK:
        old, _SERVER = _SERVER, queue
    return old


def read_status() -> list[dict]:
    """The status every running server on this machine last wrote (`workbench jobs`)."""
    out = []
    for path in sorted(status_dir().glob("*.json")):
        try:
            pid = int(path.stem)
            os.kill(pid, 0)  # raises if that server is gone
            out.append(json.loads(path.read_text()))
        except (ValueError, ProcessLookupError, PermissionError, OSError, json.JSONDecodeError):
            continue
    return out

"""Where jobs run. Every executor starts a job's kind in a worker and hands back a
concurrent.futures.Future of ``kinds.execute``'s (status, JSON, arrays, seconds); progress and Stop
travel through a *board* each executor provides (``report``, ``stop_event``, ``release`` on the
worker's side; ``events``, ``stop`` on the server's).

- ``local`` (the default): a pool of worker processes (pebble's ProcessPool, spawned, so no
  framework state is forked), as many as the cores by default, each nice'd (the pages' server
  process goes first when it needs a core) and with one framework thread; a worker that dies fails
  only its own job and is replaced.
- ``ray``: Ray tasks on an existing cluster (``WORKBENCH_RAY_ADDRESS``: ``auto`` or
  ``ray://host:port``; ``local`` starts one for this process alone), with num_cpus / num_gpus (fractions
  allowed) and no retries, so that a job whose worker died is reported rather than run twice.
- ``thread``: threads of the server process; for a machine where processes cannot be spawned, and
  for tests that patch a backend in this process.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue as queues
import sys
import threading
import time
import types
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.managers import SyncManager

from workbench.jobs import kinds

# Set in every worker before a framework is imported there: TensorFlow then takes GPU memory as it
# needs it instead of all of it, so that jobs holding a fraction of one GPU can share it (ray
# issues 40049, 17362); PyTorch allocates lazily already.
WORKER_ENV = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "TF_CPP_MIN_LOG_LEVEL": "2"}
NICENESS = 10  # workers yield the CPU to the server process, whose pages must stay responsive


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _drain(q) -> list[tuple[str, dict]]:
    out = []
    while True:
        try:
            job_id, doc = q.get_nowait()
        except (queues.Empty, EOFError, OSError):
            return out
        out.append((job_id, json.loads(doc)))


# -- threads ----------------------------------------------------------------------------------
class _ThreadBoard:
    def __init__(self):
        self.queue: queues.Queue = queues.Queue()
        self.stops: dict[str, threading.Event] = {}

    def report(self, job_id: str, doc: str) -> None:
        self.queue.put((job_id, doc))

    def stop_event(self, job_id: str) -> threading.Event:
        return self.stops[job_id]  # the job's own Event: Stop reaches the work with no polling

    def release(self, job_id: str) -> None:
        self.stops.pop(job_id, None)


class ThreadExecutor:
    name = "thread"

    def __init__(self, slots: int | None = None):
        self.slots = slots or cores()
        self.board = _ThreadBoard()
        self._pool = ThreadPoolExecutor(self.slots, thread_name_prefix="workbench-job")

    def start(self, job, function: str, doc: str, blob: bytes) -> Future:
        self.board.stops[job.id] = job.stop_event
        return self._pool.submit(kinds.execute, function, doc, blob, job.id, self.board)

    def events(self):
        return _drain(self.board.queue)

    def stop(self, job_id: str) -> None:
        event = self.board.stops.get(job_id)
        if event is not None:
            event.set()

    def kill(self, job_id: str, future: Future) -> bool:
        return False  # a thread cannot be killed: it ends at its next stop check

    def workers(self) -> list[dict]:
        return [{"pid": os.getpid(), "kind": "thread", "rss_mb": rss_mb(os.getpid())}]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# -- worker processes -------------------------------------------------------------------------
class _ProcessBoard:
    """Proxies of a multiprocessing manager's queue (events) and dict (stopped jobs): picklable, so
    each job's call carries it to whichever worker runs it."""

    def __init__(self, queue, stops):
        self.queue, self.stops = queue, stops
        self._watches: dict[str, threading.Event] = {}

    def __getstate__(self):
        return {"queue": self.queue, "stops": self.stops}

    def __setstate__(self, state):
        self.__init__(state["queue"], state["stops"])

    def report(self, job_id: str, doc: str) -> None:
        self.queue.put((job_id, doc))

    def stop_event(self, job_id: str) -> threading.Event:
        stop, self._watches[job_id] = kinds.watched(lambda: job_id in self.stops)
        return stop

    def release(self, job_id: str) -> None:
        done = self._watches.pop(job_id, None)
        if done is not None:
            done.set()


class _SpawnProcess(multiprocessing.context.SpawnProcess):
    """A spawned process that does not import the parent's ``__main__``: under Streamlit that is
    the page script being run (app.py, or an AppTest's function), which spawn would otherwise run
    again in every worker."""

    @staticmethod
    def _Popen(process_obj):
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = _PLAIN_MAIN
        try:
            return multiprocessing.context.SpawnProcess._Popen(process_obj)
        finally:
            if sys.modules.get("__main__") is _PLAIN_MAIN:
                sys.modules["__main__"] = main


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _SpawnProcess


_PLAIN_MAIN = types.ModuleType("__main__")


def _exit_with_parent() -> None:
    """End this process when the server that started it is gone (even killed, when nothing closes
    the pool): a worker or the manager must not outlive it, training for nobody."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="workbench-parent-watch", daemon=True).start()


def _init_worker(threads: int, niceness: int, warm: tuple[str, ...]) -> None:
    """Each worker process, once: its threads, its priority below the pages', and (optionally)
    the frameworks imported now rather than by the first student's job."""
    _exit_with_parent()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = str(threads)
    os.environ.update(WORKER_ENV)
    if niceness:
        os.nice(niceness)
    if warm:
        from workbench.registry import get_registry

        backends = get_registry().backends()
        for name in backends if "all" in warm else warm:
            if name in backends:
                backends[name].device()  # imports the framework


class LocalExecutor:
    name = "local"

    def __init__(self, slots: int | None = None, threads: int | None = None, niceness: int = NICENESS,
                 warm: tuple[str, ...] = ()):
        from pebble import ProcessPool

        # one worker per core: they are nice'd, so the server's pages still render at once while
        # every worker is busy (bench jobs' light_page_p95_s measures it)
        self.slots = slots or cores()
        self.threads = threads or max(1, (cores() - 1) // self.slots)
        context = _SpawnContext()
        self._manager = SyncManager(ctx=context)
        self._manager.start(_exit_with_parent)
        self.board = _ProcessBoard(self._manager.Queue(), self._manager.dict())
        self._pool = ProcessPool(max_workers=self.slots, context=context, initializer=_init_worker,
                                 initargs=(self.threads, niceness, tuple(warm)))

    def start(self, job, function: str, doc: str, blob: bytes) -> Future:
        return self._pool.schedule(kinds.execute, args=(function, doc, blob, job.id, self.board))

    def events(self):
        return _drain(self.board.queue)

    def stop(self, job_id: str) -> None:
        self.board.stops[job_id] = True

    def kill(self, job_id: str, future: Future) -> bool:
        return future.cancel()  # pebble ends the worker running it and starts another

    def workers(self) -> list[dict]:
        manager = getattr(self._pool, "_pool_manager", None)
        procs = getattr(getattr(manager, "worker_manager", None), "workers", {}) or {}
        return [{"pid": pid, "kind": "process", "rss_mb": rss_mb(pid)} for pid in list(procs)]

    def close(self) -> None:
        self._pool.stop()
        self._pool.join(10)
        self._manager.shutdown()


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MiB (Linux /proc), or None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


# -- Ray --------------------------------------------------------------------------------------
class _RayBoard:
    """A handle of the board actor (events in, Stop out); picklable, as Ray passes it to tasks."""

    def __init__(self, actor):
        self.actor = actor
        self._watches: dict[str, threading.Event] = {}

    def __getstate__(self):
        return {"actor": self.actor}

    def __setstate__(self, state):
        self.__init__(state["actor"])

    def report(self, job_id: str, doc: str) -> None:
        self.actor.report.remote(job_id, doc)

    def stop_event(self, job_id: str) -> threading.Event:
        import ray

        stop, self._watches[job_id] = kinds.watched(lambda: ray.get(self.actor.stopped.remote(job_id)))
        return stop

    def release(self, job_id: str) -> None:
        import ray

        done = self._watches.pop(job_id, None)
        if done is not None:
            done.set()
        ray.get(self.actor.ping.remote())  # its reports have reached the board before the result does


class _Board:
    def __init__(self):
        self.pending: list = []
        self.stops: set = set()

    def report(self, job_id, doc):
        self.pending.append((job_id, doc))

    def drain(self):
        out, self.pending = self.pending, []
        return out

    def stop(self, job_id):
        self.stops.add(job_id)

    def stopped(self, job_id):
        return job_id in self.stops

    def ping(self):
        return True


_niced = False


def _ray_execute(function, doc, blob, job_id, board):
    global _niced
    os.environ.update(WORKER_ENV)
    if not _niced:  # once per Ray worker process, which runs many tasks
        os.nice(NICENESS)
        _niced = True
    return kinds.execute(function, doc, blob, job_id, board)


class RayExecutor:
    name = "ray"

    def __init__(self, address: str = "auto", slots: int | None = None, **init):
        import ray

        if not ray.is_initialized():
            init.setdefault("runtime_env", {"env_vars": dict(WORKER_ENV)})
            init.setdefault("log_to_driver", False)
            if address == "local":  # a cluster of this machine alone, started here
                init.setdefault("include_dashboard", False)
            ray.init(address=address, **init)
        self._ray = ray
        self.board = _RayBoard(ray.remote(num_cpus=0)(_Board).remote())
        self._task = ray.remote(max_retries=0)(_ray_execute)
        self.slots = slots or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._refs: dict[str, object] = {}

    def start(self, job, function: str, doc: str, blob: bytes) -> Future:
        options = {"num_cpus": job.resources.cpus, "num_gpus": job.resources.gpus}
        if job.resources.memory_mb:
            options["memory"] = int(job.resources.memory_mb * 2**20)
        ref = self._task.options(**options).remote(function, doc, blob, job.id, self.board)
        self._refs[job.id] = ref
        future = ref.future()
        future.add_done_callback(lambda _: self._refs.pop(job.id, None))
        return future

    def events(self):
        return [(job_id, json.loads(doc))
                for job_id, doc in self._ray.get(self.board.actor.drain.remote())]

    def stop(self, job_id: str) -> None:
        self.board.actor.stop.remote(job_id)

    def kill(self, job_id: str, future: Future) -> bool:
        ref = self._refs.get(job_id)
        if ref is None:
            return False
        self._ray.cancel(ref, force=True)
        return True

    def workers(self) -> list[dict]:
        total, free = self._ray.cluster_resources(), self._ray.available_resources()
        return [{"kind": "ray", "nodes": len(self._ray.nodes()),
                 **{k: {"total": total.get(k, 0), "free": free.get(k, 0)} for k in ("CPU", "GPU", "memory")}}]

    def close(self) -> None:
        self._ray.kill(self.board.actor)


def make_executor(name: str | None = None, **options):
    """The executor the environment asks for: WORKBENCH_RAY_ADDRESS set -> ray; WORKBENCH_EXECUTOR
    (local, thread, ray) otherwise; local by default."""
    address = os.environ.get("WORKBENCH_RAY_ADDRESS")
    name = name or os.environ.get("WORKBENCH_EXECUTOR") or ("ray" if address else "local")
    if name == "ray":
        return RayExecutor(address or "local", **options)
    if name == "thread":
        return ThreadExecutor(**options)
    if name == "local":
        return LocalExecutor(**options)
    raise ValueError(f"no job executor {name!r}: local, ray or thread")

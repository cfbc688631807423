"""`workbench bench jobs --json`: a class at once through the job queue. 29 students press Train
once and one student submits 10 runs, all small training runs, through the local executor (worker
processes) and through a Ray cluster of the same cores started here; meanwhile light lessons are
rendered again and again in fresh AppTest sessions, as students opening pages would.

Reported per executor: jobs completed, wall time, queue wait (min / median / max) and run time
(median), results delivered to the wrong owner (`crossed`), round-robin violations (the issue's
definition, workbench.jobs.queue.round_robin_violations), and the executor's overhead per job: the
run time the queue saw minus the time the work took inside the worker (Ray's is
``ray_overhead_per_job_s``). Workers are warmed up first (one run per slot), as a server does at
start; the first render of each lesson is also done before timing."""

from __future__ import annotations

import functools
import json
import statistics
import threading
import time

from workbench.backend import TrainConfig
from workbench.jobs.executors import cores, make_executor
from workbench.jobs.queue import JobQueue, round_robin_violations
from workbench.jobs.train import spec_json
from workbench.runs import RunSpec

LIGHT = ("home", "convolution", "shape_calculator", "gallery")


def add_parser(sub):
    p = sub.add_parser("jobs", help="a class at once through the job queue: local workers vs Ray, fairness, pages")
    p.add_argument("--students", type=int, default=30, help="students, one of them busy")
    p.add_argument("--busy-jobs", type=int, default=10, help="runs the busy student submits")
    p.add_argument("--dataset", default="shapes")
    p.add_argument("--arch", default="mnist-cnn")
    p.add_argument("--backend", default="pytorch")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--limit", type=int, default=120, help="training images per run")
    p.add_argument("--cores", type=int, default=None, help="workers (and Ray CPUs); all cores by default")
    p.add_argument("--executors", default="local,ray")
    p.add_argument("--no-pages", action="store_true", help="do not render light lessons meanwhile")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _render(lesson: str) -> None:
    import importlib

    importlib.import_module(f"workbench_pages.{lesson}").render()


def session(lesson: str):
    """A fresh AppTest session of a lesson, as a student opening it gets one from the server.

    A server scans the installed packages for Streamlit components once, when it starts; AppTest
    scans them again for every new AppTest (~1,600 metadata files, most of a light page's time on a
    busy disk), so the sessions here share one scan, made once, as a server's do."""
    from streamlit.testing.v1 import AppTest

    return share_component_scan(AppTest.from_function(_render, args=(lesson,), default_timeout=120))


def share_component_scan(at):
    """``at`` with the process's one scan of installed Streamlit components (made on first use)."""
    if hasattr(at, "_bidi_component_manager"):  # Streamlit >= 1.51; older ones do not scan
        at._bidi_component_manager = _components()
    return at


@functools.lru_cache(maxsize=1)
def _components():
    from streamlit.components.v2.component_manager import BidiComponentManager

    manager = BidiComponentManager()
    manager.discover_and_register_components(start_file_watching=False)
    return manager


def _pages_while(busy: threading.Event, times: list[float]) -> None:
    """Fresh sessions of the light lessons, one after another, while ``busy`` is set."""
    k = 0
    while busy.is_set():
        at = session(LIGHT[k % len(LIGHT)])
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        k += 1


def _spec(args, seed: int) -> dict:
    config = TrainConfig(epochs=args.epochs, batch_size=32, optimizer="adam", learning_rate=1e-3, seed=seed)
    return spec_json(RunSpec(args.dataset, args.arch, args.backend, config, limit=args.limit))


def _class(queue: JobQueue, args) -> list:
    """The busy student's runs first, then everyone else's one, all submitted at once."""
    jobs = [queue.submit("train", {"spec": _spec(args, 1000 + k), "label": f"busy run {k}"}, "busy",
                         label=f"busy run {k}") for k in range(args.busy_jobs)]
    jobs += [queue.submit("train", {"spec": _spec(args, i), "label": f"student {i}"}, f"student {i}",
                          label=f"student {i}") for i in range(1, args.students)]
    return jobs


def _stats(jobs: list, wall: float) -> dict:
    done = [j for j in jobs if j.status == "done"]
    wait = [j.started - j.submitted for j in jobs if j.started]
    run = [j.finished - j.started for j in done]
    overhead = [j.finished - j.started - j.worker_seconds for j in done if j.worker_seconds is not None]
    # a result crossed if it is not its own job's: its label and the seed only that job was given
    crossed = sum(1 for j in done if j.result["label"] != j.label
                  or j.result["spec"]["config"]["seed"] != j.args["spec"]["config"]["seed"])
    return {"completed": len(done), "failed": len(jobs) - len(done), "wall_s": round(wall, 2),
            "wait_s": {"min": round(min(wait), 3), "median": round(statistics.median(wait), 3),
                       "max": round(max(wait), 3)},
            "run_s": {"median": round(statistics.median(run), 3)},
            "overhead_per_job_s": round(statistics.median(overhead), 4),
            "crossed": crossed, "round_robin_violations": round_robin_violations(jobs),
            "errors": sorted({j.error for j in jobs if j.error})[:3]}


def bench_executor(name: str, args, slots: int, page_times: list | None) -> dict:
    options = {"slots": slots}
    if name == "local":
        options["warm"] = (args.backend,)
    queue = JobQueue(make_executor(name, **options), idle_timeout=3600)
    try:
        warm = [queue.submit("train", {"spec": _spec(args, -1 - k), "label": "warm-up"}, f"warm {k}")
                for k in range(queue.concurrency)]
        for job in warm:
            job.wait(600)
        busy, pages = threading.Event(), None
        if page_times is not None:
            busy.set()
            pages = threading.Thread(target=_pages_while, args=(busy, page_times), daemon=True)
        t0 = time.perf_counter()
        jobs = _class(queue, args)
        if pages is not None:
            pages.start()
        for job in jobs:
            job.wait(3600)
        wall = time.perf_counter() - t0
        busy.clear()
        if pages is not None:
            pages.join(300)
        return {**_stats(jobs, wall), "workers": queue.concurrency}
    finally:
        queue.close()


def run(args) -> int:
    slots = args.cores or cores()
    names = [n.strip() for n in args.executors.split(",") if n.strip()]
    page_times: list[float] = []
    if not args.no_pages:  # the first render of each lesson imports it: a server's warm-up, not timed
        for lesson in LIGHT:
            session(lesson).run()
    result = {"jobs": args.busy_jobs + args.students - 1, "students": args.students, "cores": slots,
              "job": {"dataset": args.dataset, "arch": args.arch, "backend": args.backend, "epochs": args.epochs,
                      "images": args.limit}, "executors": {}}
    for name in names:
        if name == "ray":
            import ray

            ray.init(address="local", num_cpus=slots, include_dashboard=False, log_to_driver=False)
        try:
            result["executors"][name] = bench_executor(name, args, slots, None if args.no_pages else page_times)
        finally:
            if name == "ray":
                ray.shutdown()
    ray_result = result["executors"].get("ray")
    result["ray_overhead_per_job_s"] = ray_result["overhead_per_job_s"] if ray_result else None
    result["light_page_p95_s"] = (round(statistics.quantiles(page_times, n=20)[-1], 3)
                                  if len(page_times) >= 2 else None)
    result["light_page_renders"] = len(page_times)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, r in result["executors"].items():
            print(f"{name:6} {r['completed']}/{result['jobs']} done in {r['wall_s']} s; wait median "
                  f"{r['wait_s']['median']} s (max {r['wait_s']['max']}), run median {r['run_s']['median']} s, "
                  f"overhead {r['overhead_per_job_s']} s/job, crossed {r['crossed']}, "
                  f"round-robin violations {r['round_robin_violations']}")
        print(f"light pages while the jobs ran: p95 {result['light_page_p95_s']} s over "
              f"{result['light_page_renders']} renders")
    return 0

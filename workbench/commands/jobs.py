"""`workbench jobs [--json]`: what the servers on this machine are running for their students:
the queue in order, each student's jobs and the workers' resource use, as each server's job queue
last wrote it (workbench.jobs.queue.read_status, refreshed every second)."""

import json
import time

from workbench.jobs.queue import read_status, status_dir


def add_parser(sub):
    p = sub.add_parser("jobs", help="the job queue of the servers on this machine: queue, students, resources")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    servers = read_status()
    if args.json:
        print(json.dumps({"status_dir": str(status_dir()), "servers": servers}, indent=2))
        return 0
    if not servers:
        print(f"no server with a job queue is running (status files: {status_dir()})")
    for s in servers:
        print(f"server pid {s['pid']} ({s['executor']} executor, {s['concurrency']} at once, "
              f"{s['per_owner']} per student; {time.time() - s['written']:.0f} s ago): "
              + ", ".join(f"{n} {k}" for k, n in sorted(s["counts"].items())))
        for j in s["running"]:
            print(f"  running  {j['owner'][:8]}  {j['kind']:6} {j['label']}  {j['run_s']:.0f} s  {j['worker'] or ''}")
        for j in s["queue"]:
            print(f"  queued {j['position']:>3} {j['owner'][:8]}  {j['kind']:6} {j['label']}  waiting {j['wait_s']:.0f} s")
        r = s["resources"]
        print(f"  in use: {r['cpus']:g} CPUs, {r['gpus']:g} GPUs, ~{r['memory_mb']} MiB; workers: "
              + ", ".join(f"pid {w['pid']} {w['rss_mb']} MiB" if "pid" in w else json.dumps(w) for w in s["workers"]))
    return 0

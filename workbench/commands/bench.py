"""`workbench bench {train,explain,optimize,transfer,jobs} --json`: speed as ratios against a baseline run in the same
process; jobs: a class at once through the job queue."""

import importlib

TARGETS = ("train", "explain", "optimize", "transfer", "jobs")


def add_parser(sub):
    p = sub.add_parser("bench", help="benchmarks, as ratios against a baseline in the same process")
    targets = p.add_subparsers(dest="target", required=True)
    for name in TARGETS:
        importlib.import_module(f"workbench.commands.bench_{name}").add_parser(targets)

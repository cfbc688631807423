"""`workbench bench {train,explain,optimize,transfer,jobs} --json`: speed as ratios against a baseline run in the same
process; jobs: a class at once through the job queue."""

import importlib

TARGETS = ("train", "explain", "optimize", "transfer", "jobs")


def add_parser(sub):
    p = sub.add_parser("bench", help="benchmarks, as ratios against a baseline in the same process")
    targets = p.add_subparsers(dest="target", required=True)
    for name in TARGETS:
        importlib.import_module(f"workbench.commands.bench_{name}").add_parser(targets)


def baselines(target: str, requested: list[str] | None, what: str) -> tuple[dict, list[str]]:
    """The baselines the backends register for a target (`registry.benchmarks`) and the backends
    to measure: those asked for, else every one with a baseline; one without is refused by name."""
    from workbench import lookup
    from workbench.registry import get_registry

    found = get_registry().benchmarks(target)
    names = [lookup.backend(b).name for b in requested] if requested else sorted(found)
    missing = [name for name in names if name not in found]
    if missing:
        raise ValueError(f"no {what} registered for {', '.join(missing)}; "
                         f"backends with one: {', '.join(sorted(found)) or 'none'}")
    return found, names

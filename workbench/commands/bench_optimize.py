"""`workbench bench optimize --json`: the ten optimizers x 300 steps on rosenbrock in each
backend, seconds, against the same number of bare gradient evaluations in that framework (the
floor, registered by each backend as a Benchmark "optimize"); the first race (which compiles, in TensorFlow) is
reported apart from the best of the repeats that follow."""

from __future__ import annotations

import json

from workbench import lookup
from workbench.commands.bench_train import _timed
from workbench.optimize import race as R
from workbench.optimize.surfaces import SURFACES
from workbench.commands import bench
from workbench.training import OPTIMIZERS

GOAL_SECONDS, GOAL_RATIO = 2.0, 3.0


def add_parser(sub):
    p = sub.add_parser("optimize", help="the optimizer race vs bare gradient evaluations (seconds)")
    p.add_argument("--backend", action="append", help="only these backends (repeatable)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def bench_backend(backend, benchmark, steps: int, repeats: int) -> dict:
    surf, names = SURFACES["rosenbrock"], list(OPTIMIZERS)
    evaluations = steps * len(names)
    race = lambda: R.race(backend, surf, names, steps, surf.learning_rate)  # noqa: E731
    floor = lambda: benchmark(surf.formula, surf.start, evaluations)  # noqa: E731
    first = _timed(race)
    _timed(floor)  # warm-up (compiles in TensorFlow)
    times = {"race": [], "floor": []}
    for r in range(repeats):  # alternate, so a busy machine slows both alike
        order = [("race", race), ("floor", floor)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            times[name].append(_timed(fn))
    best = {k: min(v) for k, v in times.items()}
    return {"race_seconds": round(best["race"], 4), "floor_seconds": round(best["floor"], 4),
            "ratio": round(best["race"] / best["floor"], 3), "first_race_seconds": round(first, 3),
            "optimizers": len(names), "steps": steps, "gradient_evaluations": evaluations,
            "under_2s": best["race"] < GOAL_SECONDS, "within_3x": best["race"] / best["floor"] <= GOAL_RATIO,
            "device": backend.device()}


def run(args) -> int:
    floors, names = bench.baselines("optimize", args.backend, "optimizer floor")
    result = {"surface": "rosenbrock", "backends": {n: bench_backend(lookup.backend(n), floors[n], args.steps,
                                                                     args.repeats) for n in names}}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for n, r in result["backends"].items():
            print(f"{n:12} race {r['race_seconds']:.3f} s  floor {r['floor_seconds']:.3f} s  ratio {r['ratio']:.2f}  "
                  f"(first race {r['first_race_seconds']:.2f} s, {r['gradient_evaluations']} gradients)")
    return 0

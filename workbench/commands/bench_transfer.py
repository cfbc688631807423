"""`workbench bench transfer --json`: what the feature cache buys the transfer lesson, as ratios
measured in this process.

- The `frozen` variant (workbench.transfer.experiment, every seed) with the cache and without
  it (the head trained through the frozen base every epoch), the same spec otherwise; the runs
  alternate so a busy machine slows both alike, after a warm-up; best of the repeats.
- The head's training on the cached features: the workbench's `Backend.train` against the
  framework's plain loop on the same features, the same head and batch size (the Benchmark each
  backend registers for "train", as `workbench bench train` uses; goal: ratio >= 0.9).
"""

from __future__ import annotations

import json
from dataclasses import replace

from workbench import lookup
from workbench.commands.bench_train import _timed, bench_backend as bench_training
from workbench.commands import bench
from workbench.transfer import cache as C
from workbench.transfer.bases import base as get_base
from workbench.transfer.experiment import ExperimentSpec, prepare_base, run_experiment

GOAL_RATIO = 0.9


def add_parser(sub):
    p = sub.add_parser("transfer", help="the frozen variant with and without cached features; head training vs a "
                       "plain framework loop on them")
    p.add_argument("--backend", action="append", help="only these backends (repeatable)")
    p.add_argument("--dataset", default="faces-lfw")
    p.add_argument("--base", default=None, help="the pretrained base (default: the registered one for fine-tuning)")
    p.add_argument("--epochs", type=int, default=3, help="the frozen variant's epochs")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--limit", type=int, default=100, help="training images")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--head-epochs", type=int, default=20, help="epochs per timed run of the head alone")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def bench_frozen(spec: ExperimentSpec, dataset, repeats: int) -> dict:
    """Seconds of the frozen variant, every seed, with and without the cache (what a student waits)."""
    specs = {"cached": replace(spec, cache=True), "uncached": replace(spec, cache=False)}
    run = lambda s: run_experiment(s, dataset=dataset)  # noqa: E731
    run(specs["cached"])  # warm-up: the base's weights, kernels, tracing
    times = {k: [] for k in specs}
    for r in range(repeats):
        order = list(specs.items())
        for name, s in order if r % 2 == 0 else order[::-1]:
            times[name].append(_timed(lambda s=s: run(s)))
    best = {k: min(v) for k, v in times.items()}
    return {"cached_seconds": round(best["cached"], 3), "uncached_seconds": round(best["uncached"], 3),
            "speedup": round(best["uncached"] / best["cached"], 3)}


def bench_head(spec: ExperimentSpec, dataset, benchmark, epochs: int, repeats: int) -> dict:
    """Images per second training the head on the base's cached features: workbench vs the plain loop."""
    backend = lookup.backend(spec.backend)
    b = get_base(spec.base, spec.from_layer)
    prepared = prepare_base(spec, dataset, b)
    model = backend.build(prepared.arch, seed=0)
    features = C.Features(backend, model, prepared.splits)
    head_arch, splits = C.head_inputs(backend, model, prepared.arch, features, b.head_from)
    x, y = splits["train"]
    r = bench_training(backend, benchmark, head_arch, x, y, spec.batch_size, epochs, repeats)
    return {"workbench_ips": r["workbench_ips"], "baseline_ips": r["baseline_ips"], "ratio": r["ratio"],
            "median_ratio": r["median_ratio"], "goal": GOAL_RATIO, "meets_goal": r["ratio"] >= GOAL_RATIO,
            "feature_shape": list(x.shape[1:]), "epochs": epochs}


def run(args) -> int:
    baselines, names = bench.baselines("train", args.backend, "training baseline")
    dataset = lookup.dataset(args.dataset)
    b = get_base(args.base)
    result = {"dataset": dataset.name, "base": b.name, "epochs": args.epochs, "seeds": args.seeds,
              "images": args.limit, "batch_size": args.batch_size, "repeats": args.repeats, "backends": {}}
    for name in names:
        spec = ExperimentSpec(dataset.name, args.base, name, ("frozen",), epochs=args.epochs, seeds=args.seeds,
                              batch_size=args.batch_size, limit=args.limit)
        result["backends"][name] = {"device": lookup.backend(name).device(),
                                    "frozen": bench_frozen(spec, dataset, args.repeats),
                                    "head": bench_head(spec, dataset, baselines[name], args.head_epochs, args.repeats)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, r in result["backends"].items():
            f, h = r["frozen"], r["head"]
            print(f"{name:12} frozen: cached {f['cached_seconds']:.2f} s, uncached {f['uncached_seconds']:.2f} s "
                  f"(x{f['speedup']:.1f})  head: {h['workbench_ips']:.0f} vs {h['baseline_ips']:.0f} img/s, "
                  f"ratio {h['ratio']:.3f} (goal >= {GOAL_RATIO})  ({r['device']})")
    return 0

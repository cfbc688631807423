"""`workbench bench train --json`: images per second of the workbench's training against the
framework's plain baseline (a Benchmark each backend plugin registers for "train"), same model, data and batch size, in
this process, after a warm-up; runs alternate so a busy machine slows both alike; the
best of the repeats is reported (and the ratio of the medians beside it)."""

from __future__ import annotations

import json
import statistics
import time

from workbench import lookup
from workbench.backend import TrainConfig
from workbench.commands import bench
from workbench.training import TrainData, prepare


def add_parser(sub):
    p = sub.add_parser("train", help="training speed: workbench vs a plain framework loop (images/s)")
    p.add_argument("--backend", action="append", help="only these backends (repeatable)")
    p.add_argument("--dataset", default="mnist-5k")
    p.add_argument("--arch", default="mnist-cnn")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=1, help="epochs per timed run")
    p.add_argument("--images", type=int, default=4000, help="training images used")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_backend(backend, benchmark, arch, x, y, batch_size: int, epochs: int, repeats: int) -> dict:
    baseline = lambda m: benchmark(m, x, y, batch_size, epochs, 1e-3)  # noqa: E731
    config = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer="adam", learning_rate=1e-3)
    ours = lambda m: backend.train(m, TrainData(x, y), config)  # noqa: E731
    model_a, model_b = backend.build(arch, seed=0), backend.build(arch, seed=0)
    baseline(model_a), ours(model_b)  # warm-up: kernels, tracing, allocator
    times = {"baseline": [], "workbench": []}
    for r in range(repeats):
        order = [("baseline", baseline, model_a), ("workbench", ours, model_b)]
        for name, fn, model in order if r % 2 == 0 else order[::-1]:
            times[name].append(_timed(lambda: fn(model)))
    n = len(x) * epochs
    # Best of the repeats, timeit's convention: other work on the machine only ever adds time.
    ips = {k: n / min(v) for k, v in times.items()}
    return {"workbench_ips": round(ips["workbench"], 1), "baseline_ips": round(ips["baseline"], 1),
            "ratio": round(ips["workbench"] / ips["baseline"], 3), "device": backend.device(),
            "batch_size": batch_size, "images": len(x), "epochs": epochs, "repeats": repeats,
            "median_ratio": round(statistics.median(times["baseline"]) / statistics.median(times["workbench"]), 3)}


def run(args) -> int:
    dataset = lookup.dataset(args.dataset)
    arch, splits, _ = prepare(dataset, lookup.architecture(args.arch))
    x, y = splits["train"][0][:args.images], splits["train"][1][:args.images]
    baselines, names = bench.baselines("train", args.backend, "training baseline")
    result = {"dataset": dataset.name, "architecture": arch.name, "backends": {}}
    for name in names:
        result["backends"][name] = bench_backend(lookup.backend(name), baselines[name], arch, x, y, args.batch_size,
                                                 args.epochs, args.repeats)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, r in result["backends"].items():
            print(f"{name:12} workbench {r['workbench_ips']:9.1f} img/s  baseline {r['baseline_ips']:9.1f} img/s  "
                  f"ratio {r['ratio']:.3f}  ({r['device']})")
    return 0

"""`workbench bench explain --json`: our explainers' time as ratios against baselines measured in
the same process on the same model and inputs (medians after warm-ups), plus how closely the maps
agree. The baselines are a framework's own libraries (for PyTorch: one plain forward+backward
pass, pytorch-grad-cam, captum, lime's default path, occlusion's bare forwards), so a backend
plugin contributes them as the Benchmark it registers for "explain"."""

from __future__ import annotations

import json


def add_parser(sub):
    p = sub.add_parser("explain", help="explainer speed and agreement vs pytorch-grad-cam, captum and lime")
    p.add_argument("--model", help="a registered architecture (default: the one registered to explain)")
    p.add_argument("--backend", help="a backend with an explanation benchmark (default: the first that has one)")
    p.add_argument("--images", default="chelsea,coffee,astronaut,rocket", help="sample photos, comma-separated")
    p.add_argument("--batch", type=int, default=4, help="images per gradient batch (cycled from --images)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--lime-samples", type=int, default=1000)
    p.add_argument("--lime-repeats", type=int, default=2)
    p.add_argument("--occlusion", default="32,16", help="occlusion's window,stride in pixels")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    import os

    os.environ.setdefault("TQDM_DISABLE", "1")  # lime's per-sample bar; tqdm reads it when first imported
    from workbench import lookup, samples
    from workbench.explain.inputs import load_model, model_inputs

    try:
        window, stride = (int(v) for v in args.occlusion.split(","))
    except ValueError:
        raise ValueError(f"--occlusion must be WINDOW,STRIDE in pixels, got {args.occlusion!r}") from None
    from workbench.registry import get_registry

    registry = get_registry()
    benchmarks = registry.benchmarks("explain")
    name = lookup.backend(args.backend).name if args.backend else next(iter(sorted(benchmarks)), None)
    if name not in benchmarks:
        raise ValueError(f"no explanation benchmark registered for {name or 'any backend'}; "
                         f"backends with one: {', '.join(sorted(benchmarks)) or 'none'}")
    backend = lookup.backend(name)
    model_name = args.model or registry.with_role("explain").name
    model, arch = load_model(backend, model_name)
    names = [n.strip() for n in args.images.split(",") if n.strip()]
    photos = [samples.load(names[i % len(names)]) for i in range(args.batch)]
    x, _ = model_inputs(arch, backend.name, photos)
    targets = [int(i) for i in backend.predict(model, x).argmax(axis=1)]
    from workbench.explain.base import explain_layer

    layer = explain_layer(backend, model)
    result = benchmarks[name](backend, model, x, targets, layer, repeats=args.repeats, warmup=args.warmup,
                              lime_samples=args.lime_samples, lime_repeats=args.lime_repeats, occlusion=(window, stride))
    report = {"device": backend.device(), "backend": name, "model": model_name, "layer": layer, "batch": args.batch,
              "ratios": {k: round(v, 3) for k, v in result["ratios"].items()},
              "agreement": {k: round(v, 5) for k, v in result["agreement"].items()},
              "seconds": {k: round(v, 4) for k, v in result["seconds"].items()},
              "occlusion_windows": result["occlusion_windows"], "lime_batch": result["lime_batch"],
              "superpixels": result["superpixels"], "repeats": args.repeats, "warmup": args.warmup}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for group in ("ratios", "agreement", "seconds"):
            print(group)
            for k, v in report[group].items():
                print(f"  {k:34} {v}")
    return 0

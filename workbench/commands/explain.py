"""`workbench explain IMAGE... --model NAME --backend tensorflow|pytorch --methods a,b --out DIR --json`.

Explains each image's predicted class with each method, writes a PNG grid (methods x images) into
DIR, and prints the predictions, each method's cost and its deletion / insertion AUCs (averaged
over the images) next to a random pixel order's.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_METHODS = "feature-maps,filters,filter-patterns,max-patches,saliency,guided-backprop,grad-cam,guided-grad-cam,occlusion,lime"


def add_parser(sub):
    p = sub.add_parser("explain", help="explain a model's predictions on images with several methods")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, or sample:NAME (e.g. sample:chelsea)")
    p.add_argument("--model", help="a registered architecture, a file, or a saved model "
                                   "(default: the architecture registered to explain, a pretrained one)")
    p.add_argument("--backend", help="tensorflow or pytorch (default: the first installed)")
    p.add_argument("--methods", default=DEFAULT_METHODS, help="comma-separated explainer names")
    p.add_argument("--param", action="append", default=[], metavar="METHOD.NAME=VALUE",
                   help="a method's parameter, e.g. lime.samples=300 (repeatable)")
    p.add_argument("--steps", type=int, default=20, help="points on the deletion / insertion curves")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-order baseline")
    p.add_argument("--out", default="explanations", help="folder for the PNG grid")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench import lookup
    from workbench.explain.compare import parse_params, run_methods
    from workbench.explain.faithfulness import check_steps
    from workbench.explain.inputs import load_image, load_model, model_inputs, predictions
    from workbench.explain.render import grid_png
    from workbench.registry import get_registry

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise ValueError("--methods names no method")
    known = get_registry().explainers()
    unknown = [m for m in methods if m not in known]
    if unknown:  # say so before loading any model
        raise ValueError(f"unknown method {', '.join(unknown)}; known: {', '.join(known)}")
    params = parse_params(args.param)
    for method, given in params.items():  # wrong types and ranges, before any model is loaded
        if method not in known:
            raise ValueError(f"--param names the unknown method {method!r}; known: {', '.join(known)}")
        if method not in methods:
            raise ValueError(f"--param {method}.{next(iter(given))}=... is for a method not in --methods")
        getattr(known[method], "resolve_params", dict)(given)
    check_steps(args.steps)
    photos = [load_image(source) for source in args.images]
    backend = lookup.backend(args.backend) if args.backend else lookup.default_backend()
    args.model = args.model or get_registry().with_role("explain").name
    model, arch = load_model(backend, args.model)
    x, shown = model_inputs(arch, backend.name, photos, model)  # standardised as in training, if it was
    predicted = predictions(backend, model, arch, x)
    result = run_methods(backend, model, x, methods, params, steps=args.steps, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grid = out / "explanations.png"
    titles = [f"{Path(s).name}: {p[0]['name']}" for s, p in zip(args.images, predicted)]
    grid_png(shown, list(result["explanations"].values()), grid, titles)
    report = {"model": args.model, "backend": backend.name, "device": backend.device(),
              "images": args.images, "predictions": predicted, "methods": result["scores"],
              "random_baseline": result["random_baseline"], "grid": str(grid)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for source, top in zip(args.images, predicted):
            print(f"{source}: " + ", ".join(f"{p['name']} {p['probability']:.2f}" for p in top[:3]))
        print(f"{'method':22} {'seconds':>8} {'fwd':>6} {'bwd':>5} {'deletion':>9} {'insertion':>9}")
        rows = list(result["scores"].items()) + [("random order", {**result["random_baseline"],
                                                                    "seconds": None})]
        for name, s in rows:
            print(f"{name:22} {_fmt(s.get('seconds'), 8, 2)} {s.get('forward_passes', ''):>6} "
                  f"{s.get('backward_passes', ''):>5} {_fmt(s.get('deletion_auc'), 9, 3)} {_fmt(s.get('insertion_auc'), 9, 3)}")
        print(f"grid: {grid}")
    return 0


def _fmt(value, width, digits):
    return f"{value:{width}.{digits}f}" if isinstance(value, (int, float)) else " " * (width - 1) + "-"

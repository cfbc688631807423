"""`workbench optimize --surface NAME|"FORMULA" --optimizers a,b --backend B --steps N --lr X --json`:
the frameworks' own optimizers on a loss surface, every path from the same start; and
`workbench optimize --cnn --dataset D --arch A --optimizers ... --steps N --backend B --json`:
the same optimizers training one CNN (the same initial weights), the loss of every step."""

from __future__ import annotations

import json
import math

from workbench import lookup
from workbench.optimize import race as R
from workbench.optimize import settings as S
from workbench.optimize.surfaces import surface
from workbench.training import OPTIMIZERS


def add_parser(sub):
    p = sub.add_parser("optimize", help="optimizers race on a loss surface, or on a CNN's training loss")
    p.add_argument("--surface", default="rosenbrock",
                   help="rosenbrock, beale, himmelblau, saddle, ellipse, or a formula f(x, y) such as 'x^2 + 10 y^2'")
    p.add_argument("--optimizers", default="all", help="comma-separated: " + ", ".join(OPTIMIZERS) + " (or all)")
    p.add_argument("--backend", default="tensorflow", help="tensorflow or pytorch")
    p.add_argument("--steps", type=int, default=None, help="steps per optimizer (surface 300, CNN 50)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the surface's, or 1e-3 for a CNN)")
    p.add_argument("--start", default=None, help="x,y (default: the surface's start; --start=-1,2 for a negative x)")
    p.add_argument("--settings", default="defaults", choices=S.MODES,
                   help="defaults: each framework's own; matched: the same values given to both")
    p.add_argument("--cnn", action="store_true", help="train a CNN on --dataset with --arch instead")
    p.add_argument("--dataset", default="mnist-5k")
    p.add_argument("--arch", default="mnist-cnn")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--images", type=int, default=2000, help="training images the batches are drawn from")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _start(text):
    if text is None:
        return None
    try:
        x, y = (float(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"--start takes two numbers x,y; got {text!r}") from None
    return x, y


def _finite(values):
    return [float(v) if math.isfinite(v) else None for v in values]


def run(args) -> int:
    backend = lookup.backend(args.backend)
    names = S.names(args.optimizers)
    if args.cnn:
        return _cnn(args, backend, names)
    surf = surface(args.surface)
    steps = 300 if args.steps is None else args.steps
    lr = surf.learning_rate if args.lr is None else args.lr
    start = _start(args.start) or surf.start
    out = R.race(backend, surf, names, steps, lr, start, args.settings)
    result = {"surface": surf.name if surf.name != "formula" else surf.formula.text, "start": list(start),
              "minimum": list(surf.minimum) if surf.minimum else None,
              "paths": {n: t.points.tolist() for n, t in out.items()},
              "loss": {n: _finite(t.loss) for n, t in out.items()}}
    stopped = {n: t.stopped for n, t in out.items() if t.stopped}
    if stopped:
        result["stopped"] = stopped
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['surface']} from {start} in {backend.name}, {steps} steps, lr {lr:g} ({args.settings})")
        for n, t in out.items():
            x, y = t.points[-1]
            print(f"  {n:9} ends at ({x:.6g}, {y:.6g}), loss {t.loss[-1]:.4g}" + (f"  [{t.stopped}]" if t.stopped else ""))
    return 0


def _cnn(args, backend, names) -> int:
    from workbench.optimize.job import race_on

    steps = 50 if args.steps is None else args.steps
    # in this process, synchronously: the same function the server's "optimize-cnn" job kind runs
    out = race_on(backend.name, args.dataset, args.arch, args.images, names, steps,
                  1e-3 if args.lr is None else args.lr, args.batch_size, args.seed, args.settings)
    result = {"dataset": args.dataset, "architecture": lookup.architecture(args.arch).name, "backend": backend.name,
              "steps": steps, "batch_size": args.batch_size, "loss": {n: _finite(t.loss) for n, t in out.items()}}
    if args.json:
        print(json.dumps(result))
    else:
        for n, t in out.items():
            print(f"  {n:9} loss {t.loss[0]:.4f} -> {t.loss[-1]:.4f} after {len(t.loss)} steps")
    return 0

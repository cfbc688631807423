"""`workbench regularise dropout|standardisation|dead-relu|batchnorm|init|cnn ... --backend B --json`:
the "well-performing CNN" lesson of "CNNs part II" from the command line, the page's numbers."""

from __future__ import annotations

import json
import math

import numpy as np

from workbench import lookup
from workbench.backend import TrainConfig
from workbench.regularise import batchnorm as BN
from workbench.regularise import dropout as DR
from workbench.regularise import init as I
from workbench.regularise import setups
from workbench.regularise import standardisation as ST
from workbench.regularise.experiments import train_runs
from workbench.training import OPTIMIZERS, check_config


def add_parser(sub):
    p = sub.add_parser("regularise", aliases=["regularize"],
                       help="standardisation, dropout, batch norm and dead ReLUs, initialisation (CNNs part II)")
    what = p.add_subparsers(dest="what", required=True)

    d = _common(what.add_parser("dropout", help="E[a] of the lecture's two-input neuron: enumerated, Monte Carlo, inference"))
    for name, default in (("w0", 1.0), ("w1", 1.0), ("x", 1.0), ("y", 1.0), ("p", 0.5)):
        d.add_argument(f"--{name}", type=float, default=default)
    d.add_argument("--samples", type=int, default=10000, help="training-mode passes for the Monte-Carlo estimate")
    d.set_defaults(func=run_dropout)

    s = _training(_common(what.add_parser("standardisation", aliases=["standardization"],
                                          help="one architecture trained on raw, rescaled, global, per-channel, per-pixel input")))
    s.add_argument("--modes", default=",".join(ST.MODES), help="comma-separated, from: " + ", ".join(ST.MODES))
    s.set_defaults(func=run_standardisation)

    r = _training(_common(what.add_parser("dead-relu", help="per epoch and ReLU layer the fraction of dead units")),
                  arch="cnn1")
    r.add_argument("--batchnorm", choices=("on", "off", "as-is"), default="as-is",
                   help="a BatchNormalization before every ReLU (on), none (off), or the architecture as it is")
    r.add_argument("--init", default="default", help=", ".join(I.INITS))
    r.add_argument("--histograms", action="store_true", help="include each layer's pre-activation histogram")
    r.set_defaults(func=run_dead_relu)

    b = _common(what.add_parser("batchnorm", help="BN's two steps by hand next to the framework's layer; momentum and epsilon"))
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(func=run_batchnorm)

    i = _training(_common(what.add_parser("init", help="activation and gradient scale per layer at step 0 per initialisation")),
                  epochs=0)
    i.add_argument("--inits", default=",".join(I.INITS), help="comma-separated, from: " + ", ".join(I.INITS))
    i.set_defaults(func=run_init)

    c = _training(_common(what.add_parser("cnn", help="cnn1 vs cnn2: parameter counts, and trained side by side")), arch=None, epochs=0)
    c.set_defaults(func=run_cnn)


def _common(p):
    p.add_argument("--backend", default="tensorflow", help="tensorflow or pytorch")
    p.add_argument("--json", action="store_true")
    return p


def _training(p, arch: str | None = "cnn1", epochs: int = 5):
    if arch:  # cnn compares cnn1 with cnn2, nothing else
        p.add_argument("--arch", default=arch, help="a registered spec architecture or a .json/.yaml file")
    p.add_argument("--dataset", default="mnist-5k")
    p.add_argument("--epochs", type=int, default=epochs, help="0: no training" if not epochs else None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", default="adam", help=", ".join(OPTIMIZERS))
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--limit", type=int, default=None, help="train on the first N training images only")
    p.add_argument("--seed", type=int, default=0)
    return p


def _config(args) -> TrainConfig:
    return check_config(TrainConfig(), epochs=max(args.epochs, 1), batch_size=args.batch_size,
                        optimizer=args.optimizer, learning_rate=args.lr, seed=args.seed)


def _clean(value):
    """JSON has neither NaN nor numpy types."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _print(args, result: dict, lines: list[str]) -> int:
    print(json.dumps(_clean(result), indent=2) if args.json else "\n".join(lines))
    return 0


def _curve(history) -> str:
    return " ".join(f"{r['val_accuracy']:.3f}" if r.get("val_accuracy") is not None else "-" for r in history)


def run_dropout(args) -> int:
    result = DR.expectation(lookup.backend(args.backend), args.w0, args.w1, args.x, args.y, args.p, args.samples)
    mc = result["monte_carlo"]
    return _print(args, result, [
        f"enumerated over the four masks (no rescaling): E[a] = {result['enumerated']:.6g}",
        f"Monte Carlo, {args.samples} training-mode passes of {args.backend}'s Dropout: {mc['mean']:.6g} +- {mc['se']:.2g} (se)",
        f"inference output: {result['inference']:.6g}",
        f"the lecture's test-time scaling (1 - p)(w0 x + w1 y): {result['lecture_test_scaling']:.6g}"])


def run_standardisation(args) -> int:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    runs = setups.standardisation(args.dataset, args.arch, modes, args.limit)
    results = train_runs(lookup.backend(args.backend), runs, _config(args))
    out = {label: r.as_dict() for label, r in results.items()}
    return _print(args, out, [f"{label:12s} best val accuracy {r['best_val_accuracy']}  per epoch: {_curve(r['history'])}"
                              for label, r in out.items()])


def run_dead_relu(args) -> int:
    batchnorm = {"on": True, "off": False, "as-is": None}[args.batchnorm]
    runs = setups.dead_relu(args.dataset, args.arch, batchnorm, args.init, args.limit)
    result = train_runs(lookup.backend(args.backend), runs, _config(args))[runs[0].label].as_dict()
    epochs = []
    for probe in result.pop("probes"):
        row = {"epoch": probe["epoch"], "dead_fraction": {k: v["dead_fraction"] for k, v in probe["layers"].items()}}
        if args.histograms:
            row["histograms"] = {k: v["histogram"] for k, v in probe["layers"].items()}
        epochs.append(row)
    out = {"architecture": runs[0].arch.name, "batchnorm": args.batchnorm, "init": I.check_init(args.init),
           "lr": args.lr, "epochs": epochs, **result}
    lines = [f"epoch {e['epoch']}: " + ", ".join(f"{k} {v:.1%} dead" for k, v in e["dead_fraction"].items()) for e in epochs]
    if result.get("stopped"):
        lines.append(result["stopped"])
    return _print(args, out, lines)


def run_batchnorm(args) -> int:
    backend = lookup.backend(args.backend)
    x = np.random.default_rng(args.seed).normal(3.0, 2.0, (16, 4, 4, 3)).astype(np.float32)
    cmp = BN.compare(backend, x, args.seed)
    out = {"conventions": BN.conventions(backend),
           **{m: {k: v for k, v in cmp[m].items() if k.endswith("difference")} for m in ("training", "inference")},
           **{k: v for k, v in cmp.items() if k not in ("training", "inference")}}
    c = out["conventions"]
    return _print(args, out, [
        f"{c['class']}: momentum {c['momentum']:.4g} (framework default {c['default_momentum']}), "
        f"epsilon {c['epsilon']:g} (framework default {c['default_epsilon']})",
        *(f"{m}: max |framework - hand| = {out[m]['max_abs_difference']:.2e}; with the slide's stdev + eps: "
          f"{out[m]['slide_max_abs_difference']:.2e}" for m in ("training", "inference"))])


def run_init(args) -> int:
    backend = lookup.backend(args.backend)
    inits = [i.strip() for i in args.inits.split(",") if i.strip()]
    runs = setups.initialisation(args.dataset, args.arch, inits, args.limit)
    x, y = runs[0].splits["train"]
    out = {run.label: {"step0": I.step0(backend, I.build(backend, run.arch, run.init, args.seed), run.arch,
                                        x[:64], y[:64])} for run in runs}
    if args.epochs:
        for label, r in train_runs(backend, runs, _config(args)).items():
            out[label].update(r.as_dict())
    lines = []
    for label, r in out.items():
        lines.append(f"{label}: " + ", ".join(f"{row['layer']} std {row['activation_std']:.3g}" for row in r["step0"]))
        if "history" in r:
            lines.append(f"  val accuracy per epoch: {_curve(r['history'])}")
    return _print(args, out, lines)


def run_cnn(args) -> int:
    backend = lookup.backend(args.backend)
    out = {"parameters": setups.parameter_counts({backend.name: backend})}
    if args.epochs:
        out.update({label: r.as_dict() for label, r in
                    train_runs(backend, setups.cnn1_vs_cnn2(args.dataset, args.limit), _config(args)).items()})
    lines = [f"{r['architecture']}: calculator {r['calculator']:,}, {backend.name} {r[backend.name]:,}" for r in out["parameters"]]
    lines += [f"{k}: val accuracy per epoch {_curve(v['history'])}" for k, v in out.items() if k != "parameters"]
    return _print(args, out, lines)

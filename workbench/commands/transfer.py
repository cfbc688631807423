"""`workbench transfer --dataset D --base NAME --variants scratch,frozen,... --backend B --json`:
the transfer-learning experiment (workbench.transfer.experiment), the lesson's table as JSON."""

from __future__ import annotations

import json
import sys

from workbench.transfer.experiment import VARIANTS, ExperimentSpec, run_experiment


def add_parser(sub):
    p = sub.add_parser("transfer", help="scratch vs frozen vs fine-tuned (+ augmentation) vs features, over seeds")
    p.add_argument("--dataset", required=True, help="a registered dataset, or folder:PATH")
    p.add_argument("--base", default=None, help="a pretrained model (default: the registered one for fine-tuning, "
                   "offline) or a spec "
                   "such as vgg16 (random weights: the lecture's counts)")
    p.add_argument("--variants", default=",".join(VARIANTS), help=", ".join(VARIANTS))
    p.add_argument("--from-layer", metavar="LAYER", help="where fine-tuning unfreezes (default: the base's last block)")
    p.add_argument("--epochs", type=int, default=4, help="the budget of every variant")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--fractions", default="1", help="fractions of the training split, e.g. 0.05,0.25,1")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--scratch-arch", default="mnist-cnn", help="the CNN trained from scratch")
    p.add_argument("--limit", type=int, default=300, help="at most this many training images")
    p.add_argument("--no-cache", action="store_true", help="train the frozen head through the base every epoch")
    p.add_argument("--backend", default="pytorch", help="tensorflow or pytorch")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _fractions(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(f) for f in text.split(",") if f.strip())
    except ValueError:
        raise ValueError(f"--fractions must be numbers like 0.05,0.25,1, got {text!r}") from None


def run(args) -> int:
    spec = ExperimentSpec(args.dataset, args.base, args.backend, tuple(v.strip() for v in args.variants.split(",") if v.strip()),
                          args.from_layer, args.epochs, args.seeds, _fractions(args.fractions), args.batch_size,
                          args.scratch_arch, limit=args.limit or None, cache=not args.no_cache)
    quiet = args.json
    exp = run_experiment(spec, None if quiet else lambda label, r: print(
        f"{label}: epoch {r['epoch']} val_accuracy {r.get('val_accuracy')}", file=sys.stderr))
    if args.json:
        print(json.dumps(exp.to_json()))
        return 0
    for fraction in exp.spec.fractions:
        print(f"-- {fraction:.0%} of the training data")
        for name, row in exp.table(fraction).items():
            m = lambda k: "-" if row[k]["mean"] is None else f"{row[k]['mean']:.3f} +- {row[k]['sd']:.3f}"  # noqa: E731
            print(f"{name:13s} val_acc {m('val_accuracy')}  val_loss {m('val_loss')}  test_acc {m('test_accuracy')}  "
                  f"trainable {row['trainable_tensors']} tensors / {row['trainable_params']:,} params  "
                  f"{row['seconds']:.1f} s  [{row['learning_rates']}]")
    for note in exp.notes:
        print(note)
    return 0

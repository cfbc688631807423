"""`workbench train --dataset NAME --arch NAME_OR_FILE --backend tensorflow|pytorch --epochs N ... --json`.

Trains with the backend's own optimizer and pipeline, evaluates on the test split, and prints
the per-epoch history and the test loss, accuracy and confusion matrix (scikit-learn).
A pretrained model (the one registered to fine-tune: `workbench list architectures`) is fine-tuned: a new head for the dataset's classes, its
ImageNet normalisation applied to every split, and --from-layer to freeze what comes before.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from workbench import data as D
from workbench import lookup
from workbench.backend import TrainConfig
from workbench.training import OPTIMIZERS, TrainData, check_config, predicted, prepare


def add_parser(sub):
    p = sub.add_parser("train", help="train an architecture on a dataset with a backend")
    p.add_argument("--dataset", required=True, help="a registered dataset, or folder:PATH")
    p.add_argument("--arch", required=True, help="a registered architecture or a .json/.yaml file")
    p.add_argument("--backend", help="tensorflow or pytorch (default: the first installed)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", default="adam", help=", ".join(OPTIMIZERS))
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--augment", default="", help="KEY=VALUE,... in ImageDataGenerator's terms, or seed001")
    p.add_argument("--standardize", action="store_true", help="per-pixel standardisation (training statistics)")
    p.add_argument("--from-layer", metavar="LAYER",
                   help="freeze every layer before LAYER (transfer learning: e.g. a pretrained model's logits)")
    p.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", help="save the trained model here (safetensors / .weights.h5 + architecture)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def test_report(backend, model, x, y, num_classes: int) -> dict:
    """Test loss, accuracy and confusion matrix from the backend's probabilities."""
    from sklearn.metrics import confusion_matrix, log_loss

    probs, pred = predicted(backend, model, x)
    finite = bool(np.isfinite(probs).all())  # a diverged model predicts NaN
    labels = list(range(num_classes))
    return {
        "loss": float(log_loss(y, np.clip(probs, 1e-7, 1), labels=labels)) if finite else None,
        "accuracy": float((pred == y).mean()),
        "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist(),
    }


def _clean(value):
    """JSON has no NaN: a diverged loss is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def run(args) -> int:
    config = check_config(TrainConfig(), epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                          learning_rate=args.lr, augment=args.augment, seed=args.seed,
                          early_stopping=args.early_stopping)
    dataset = lookup.dataset(args.dataset)
    backend = lookup.backend(args.backend) if args.backend else lookup.default_backend()
    arch, splits, standardizer = prepare(dataset, lookup.architecture(args.arch), standardize=args.standardize,
                                         backend=backend.name)
    model = backend.build(arch, seed=args.seed)
    D.attach_standardizer(model, standardizer)  # saved with the model: it is fed standardised images
    if args.from_layer:
        backend.set_trainable(model, args.from_layer)

    def on_epoch(record):
        if not args.json:
            print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))

    history = backend.train(model, TrainData(*splits["train"], *splits.get("val", (None, None))), config, on_epoch)
    result = {"dataset": dataset.name, "architecture": arch.name, "backend": backend.name, "device": backend.device(),
              "history": history, "test": test_report(backend, model, *splits["test"], dataset.num_classes)}
    stopped = history[-1].get("stopped") if history else None
    if stopped:
        result["stopped"] = stopped
    if dataset.notes:
        result["notes"] = list(dataset.notes)
    if args.save:
        result["saved"] = str(backend.save(model, args.save) or args.save)
    if args.json:
        print(json.dumps(_clean(result), indent=2))
    else:
        if stopped:
            print(f"stopped: {stopped}", file=sys.stderr)
        print(f"test loss {result['test']['loss']:.4f}  accuracy {result['test']['accuracy']:.4f}")
    return 0

"""`workbench train --dataset NAME --arch NAME_OR_FILE --backend tensorflow|pytorch --epochs N ... --json`.

One run of workbench.runs (the same the Training lesson makes): trains with the backend's own
optimizer and pipeline, evaluates on the test split, and prints
the per-epoch history and the test loss, accuracy and confusion matrix (scikit-learn).
A pretrained model (the one registered to fine-tune: `workbench list architectures`) is fine-tuned: a new head for the dataset's classes, its
ImageNet normalisation applied to every split, and --from-layer to freeze what comes before.
--save is checked before training (a folder that cannot be written, a model already there without
--overwrite) and written all at once; Ctrl-C stops after the current batch and keeps the work
(exit status 130).
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading

from workbench import lookup
from workbench.backend import TrainConfig
from workbench.runs import RunSpec, run_training
from workbench.training import OPTIMIZERS, check_config
from workbench.weights import check_destination

MAX_NOTES = 10


def add_parser(sub):
    p = sub.add_parser("train", help="train an architecture on a dataset with a backend")
    p.add_argument("--dataset", required=True, help="a registered dataset, or folder:PATH")
    p.add_argument("--arch", required=True, help="a registered architecture or a .json/.yaml file")
    p.add_argument("--backend", help="tensorflow or pytorch (default: the first installed)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", default="adam", help=", ".join(OPTIMIZERS))
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--augment", default="", help="KEY=VALUE,... in ImageDataGenerator's terms, or 'slides' for the "
                   "settings of the lecture slides \"Convolutional Neural Networks (CNN)\" (rotation 40, shifts, "
                   "shear, zoom 0.2, flip)")
    p.add_argument("--standardize", action="store_true", help="per-pixel standardisation (training statistics)")
    p.add_argument("--from-layer", metavar="LAYER",
                   help="freeze every layer before LAYER (transfer learning: e.g. a pretrained model's logits)")
    p.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", help="save the trained model here (safetensors / .weights.h5 + architecture); "
                   "checked before training")
    p.add_argument("--overwrite", action="store_true", help="replace a model already saved at --save")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _clean(value):
    """JSON has no NaN: a diverged loss is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@contextlib.contextmanager
def stop_on_ctrl_c(stop: threading.Event):
    """Ctrl-C asks the run to stop after its current batch, as the lesson's Stop button does, so
    what was learned is tested, reported and saved; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("stopping after the current batch (Ctrl-C again to quit at once) ...", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(args) -> int:
    config = check_config(TrainConfig(), epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                          learning_rate=args.lr, augment=args.augment, seed=args.seed,
                          early_stopping=args.early_stopping)
    if args.save:  # before the work, not after it
        check_destination(args.save, overwrite=args.overwrite)
    backend = lookup.backend(args.backend) if args.backend else lookup.default_backend()
    spec = RunSpec(dataset=args.dataset, arch=args.arch, backend=backend.name, config=config,
                   from_layer=args.from_layer, standardize=args.standardize)

    def on_epoch(record):
        if not args.json:
            print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))

    stop = threading.Event()
    with stop_on_ctrl_c(stop):
        trained = run_training(spec, on_epoch, stop)
    result = {"dataset": trained.dataset_name, "architecture": trained.arch.name, "backend": trained.backend,
              "device": trained.device, "history": trained.history, "test": trained.test_report()}
    if trained.stopped:
        result["stopped"] = trained.stopped
    if trained.notes:
        result["notes"] = list(trained.notes)
    if args.save:  # the standardiser, when there is one, is saved beside the weights
        result["saved"] = str(lookup.backend(spec.backend).save(trained.model, args.save) or args.save)
    if args.json:
        print(json.dumps(_clean(result), indent=2))
    else:
        for note in trained.notes[:MAX_NOTES]:  # skipped images: the app shows them, so does the text
            print(f"note: {note}", file=sys.stderr)
        if len(trained.notes) > MAX_NOTES:
            print(f"note: ... and {len(trained.notes) - MAX_NOTES} more (--json lists them all)", file=sys.stderr)
        if trained.stopped:
            print(f"stopped: {trained.stopped}", file=sys.stderr)
        loss = result["test"]["loss"]
        print(f"test loss {'n/a (diverged)' if loss is None else f'{loss:.4f}'}  "
              f"accuracy {result['test']['accuracy']:.4f}")
    if args.save:
        print(f"saved: {result['saved']}", file=sys.stderr)
    return 130 if stop.is_set() else 0  # a shell sees the interruption; the work is kept all the same

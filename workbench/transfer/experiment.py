"""The transfer-learning experiment: five ways to use (or not) a pretrained base, on the same
split with the same epoch budget, each over K seeds, at one or more fractions of the training data.

- scratch: a CNN from random weights (the naive CNN of the CS 577 report, or any spec);
- frozen: the base frozen, a new head trained (RMSprop, as the master's project "Applying Deep
  Learning Techniques and Understand the CNN with Grad-CAM Visualization" trains its head);
- finetune: head first (RMSprop), then unfreeze from a named layer and train on with SGD,
  lr 0.001, momentum 0.9 (the master's project's second phase); the budget is split in two;
- finetune-aug: the same with the augmentation of the lecture slides "Convolutional Neural
  Networks (CNN)" (ImageDataGenerator: rotation 40, shifts 0.2, shear 0.2, zoom 0.2, flip);
- features: the base's pooled features from one stage fed to scikit-learn's LogisticRegression.

Every model variant is a workbench.runs.TrainedRun, so it can be compared and explained like any run.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from workbench import augment as A
from workbench import lookup
from workbench.backend import TrainConfig
from workbench.runs import RunSpec, TrainedRun, run_training
from workbench.training import Prepared, check_config, prepare
from workbench.transfer import cache as C
from workbench.transfer.bases import Base, base as get_base, check_layer, trainable_counts

VARIANTS = ("scratch", "frozen", "finetune", "finetune-aug", "features")
HEAD = ("rmsprop", 1e-3)  # phase 1 (and frozen): the master's project's RMSprop
FINETUNE = ("momentum", 1e-3, 0.9)  # phase 2: SGD(lr=0.001, momentum=0.9)
SCRATCH = ("adam", 1e-3)


@dataclass(frozen=True)
class ExperimentSpec:
    dataset: str
    base: str | None = None  # None: the registry's model for fine-tuning
    backend: str = "pytorch"
    variants: tuple[str, ...] = VARIANTS
    from_layer: str | None = None  # where fine-tuning unfreezes (default: the base's last block)
    epochs: int = 4  # the budget of every variant (fine-tuning: split between its two phases)
    seeds: int = 3
    fractions: tuple[float, ...] = (1.0,)
    batch_size: int = 16
    scratch_arch: str = "mnist-cnn"
    stage: str | None = None  # the features variant's layer (default: the layer before the head)
    limit: int | None = 300  # at most this many training images (memory: a 224x224 base)
    cache: bool = True  # frozen / features on features computed once per image
    bn_trap: bool = False  # frozen BatchNorm normalises with batch statistics while training
    wrong_scale: bool = False  # the base fed [0, 1] pixels instead of its ImageNet normalisation


@dataclass
class VariantRun:
    """One variant, one seed, one fraction."""

    variant: str
    seed: int
    fraction: float
    history: list[dict]
    test_accuracy: float
    trainable_tensors: int
    trainable_params: int
    seconds: float
    learning_rates: str
    cached: bool = False
    run: TrainedRun | None = None  # the trained model (None for features: a scikit-learn classifier)
    train_inference_accuracy: float | None = None  # the training images predicted in inference mode

    @property
    def best_val_accuracy(self) -> float | None:
        vals = [h["val_accuracy"] for h in self.history if h.get("val_accuracy") is not None]
        return max(vals) if vals else None

    @property
    def lowest_val_loss(self) -> float | None:
        vals = [h["val_loss"] for h in self.history if h.get("val_loss") is not None and math.isfinite(h["val_loss"])]
        return min(vals) if vals else None


@dataclass
class Experiment:
    spec: ExperimentSpec
    runs: list[VariantRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def of(self, variant: str, fraction: float | None = None) -> list[VariantRun]:
        fraction = max(self.spec.fractions) if fraction is None else fraction
        return [r for r in self.runs if r.variant == variant and r.fraction == fraction]

    def table(self, fraction: float | None = None) -> dict[str, dict]:
        """Per variant: mean and sd over seeds of best val accuracy, lowest val loss, test accuracy."""
        out = {}
        for v in self.spec.variants:
            runs = self.of(v, fraction)
            if not runs:
                continue
            out[v] = {"val_accuracy": stats([r.best_val_accuracy for r in runs]),
                      "val_loss": stats([r.lowest_val_loss for r in runs]),
                      "test_accuracy": stats([r.test_accuracy for r in runs]),
                      "epochs": max(len(r.history) for r in runs), "learning_rates": runs[0].learning_rates,
                      "trainable_tensors": runs[0].trainable_tensors, "trainable_params": runs[0].trainable_params,
                      "seconds": round(float(np.mean([r.seconds for r in runs])), 3), "seeds": len(runs),
                      "cached_features": runs[0].cached}
        return out

    def fractions_table(self) -> dict[str, dict[str, dict]]:
        """fraction -> variant -> test accuracy mean and sd (where transfer learning pays)."""
        return {f"{f:g}": {v: row["test_accuracy"] for v, row in self.table(f).items()} for f in self.spec.fractions}

    def to_json(self) -> dict:
        return {"variants": {v: {k: row[k] for k in ("val_accuracy", "val_loss", "test_accuracy", "trainable_tensors",
                                                       "trainable_params", "seconds")}
                             for v, row in self.table().items()},
                "fractions": self.fractions_table()}


def stats(values) -> dict:
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"mean": None, "sd": None}
    return {"mean": round(float(np.mean(vals)), 4), "sd": round(float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0, 4)}


def check(spec: ExperimentSpec) -> ExperimentSpec:
    unknown = [v for v in spec.variants if v not in VARIANTS]
    if unknown or not spec.variants:
        raise ValueError(f"unknown variant(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(VARIANTS)}")
    if spec.seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {spec.seeds}")
    if any("finetune" in v for v in spec.variants) and spec.epochs < 2:
        raise ValueError("fine-tuning needs at least 2 epochs: the head first, then the unfrozen layers")
    bad = [f for f in spec.fractions if not 0 < f <= 1]
    if bad or not spec.fractions:
        raise ValueError(f"fractions must be in (0, 1], got {', '.join(map(str, bad)) or '(none)'}")
    check_config(TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size))
    return replace(spec, variants=tuple(dict.fromkeys(spec.variants)), fractions=tuple(sorted(set(spec.fractions))))


def subset(y: np.ndarray, fraction: float) -> np.ndarray:
    """The first `fraction` of every class's training images (at least two each): the same images
    for every variant and seed, and every class present."""
    keep = [np.flatnonzero(y == c)[:max(2, math.ceil(fraction * np.sum(y == c)))] for c in np.unique(y)]
    return np.sort(np.concatenate(keep))


def _sliced(prepared: Prepared, idx) -> Prepared:
    splits = dict(prepared.splits)
    splits["train"] = tuple(a[idx] for a in splits["train"])
    return prepared._replace(splits=splits)


def prepare_base(spec: ExperimentSpec, dataset, b: Base) -> Prepared:
    """The dataset as the base is fed; with the wrong-scale trap, [0, 1] pixels without its normalisation."""
    from workbench import data as D

    prepared = prepare(dataset, b.arch, False, None if b.arch.is_spec else lookup.backend(spec.backend).name,
                       spec.limit)
    if spec.wrong_scale and not b.arch.is_spec:
        raw = {s: dataset.load(s) for s in dataset.splits}
        if spec.limit:
            raw["train"] = tuple(a[:spec.limit] for a in raw["train"])
        prepared = prepared._replace(splits={s: (D.resize(x, b.arch.input_shape), y) for s, (x, y) in raw.items()})
    return prepared


Progress = Callable[[str, dict], None]  # (what is running, its epoch record)


def prepare_data(spec: ExperimentSpec, dataset) -> tuple[Prepared, Prepared | None]:
    """(the dataset as the base is fed, as the scratch CNN is fed or None without a scratch variant)."""
    base_data = prepare_base(spec, dataset, get_base(spec.base, spec.from_layer))
    scratch_data = None
    if "scratch" in spec.variants:
        scratch_data = prepare(dataset, lookup.architecture(spec.scratch_arch), False, None, spec.limit)
    return base_data, scratch_data


def run_experiment(spec: ExperimentSpec, on_epoch: Progress | None = None, stop: threading.Event | None = None,
                   dataset=None, data: tuple[Prepared, Prepared | None] | None = None) -> Experiment:
    """Every variant x seed x fraction; `on_epoch(label, record)` follows it, `stop` ends it
    after the current batch (what finished so far is kept). `data`: prepare_data's, made already."""
    spec = check(spec)
    backend = lookup.backend(spec.backend)
    dataset = dataset if dataset is not None else lookup.dataset(spec.dataset)
    b = get_base(spec.base, spec.from_layer)
    exp = Experiment(spec)
    base_data, scratch_data = data if data is not None else prepare_data(spec, dataset)
    if not b.pretrained:
        exp.notes.append(f"{b.name} has random weights here: its counts and code path are the lecture's, "
                         "its accuracy is not that of a pretrained base")
    for fraction in spec.fractions:
        idx = subset(base_data.splits["train"][1], fraction)
        cached: dict[int, C.Features] = {}  # per fraction; a pretrained base's is shared by every seed
        for variant in spec.variants:
            for seed in range(spec.seeds):
                key = 0 if b.pretrained else seed  # a random base differs per seed, so do its features
                if key not in cached and (variant == "features" or (variant == "frozen" and spec.cache)):
                    cached[key] = _features_of(backend, _sliced(base_data, idx), key)
                features = cached.get(key)
                if stop is not None and stop.is_set():
                    exp.notes.append("stopped by the user: the table holds the runs that finished")
                    return exp
                label = f"{variant} seed {seed} ({fraction:.0%} of the training data)"
                follow = (lambda rec, label=label: on_epoch(label, rec)) if on_epoch else None
                t0 = time.perf_counter()
                if variant == "scratch":
                    run = _scratch(spec, dataset, _sliced(scratch_data, subset(scratch_data.splits["train"][1],
                                                                               fraction)), seed, follow, stop, label)
                    result = _from_run("scratch", seed, fraction, run, backend, f"{SCRATCH[0]} {SCRATCH[1]:g}")
                elif variant == "features":
                    result = _logistic(spec, b, features, seed, fraction, dataset.num_classes)
                else:
                    use_cache = spec.cache and variant == "frozen" and not spec.bn_trap
                    result = _transfer(spec, dataset, b, _sliced(base_data, idx), variant, seed, fraction,
                                       follow, stop, label, features if use_cache else None)
                result.seconds = round(time.perf_counter() - t0, 3)
                exp.runs.append(result)
    return exp


def _scratch(spec, dataset, prepared, seed, follow, stop, label) -> TrainedRun:
    config = TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, optimizer=SCRATCH[0],
                         learning_rate=SCRATCH[1], seed=seed)
    return run_training(RunSpec(spec.dataset, spec.scratch_arch, spec.backend, config), follow, stop,
                        label=label, dataset=dataset, prepared=prepared)


def _features_of(backend, prepared: Prepared, seed: int) -> C.Features:
    """The base with its dataset head, and a cache of its layers' outputs (computed when asked)."""
    model = backend.build(prepared.arch, seed=seed)
    return C.Features(backend, model, prepared.splits)


def _from_run(variant, seed, fraction, run: TrainedRun, backend, lrs, cached=False, history=None) -> VariantRun:
    tensors, params = trainable_counts(backend, run.model)
    return VariantRun(variant, seed, fraction, history or run.history, run.test_accuracy, tensors, params, 0.0, lrs,
                      cached, run)


def _transfer(spec, dataset, b: Base, prepared, variant, seed, fraction, follow, stop, label,
              features: C.Features | None) -> VariantRun:
    backend = lookup.backend(spec.backend)
    phase1 = spec.epochs if variant == "frozen" else max(1, spec.epochs // 2)
    augment = A.SEED_001.as_dict() if variant == "finetune-aug" else {}
    head = TrainConfig(epochs=phase1, batch_size=spec.batch_size, optimizer=HEAD[0], learning_rate=HEAD[1],
                       seed=seed, augment=augment)
    run_spec = RunSpec(spec.dataset, b.name, spec.backend, head, from_layer=b.head_from, batch_stats=spec.bn_trap)
    model = backend.build(prepared.arch, seed=seed)
    check_layer(backend, model, b.finetune_from, "fine-tune from")
    train_accuracy = None
    if features is not None:  # the head alone on the cached features, written back into the model
        run, train_accuracy = _cached_run(backend, model, prepared, features, b, run_spec, follow, stop, label,
                                          dataset)
    else:
        run = run_training(run_spec, follow, stop, label=label, dataset=dataset, prepared=prepared, model=model)
    lrs = f"{HEAD[0]} {HEAD[1]:g}"
    history = list(run.history)
    if variant != "frozen" and not run.stopped:
        ft = TrainConfig(epochs=spec.epochs - phase1, batch_size=spec.batch_size, optimizer=FINETUNE[0],
                         learning_rate=FINETUNE[1], momentum=FINETUNE[2], seed=seed, augment=augment)
        run = run_training(replace(run_spec, config=ft, from_layer=b.finetune_from), follow, stop, label=label,
                           dataset=dataset, prepared=prepared, model=model)
        history += [{**h, "epoch": h["epoch"] + phase1, "phase": 2} for h in run.history]
        lrs += f", then SGD {FINETUNE[1]:g} momentum {FINETUNE[2]:g} from {b.finetune_from}"
    result = _from_run(variant, seed, fraction, run, backend, lrs, cached=features is not None, history=history)
    result.train_inference_accuracy = (train_accuracy if variant == "frozen" and train_accuracy is not None
                                       else _train_accuracy(backend, model, prepared))
    return result


def _cached_run(backend, model, prepared, features, b, run_spec, follow, stop, label,
                dataset) -> tuple[TrainedRun, float]:
    """The run, and its training images' accuracy at inference, read off the head on the cached
    features (the same numbers as through the frozen base in inference mode, without the base)."""
    from workbench.model_facts import attach
    from workbench.training import predicted

    backend.set_trainable(model, b.head_from)
    attach(model, standardizer=None)
    history, test_probs, head = C.train_cached_head(backend, model, prepared.arch, features, b.head_from,
                                                    check_config(run_spec.config), follow, stop)
    x, y = C.head_inputs(backend, model, prepared.arch, features, b.head_from)[1]["train"]
    train_accuracy = float((predicted(backend, head, x)[1] == y).mean())
    class_names = tuple(str(n) for n in dataset.class_names)
    return TrainedRun(spec=replace(run_spec, config=check_config(run_spec.config)), label=label, model=model,
                      arch=replace(prepared.arch, class_names=class_names), standardizer=None, history=history,
                      images=len(prepared.splits["train"][0]), class_names=class_names,
                      test_labels=np.asarray(prepared.splits["test"][1]), test_probs=test_probs,
                      dataset_name=dataset.name, device=backend.device(), notes=tuple(dataset.notes)), train_accuracy


def _train_accuracy(backend, model, prepared) -> float:
    from workbench.training import predicted

    x, y = prepared.splits["train"]
    return float((predicted(backend, model, x)[1] == y).mean())


def _logistic(spec, b: Base, features: C.Features, seed, fraction, num_classes) -> VariantRun:
    from sklearn.metrics import log_loss

    names = features.backend.layer_names(features.model)
    stage = spec.stage or C.before(names, b.head_from)
    if spec.stage is None and "dropout" in stage:  # the same values at inference: name the pooling layer
        stage = C.before(names, stage)
    check_layer(features.backend, features.model, stage, "features from")
    clf, scored = C.fit_logistic(features, stage, num_classes, seed)
    history = []
    if "val" in scored:
        p, y = scored["val"]
        history = [{"epoch": 1, "val_accuracy": float((p.argmax(1) == y).mean()),
                    "val_loss": float(log_loss(y, _normalised(p), labels=list(range(num_classes))))}]
    p, y = scored["test"]
    return VariantRun("features", seed, fraction, history, float((p.argmax(1) == y).mean()), 2,
                      int(clf.coef_.size + clf.intercept_.size), 0.0,
                      f"LogisticRegression C={clf.C:g} on {stage} ({int(np.max(clf.n_iter_))} lbfgs iterations)")


def _normalised(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1)
    return p / p.sum(1, keepdims=True)

"""The lesson's experiments as lists of runs, shared by the page and `workbench regularise`.

Data come from workbench.training.prepare: the dataset's splits resized to the architecture,
pixels in [0, 1], the head sized to the dataset's classes; each experiment then feeds them
its own way.
"""

from __future__ import annotations

import json

from workbench import folders, lookup
from workbench import spec as S
from workbench.jobs import cache
from workbench.regularise import init as I
from workbench.regularise import relu as R
from workbench.regularise import standardisation as ST
from workbench.regularise.experiments import Run
from workbench.training import prepare

PROBE_IMAGES = 256  # the fixed batch the dead ReLUs are counted on


def splits(dataset: str, arch: str | S.Architecture, limit: int | None = None):
    """(architecture with the dataset's head, splits in [0, 1] at its input size)."""
    arch = lookup.architecture(arch) if isinstance(arch, str) else arch
    if not arch.is_spec:
        raise ValueError(f"{arch.name} is a native model; this lesson rewrites spec architectures "
                         "(choose cnn1, cnn2, mnist-cnn or an architecture file)")
    # once per process (the server's, a worker's) for every student and experiment that asks
    k = cache.key(dataset, folders.dataset_contents(dataset), json.dumps(arch.to_dict(), sort_keys=True), limit)
    prepared = cache.shared("regularise-splits", 8).get(k, lambda: prepare(lookup.dataset(dataset), arch, limit=limit))
    return prepared.arch, prepared.splits


def standardisation(dataset: str, arch: str, modes=tuple(ST.MODES), limit: int | None = None) -> list[Run]:
    arch, data = splits(dataset, arch, limit)
    return [Run(mode, arch, ST.apply(mode, data)[0]) for mode in map(ST.check_mode, modes)]


def with_dropout(arch: S.Architecture, rate: float) -> S.Architecture:
    """A Dropout(rate) before every top-level Dense layer (rate 0: every Dropout removed)."""
    layers = []
    for layer in arch.layers:
        if isinstance(layer, S.Dropout):
            continue
        if rate and isinstance(layer, S.Dense):
            layers.append(S.Dropout(rate, name=f"{layer.name}_dropout"))
        layers.append(layer)
    data = arch.to_dict()
    data["layers"] = [S.layer_to_dict(layer) for layer in layers]
    return S.parse_architecture(data)


def overfitting(dataset: str, arch: str, rate: float, limit: int) -> list[Run]:
    """The same network on a small training set without and with dropout (per-pixel standardised)."""
    base, data = splits(dataset, arch, limit)
    fed = ST.apply("per_pixel", data)[0]
    return [Run("without dropout", with_dropout(base, 0.0), fed), Run(f"dropout {rate:g}", with_dropout(base, rate), fed)]


def dead_relu(dataset: str, arch: str, batchnorm: bool | None, init: str, limit: int | None = None,
              standardise: str = "rescaled") -> list[Run]:
    """One run of `arch` (BN added before every ReLU, removed, or as it is: None), counting dead
    ReLUs on a fixed batch of training images at epoch 0 and after every epoch."""
    base, data = splits(dataset, arch, limit)
    net = R.unfused(base) if batchnorm is None else R.with_batchnorm(base, batchnorm)
    fed = ST.apply(standardise, data)[0]
    batch = fed["train"][0][:PROBE_IMAGES]
    label = f"{'BN' if batchnorm else 'no BN' if batchnorm is False else 'as is'}, init {I.check_init(init)}"
    return [Run(label, net, fed, init, probe=lambda backend, model: {"layers": R.dead_relus(backend, model, net, batch)})]


def initialisation(dataset: str, arch: str, inits=tuple(I.INITS), limit: int | None = None) -> list[Run]:
    base, data = splits(dataset, arch, limit)
    fed = ST.apply("per_pixel", data)[0]
    return [Run(name, base, fed, name) for name in map(I.check_init, inits)]


def cnn1_vs_cnn2(dataset: str = "mnist-5k", limit: int | None = None) -> list[Run]:
    runs = []
    for name in ("cnn1", "cnn2"):
        arch, data = splits(dataset, name, limit)
        runs.append(Run(name, arch, ST.apply("per_pixel", data)[0]))
    return runs


def parameter_counts(backends: dict, names=("cnn1", "cnn2")) -> list[dict]:
    """Per architecture: the calculator's total and trainable count, and each backend's, read off its real model."""
    from workbench import shapes

    rows = []
    for name in names:
        arch = lookup.architecture(name)
        table = shapes.compute(arch)
        row = {"architecture": name, "calculator": table.total_params, "calculator_trainable": table.trainable_params}
        for bname, backend in backends.items():
            row[bname] = sum(info.params for info in backend.summary(backend.build(arch)))
        rows.append(row)
    return rows



"""Weights in the Keras layout, backend-neutral: shapes, seeded initial values, safe files.

Every backend speaks this layout at its edge (get_weights / set_weights), so weights copy
between backends and a saved file loads in either one:

    Conv2D           kernel (kh, kw, in, out), bias (out,)
    DepthwiseConv2D  kernel (kh, kw, in, depth_multiplier), bias (in * depth_multiplier,)
    SeparableConv2D  depthwise (kh, kw, in, dm), pointwise (1, 1, in * dm, out), bias (out,)
    Dense            kernel (in, out), bias (out,)
    BatchNormalization  gamma, beta, moving_mean, moving_variance (each (channels,))
    SqueezeExcite    squeeze kernel (C, units), bias (units,), excite kernel (units, C), bias (C,)

Each layer type states its own (workbench.model.layers: ``weight_shapes``, ``initial_weights``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from workbench import shapes
from workbench import spec as S
from workbench.model import limits

Weights = dict[str, list[np.ndarray]]


def weight_shapes(arch: S.Architecture) -> dict[str, list[tuple[int, ...]]]:
    """Per layer with weights: the shapes of its arrays, in Keras order (each layer says which)."""
    by_name = {layer.name: layer for layer in S.walk(arch.layers)}
    out: dict[str, list[tuple[int, ...]]] = {}
    for row in shapes.compute(arch).rows:
        found = by_name[row.name].weight_shapes(row.input_shape)
        if found:
            out[row.name] = found
    return out


def initial_weights(arch: S.Architecture, seed: int = 0) -> Weights:
    """Keras' default initial values (Glorot-uniform kernels, zero biases, BN gamma 1, beta 0,
    moving mean 0, variance 1), drawn from one seeded generator in layer order, so that both
    backends start a spec model from the very same numbers."""
    rng = np.random.default_rng(seed)
    by_name = {layer.name: layer for layer in S.walk(arch.layers)}
    return {name: by_name[name].initial_weights(shape_list, rng) for name, shape_list in weight_shapes(arch).items()}


def check_weights(arch: S.Architecture, weights: Weights) -> None:
    """Raise a clear error when weights do not fit the architecture (names and shapes)."""
    expected = weight_shapes(arch)
    unknown = sorted(set(weights) - set(expected))
    if unknown:
        raise ValueError(f"weights for layers that have none in {arch.name}: {', '.join(unknown)}")
    for name, arrays in weights.items():
        want = expected[name]
        got = [tuple(np.shape(a)) for a in arrays]
        if got != want:
            raise ValueError(f"layer {name!r} expects weights of shapes {want}, got {got}")


def check_complete(arch: S.Architecture, weights: Weights, source) -> None:
    """A file loaded as a whole model must hold every layer that has weights: a layer left out
    would keep its random initial values without a word."""
    missing = [name for name in weight_shapes(arch) if name not in weights]
    if missing:
        raise ValueError(f"{source} has no weights for layer{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(map(repr, missing))} of {arch.name}; it was not saved from this architecture")


def check_finite(weights: Weights, source) -> None:
    """Refuse NaN or infinite weights (a diverged run's), which would only ever predict NaN."""
    for name, arrays in weights.items():
        for i, array in enumerate(arrays):
            if not np.isfinite(array).all():
                raise ValueError(f"{source}: layer {name!r} has NaN or infinite weights (array {i}); "
                                 "a run that diverged saves such weights; train it again")


# -- files -------------------------------------------------------------------------------
def architecture_path(path: str | Path) -> Path:
    """Where the architecture JSON lives beside a weights file: model.safetensors -> model.json."""
    path = Path(path)
    name = path.name
    for suffix in (".weights.h5", ".safetensors"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return path.with_name(name + ".json")


def write_architecture(arch: S.Architecture, path: str | Path, backend: str) -> Path:
    """The architecture beside the weights: the spec itself, or a native model's registered name."""
    target = architecture_path(path)
    if arch.is_spec:
        data = json.loads(S.dumps_architecture(arch))
    else:
        data = {"name": arch.name, "native": True, "input_shape": list(arch.input_shape),
                "num_classes": arch.num_classes}
    target.write_text(json.dumps({"backend": backend, "architecture": data}, indent=2))
    return target


def standardizer_path(path: str | Path) -> Path:
    """Where a model's standardisation statistics live beside its weights: model.standardizer.npz."""
    target = architecture_path(path)
    return target.with_name(target.stem + ".standardizer.npz")


def write_standardizer(path: str | Path, standardizer) -> None:
    """The statistics beside the weights, or no file when the model was trained on raw images
    (so a stale one from an earlier save at the same path cannot be picked up)."""
    target = standardizer_path(path)
    if standardizer is None:
        target.unlink(missing_ok=True)
    else:
        standardizer.save(target)


def read_standardizer(path: str | Path):
    from workbench.data import Standardizer

    target = standardizer_path(path)
    return Standardizer.load(target) if target.exists() else None


@contextlib.contextmanager
def _beside(path):
    """A SpecError about the architecture JSON beside ``path``, said as one sentence naming it."""
    try:
        yield
    except S.SpecError as exc:
        raise S.SpecError(str(architecture_path(path)), None, f"the architecture saved beside "
                                                              f"{Path(path).name} cannot be read: {exc}") from None


def read_saved(path: str | Path) -> dict:
    """The JSON beside the weights, {"backend", "architecture"}: read within the bounds of
    workbench.model.limits, like any architecture file, with errors that name it."""
    target = architecture_path(path)
    if not target.exists():
        raise FileNotFoundError(f"no architecture file {target} beside the weights {path}")
    with _beside(path):
        limits.check_file_size(target.stat().st_size, str(target))
        saved = S.loads_data(target.read_bytes(), ".json")
        if not isinstance(saved, dict) or not isinstance(saved.get("architecture"), dict):
            raise S.SpecError("file", None, "expected {\"backend\": ..., \"architecture\": {...}}")
    return saved


def read_architecture(path: str | Path) -> S.Architecture:
    data = read_saved(path)["architecture"]
    if not data.get("native"):
        with _beside(path):
            return S.parse_architecture(data)
    from workbench.registry import get_registry

    found = get_registry().architectures().get(data["name"])
    if found is None:
        raise ValueError(f"{path} holds the native model {data['name']!r}, which no plugin registers")
    # a fine-tuned zoo model may have another head or input size than the registered one
    return dataclasses.replace(found, input_shape=tuple(data["input_shape"]), num_classes=data["num_classes"])


def save_file(weights: Weights, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Keras-layout weights to a safetensors file (keys "layer/index"); no pickles."""
    from safetensors.numpy import save_file as write

    flat = {f"{name}/{i}": np.ascontiguousarray(a) for name, arrays in weights.items() for i, a in enumerate(arrays)}
    write(flat, str(path), metadata=metadata)


def read_weights(path: str | Path, arch: S.Architecture) -> Weights:
    """A whole model's Keras-layout weights from ``path``: every layer there, every number finite."""
    weights = load_file(path)
    check_complete(arch, weights, path)
    check_finite(weights, path)
    return weights


def load_file(path: str | Path) -> Weights:
    from safetensors.numpy import load_file as read

    with _safetensors_only(path):
        flat = read(str(path))
    out: dict[str, dict[int, np.ndarray]] = {}
    for key, array in flat.items():
        name, _, index = key.rpartition("/")
        if not name or not index.isdigit():
            raise ValueError(f"{path} is not a workbench weights file (key {key!r} is not 'layer/index')")
        out.setdefault(name, {})[int(index)] = array
    return {name: [arrays[i] for i in sorted(arrays)] for name, arrays in out.items()}


# -- whole models: weights file + architecture JSON beside it ---------------------------
KERAS_LAYOUT = "keras-layout"  # the portable format: loads in either backend


def weights_path(path: str | Path, suffix: str = ".safetensors") -> Path:
    """The weights file for a path given with or without its suffix."""
    path = Path(path)
    if path.name.endswith((".safetensors", ".weights.h5")):
        return path
    return path.with_name(path.name + suffix)


def find_weights(path: str | Path) -> Path:
    path = Path(path)
    for candidate in (path, weights_path(path), weights_path(path, ".weights.h5")):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no saved model at {path} (looked for .safetensors and .weights.h5)")


def file_format(path: str | Path) -> str:
    """What a weights file holds: "keras-layout", a backend's own format, or "keras-h5"."""
    path = Path(path)
    if path.name.endswith(".weights.h5"):
        return "keras-h5"
    from safetensors import safe_open

    with _safetensors_only(path), safe_open(str(path), framework="numpy") as f:
        return (f.metadata() or {}).get("format", KERAS_LAYOUT)


@contextlib.contextmanager
def _safetensors_only(path):
    """safetensors' own errors (a pickle's bytes read as a header: "header too large") as one
    sentence naming the file; the file is only ever parsed as safetensors, never unpickled."""
    from safetensors import SafetensorError

    try:
        yield
    except SafetensorError as exc:
        raise ValueError(f"{path} is not a safetensors weights file ({exc}); the workbench loads models "
                         "only from the .safetensors (or Keras .weights.h5) files it saves, never pickles") from None


def spec_weights_path(path: str | Path) -> Path:
    """Where a spec model's weights go: always a .safetensors file (see save_spec)."""
    target = Path(path)
    if target.name.endswith(".weights.h5"):
        target = target.with_name(target.name[: -len(".weights.h5")])
    return weights_path(target)


def save_spec(path: str | Path, arch: S.Architecture, weights: Weights, backend: str) -> Path:
    """A spec model's weights in the Keras layout (safetensors) plus its architecture JSON.
    Always a .safetensors file (a name ending .weights.h5 gets that suffix instead), so that the
    file's name says what it holds; the path written is returned."""
    target = spec_weights_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(weights, target, metadata={"format": KERAS_LAYOUT, "backend": backend})
    write_architecture(arch, target, backend)
    return target


# -- where a model is saved: checked before the work, written all at once ----------------
def model_files(path: str | Path) -> list[Path]:
    """The files a saved model at `path` consists of, whichever backend wrote it."""
    path = Path(path)
    weights = [weights_path(path), weights_path(path, ".weights.h5"), spec_weights_path(path)]
    return list(dict.fromkeys(weights + [architecture_path(path), standardizer_path(path)]))


def check_destination(path: str | Path, overwrite: bool = False) -> None:
    """Raise before any work if a model cannot be saved at `path`: a folder is in the way, the
    nearest existing folder is not writable, or a saved model is there and `overwrite` is False."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot save to {path}: it is a folder; give a file name inside it, "
                                f"e.g. {path / 'model.safetensors'}")
    existing = [f for f in model_files(path) if f.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"a saved model is already at {path} ({', '.join(f.name for f in existing)}); "
                              "pass --overwrite to replace it, or choose another name")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot save to {path}: {folder} is a file, not a folder")
    try:  # a real write: permission bits do not tell for root, read-only mounts or /proc
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise PermissionError(f"cannot save to {path}: {folder} is not writable ({exc.strerror or exc})") from None


@contextlib.contextmanager
def written_together(target: Path):
    """Yield a path standing for `target` in a hidden folder beside it; whatever is written there
    (the weights and the files beside them) replaces the old files with os.replace once all of it is
    written, so an error or a crash half-way leaves the old model whole. Files of the old model
    that the new one does not have (a standardiser) are removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".saving", dir=target.parent))
    try:
        yield staging / target.name
        written = sorted(staging.iterdir(), key=lambda f: f.name == target.name)  # the weights last
        for f in written:
            os.replace(f, target.parent / f.name)
        for old in set(model_files(target)) - {target.parent / f.name for f in written}:
            old.unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

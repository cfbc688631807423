"""Export a trained model to a file a student takes home, and check that the file computes what the
workbench computes.

Three formats: ``onnx`` and ``keras`` (a ``.keras`` file) are written by the backend that can
(``Backend.export_formats``); ``safetensors`` is the workbench's own save (Keras-layout weights, the
architecture JSON and the standardiser beside them), which either backend loads.

An ONNX or ``.keras`` file takes images as a user has them: float32 NHWC pixels in [0, 1] at the
model's size. What the model was fed in training (a pretrained model's ImageNet normalisation, the
per-pixel standardisation of the training split) is folded in as one ``InputTransform``, and it gives
class probabilities. A safetensors export keeps both as files beside the weights.

After writing, the file is read back by something other than the model that wrote it (onnxruntime,
``keras.saving.load_model`` in safe mode, each installed backend's ``load``) on the check images, and
the report gives the largest difference in probabilities.

A spec model trained in one backend is exported through the other when only that one writes the
format: its weights cross through the safetensors file both backends read, the same route as
``Backend.save`` / ``load``, so no converter between frameworks is needed.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from workbench import graph
from workbench import weights as W
from workbench.model_facts import arch_of, standardizer_of

FORMATS = {"onnx": ".onnx", "keras": ".keras", "safetensors": ".safetensors"}
LAYOUT = "NHWC"
PIXELS = "float32 pixels in [0, 1]"
TOLERANCE = 1e-4  # the largest difference in probabilities a faithful export shows


@dataclass(frozen=True)
class InputTransform:
    """What a model's input needs beyond pixels in [0, 1]: channels reversed (RGB -> BGR) when
    ``bgr``, then ``x * scale + offset``; scale and offset have the image's shape (H, W, C)."""

    scale: np.ndarray
    offset: np.ndarray
    bgr: bool = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        x = x[..., ::-1] if self.bgr else x
        return (x * self.scale + self.offset).astype(np.float32)

    @property
    def identity(self) -> bool:
        return not self.bgr and bool(np.all(self.scale == 1) and np.all(self.offset == 0))


def input_transform(model, backend_name: str) -> InputTransform:
    """The model's preprocessing from pixels in [0, 1], as one transform: a pretrained model's own
    normalisation (workbench.imagenet.Preprocessing.normalize of 0..255 pixels), then the
    standardiser it was trained with (x - mean) / (std + eps), as workbench.training.prepare feeds it."""
    from workbench.training import input_normalization

    arch = arch_of(model)
    shape = tuple(arch.input_shape)
    scale, offset, bgr = np.ones(shape, np.float64), np.zeros(shape, np.float64), False
    pre = input_normalization(arch, backend_name) if arch is not None else None
    if pre is not None:  # normalize(255 x) = (255 s x - 255 s m) / std, then the channels reversed
        std, mean = np.asarray(pre.std, np.float64), np.asarray(pre.mean, np.float64)
        scale, offset = scale * 255 * pre.scale / std, offset - 255 * pre.scale * mean / std
        if pre.bgr:  # reversing first: reverse the per-channel numbers with it
            scale, offset, bgr = scale[..., ::-1], offset[..., ::-1], True
    standardizer = standardizer_of(model)
    if standardizer is not None:
        mean = np.broadcast_to(np.asarray(standardizer.mean, np.float64), shape)
        div = np.broadcast_to(np.asarray(standardizer.std, np.float64), shape) + standardizer.eps
        scale, offset = scale / div, (offset - mean) / div
    return InputTransform(scale.astype(np.float32), offset.astype(np.float32), bgr)


@dataclass
class ExportReport:
    path: str
    format: str
    checked_images: int
    max_abs_diff: float
    layout: str = LAYOUT
    input: str = PIXELS
    checked_with: list[str] = field(default_factory=list)  # what read the file back

    @property
    def faithful(self) -> bool:
        return self.max_abs_diff <= TOLERANCE

    def as_dict(self) -> dict:
        return asdict(self)


def check_images(arch, n: int = 16, dataset=None, seed: int = 0) -> np.ndarray:
    """Images to compare on, as a user has them: a dataset's first ``n`` test images resized to the
    model's input, or ``n`` seeded random images in [0, 1]."""
    if dataset is not None:
        from workbench import data as D

        split = "test" if "test" in dataset.splits else dataset.splits[-1]
        return D.resize(dataset.load(split)[0][:n], arch.input_shape)
    return np.random.default_rng(seed).random((n, *arch.input_shape), dtype=np.float32)


def writers(registry=None) -> dict[str, list]:
    """Format -> the backends that write it (safetensors: every backend)."""
    from workbench.registry import get_registry

    backends = list((registry or get_registry()).backends().values())
    out = {fmt: [] for fmt in FORMATS}
    for each_backend in backends:
        for fmt in each_backend.export_formats():
            out.setdefault(fmt, []).append(each_backend)
    out["safetensors"] = backends
    return out


def available_formats(backend, model) -> list[str]:
    """The formats this model can be exported to: its own backend's, and for a spec model (whose
    weights any backend loads) every installed backend's."""
    arch = arch_of(model)
    return [fmt for fmt, found in writers().items()
            if any(b.name == backend.name or arch.is_spec for b in found)]


def suffixed(path: str | Path, fmt: str) -> Path:
    path, suffix = Path(path), FORMATS[fmt]
    return path if path.name.endswith(suffix) else path.with_name(path.name + suffix)


def export(backend, model, fmt: str, out: str | Path, images: np.ndarray) -> ExportReport:
    """Write ``model`` (a model of ``backend``) as ``fmt`` to ``out`` and check it on ``images``
    (NHWC pixels in [0, 1] at the model's size)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    arch = arch_of(model)
    images = graph.check_images(arch, images)
    reference = backend.predict(model, input_transform(model, backend.name)(images))
    out = suffixed(out, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "safetensors":
        path = backend.save(model, out.with_name(out.name[: -len(FORMATS[fmt])]))  # the backend picks the suffix
        if not path.name.endswith(FORMATS[fmt]):  # a native model in its framework's own format: Keras layout instead
            path.unlink()
            path = _keras_layout(backend, model, out)
        return _report(path, fmt, images, reference, _reload_everywhere(path, backend, arch, images))
    out_backend = _out_backend(backend, model, fmt)
    source = model if out_backend.name == backend.name else _moved(backend, model, out_backend)
    path = out_backend.export(source, out, fmt, input_transform(source, out_backend.name))
    if fmt == "onnx":
        found = {"onnxruntime": _onnxruntime(path, images)}
    else:
        found = {f"{out_backend.name} load (safe mode)": out_backend.predict(out_backend.load(path), images)}
    return _report(path, fmt, images, reference, found)


def _out_backend(backend, model, fmt):
    """The backend that writes fmt: the model's own when it can, else one a spec model can move to."""
    found = writers()[fmt]
    if not found:
        raise ValueError(f"no installed backend writes {fmt}")
    own = [b for b in found if b.name == backend.name]
    if own:
        return own[0]
    if not arch_of(model).is_spec:
        raise ValueError(f"{arch_of(model).name} is a pretrained {backend.name} model; only "
                         f"{', '.join(b.name for b in found)} writes {fmt}, and only spec models move between "
                         "backends: export it as safetensors, or train it in that backend")
    return found[0]


def _keras_layout(backend, model, path: Path) -> Path:
    """A native model's weights by layer name in the Keras layout (what spec models save), with its
    architecture (its registered name) and standardiser beside: its own backend loads it back."""
    W.save_file(backend.get_weights(model), path, metadata={"format": W.KERAS_LAYOUT, "backend": backend.name})
    W.write_architecture(arch_of(model), path, backend.name)
    W.write_standardizer(path, standardizer_of(model))
    return path


def _moved(backend, model, other_backend):
    """The same spec model in another backend: saved and loaded through the file both read."""
    with tempfile.TemporaryDirectory() as folder:
        return other_backend.load(backend.save(model, Path(folder) / "model"))


def _reload_everywhere(path, backend, arch, images) -> dict[str, np.ndarray]:
    """The saved file loaded by every backend that reads it (a spec model: all of them)."""
    from workbench.registry import get_registry

    found = {}
    for other_backend in get_registry().backends().values():
        if other_backend.name != backend.name and not arch.is_spec:
            continue
        loaded = other_backend.load(path)
        fed = input_transform(loaded, other_backend.name)(images)
        found[f"{other_backend.name} load"] = other_backend.predict(loaded, fed)
    return found


def _onnxruntime(path, images) -> np.ndarray:
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeError("checking an ONNX file needs onnxruntime: pip install 'cnn-workbench[export]'") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.asarray(session.run(None, {name: images})[0], np.float32)


def _report(path, fmt, images, reference, found: dict[str, np.ndarray]) -> ExportReport:
    diffs = []
    for who, probs in found.items():
        if probs.shape != reference.shape:
            raise RuntimeError(f"the exported model gives {probs.shape} probabilities where the model gives "
                               f"{reference.shape} ({who})")
        diffs.append(float(np.max(np.abs(probs.astype(np.float64) - reference))))
    return ExportReport(str(path), fmt, len(images), max(diffs), checked_with=list(found))


def export_saved(model_path: str | Path, fmt: str, out: str | Path, n: int = 16, dataset=None) -> ExportReport:
    """``workbench export``: a saved model (what ``workbench train --save`` / ``Backend.save`` wrote),
    loaded in the backend that saved it when installed, exported and checked."""
    from workbench.registry import get_registry

    source = W.find_weights(model_path)
    saved_by = W.read_saved(source).get("backend")  # bounded, and a broken file is named
    backends = get_registry().backends()
    if not backends:
        raise RuntimeError("no backend is installed")
    backend = backends.get(saved_by) or next(iter(backends.values()))
    model = backend.load(source)
    return export(backend, model, fmt, out, check_images(arch_of(model), n, dataset))


def imported_architecture(name: str, input_shape, num_classes: int):
    """The architecture of a model read from a file that holds no spec (a ``.keras`` file): its
    input and output sizes; its layers are whatever the file holds."""
    from workbench.spec import Architecture

    return Architecture(name=name, input_shape=tuple(int(v) for v in input_shape), num_classes=int(num_classes),
                        description="imported from a file")

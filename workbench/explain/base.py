"""What every explanation method shares: parameters, targets, cost accounting, resizing.

Style of pytorch-grad-cam: one base class, and each method writes only what differs
(`compute`). Methods talk to a deep-learning framework only through the Backend protocol,
so the same code explains a TensorFlow and a PyTorch model.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from workbench.backend import ChannelMean, ClassScore, Neuron
from workbench.explain.heads import two_class_view
from workbench.model_facts import arch_of

FAMILIES = ("activation", "gradient", "cam", "perturbation")


@dataclass(frozen=True)
class Param:
    """One tunable parameter of a method: its default, and bounds or choices the page can offer."""

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    help: str = ""

    @property
    def kind(self) -> type | None:
        """int, float or bool when the parameter is a number or a switch (by its default, else its
        bounds); None when it also takes text (a layer name, 'mean')."""
        if isinstance(self.default, bool):
            return bool
        if isinstance(self.default, (int, float)):
            return type(self.default)
        bounds = [b for b in (self.low, self.high) if b is not None]
        if self.default is None and bounds:
            return float if any(isinstance(b, float) for b in bounds) else int
        return None

    def check(self, value):
        """`value` if it fits (an int for a float parameter becomes a float); else a ValueError
        that names the parameter and says what it takes."""
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, not {value!r}")
        kind = self.kind
        if value is None:
            if self.default is not None:
                raise ValueError(f"{self.name} needs a value (its default is {self.default!r})")
            return value
        if kind is bool and not isinstance(value, bool):
            raise ValueError(f"{self.name} must be true or false, not {value!r}")
        if kind in (int, float):
            whole = kind is int
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or (
                    whole and not float(value).is_integer()):
                raise ValueError(f"{self.name} must be {'a whole number' if whole else 'a number'}, not {value!r}")
            value = int(value) if whole else float(value)
        if self.low is not None and value < self.low:
            raise ValueError(f"{self.name} must be at least {self.low}, not {value!r}")
        if self.high is not None and value > self.high:
            raise ValueError(f"{self.name} must be at most {self.high}, not {value!r}")
        return value


@dataclass
class Cost:
    forward_passes: int = 0  # images pushed forward through the model
    backward_passes: int = 0  # images whose gradient was propagated back
    seconds: float = 0.0
    peak_memory: int | None = None  # bytes, where the backend can tell

    def as_dict(self) -> dict:
        return {"forward_passes": self.forward_passes, "backward_passes": self.backward_passes,
                "seconds": self.seconds, "peak_memory": self.peak_memory}


@dataclass
class Explanation:
    """What a method returns.

    maps:  (N, H, W) attribution heatmaps at input resolution (None for model-level methods);
    images: (N, H, W, C) image-like results (guided backprop's coloured gradients), or None;
    grids: named pictures of the model itself (feature-map tiles, filters, patches);
    steps: inner steps a student can open (Grad-CAM's channel weights, LIME's superpixels...).
    """

    method: str
    maps: np.ndarray | None = None
    images: np.ndarray | None = None
    grids: dict[str, np.ndarray] = field(default_factory=dict)
    steps: dict[str, Any] = field(default_factory=dict)
    targets: list[int] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    cost: Cost = field(default_factory=Cost)


class Metered:
    """The backend, counting how many images each call pushes forward and backward."""

    def __init__(self, backend):
        self.backend = backend
        self.forward = 0
        self.backward = 0

    def predict(self, model, x, batch_size=64):
        self.forward += len(x)
        return self.backend.predict(model, x, batch_size=batch_size)

    def logits(self, model, x, batch_size=64):
        self.forward += len(x)
        return self.backend.logits(model, x, batch_size=batch_size)

    def activations(self, model, x, layers):
        self.forward += len(x)
        return self.backend.activations(model, x, layers)

    def gradients(self, model, x, target, layer=None, relu="plain"):
        self.forward += len(x)
        self.backward += len(x)
        return self.backend.gradients(model, x, target, layer=layer, relu=relu)

    def __getattr__(self, name):  # everything else (summary, get_weights, device...) as is
        return getattr(self.backend, name)


class Explainer:
    """Base class: subclasses set name, family, params, and write compute()."""

    name: str = ""
    title: str = ""
    family: str = "gradient"
    params: tuple[Param, ...] = ()
    needs_targets: bool = True  # False for methods that explain the model, not a decision
    description: str = ""

    def input_key(self, images: np.ndarray, params: dict[str, Any]):
        """What of the images this method's result depends on with these (resolved) parameters,
        for a class-wide cache (workbench.jobs.cache): the images themselves, unless a method that
        explains the model rather than the images says less."""
        return images

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve_params(self, given: dict[str, Any]) -> dict[str, Any]:
        known = {p.name: p for p in self.params}
        unknown = set(given) - set(known)
        if unknown:
            raise ValueError(f"{self.name} has no parameter {', '.join(sorted(unknown))}; "
                             f"it takes {', '.join(known) or 'none'}")
        values = self.defaults() | given
        return {k: known[k].check(v) for k, v in values.items()}

    def explain(self, backend, model, images, targets=None, **params) -> Explanation:
        """Explain `images` (NHWC, as the model takes them) for `targets` (None: predicted class)."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4:
            raise ValueError(f"images must be a batch (N, H, W, C), got shape {images.shape}")
        values = self.resolve_params(params)
        meter = Metered(two_class_view(backend))  # a one-unit sigmoid head explained as its two classes
        reset = getattr(backend, "reset_peak_memory", None)
        if reset:
            reset()
        start = time.perf_counter()
        target_ids = resolve_targets(meter, model, images, targets) if self.needs_targets else None
        out = self.compute(meter, model, images, target_ids, **values)
        peak = getattr(backend, "peak_memory", None)
        out.method, out.params, out.targets = self.name, values, target_ids
        out.cost = Cost(meter.forward, meter.backward, time.perf_counter() - start, peak() if peak else None)
        return out

    def compute(self, backend, model, images, targets, **params) -> Explanation:
        raise NotImplementedError


# -- small shared helpers -------------------------------------------------------------------
def resolve_targets(backend, model, images, targets) -> list[int] | Any:
    """Class index per image; None means each image's predicted class. Neuron/ChannelMean pass through."""
    if isinstance(targets, (Neuron, ChannelMean)):
        return targets
    if isinstance(targets, ClassScore):
        targets = targets.index
    if targets is None:
        return [int(i) for i in backend.predict(model, images).argmax(axis=1)]
    if np.ndim(targets) == 0:
        return [int(targets)] * len(images)
    if len(targets) != len(images):
        raise ValueError(f"{len(targets)} targets for {len(images)} images")
    return [int(t) for t in targets]


def as_target(targets):
    """The backend target for a list of class indices (or a neuron / channel as given)."""
    return targets if isinstance(targets, (Neuron, ChannelMean)) else ClassScore(list(targets))


def bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of bilinear resizing with half-pixel centres (torch align_corners=False)."""
    src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of (N, h, w) maps to (N, H, W), as Grad-CAM shows them over the input."""
    rows, cols = bilinear_matrix(maps.shape[1], size[0]), bilinear_matrix(maps.shape[2], size[1])
    return (rows @ np.asarray(maps, np.float32) @ cols.T).astype(np.float32)  # two small matmuls per map


def chunks(n: int, size: int) -> Sequence[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def normalise(maps: np.ndarray) -> np.ndarray:
    """Each map scaled to [0, 1] (a flat map stays 0)."""
    maps = np.asarray(maps, dtype=np.float32)
    axes = tuple(range(1, maps.ndim))
    lo, hi = maps.min(axis=axes, keepdims=True), maps.max(axis=axes, keepdims=True)
    return np.where(hi > lo, (maps - lo) / np.where(hi > lo, hi - lo, 1), 0).astype(np.float32)


def explain_layer(backend, model) -> str:
    """The layer worth explaining: the architecture's choice, else the last layer with a spatial output."""
    arch = arch_of(model)
    if arch is not None and arch.explain_layer:
        return arch.explain_layer
    spatial = [row for row in backend.summary(model) if len(row.output_shape) == 3]
    if not spatial:
        raise ValueError("this model has no layer with a spatial (H, W, C) output to explain")
    convs = [row for row in spatial if "conv" in row.type.lower()]
    return (convs or spatial)[-1].name


def conv_layers(backend, model) -> list[str]:
    """Names of the layers with a spatial output, in order (the places feature maps can be read)."""
    return [row.name for row in backend.summary(model) if len(row.output_shape) == 3]

"""Data augmentation in the vocabulary of Keras' ImageDataGenerator (seed 001).

The core parses and checks the settings; each backend realises them with its framework's own
augmentation (Keras preprocessing layers, torchvision transforms v2) inside its training.py,
and `preview` asks a backend for augmented copies of one image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

FILL_MODES = ("nearest", "constant", "reflect", "wrap")


@dataclass(frozen=True)
class Augment:
    rotation_range: float = 0.0  # degrees, 0-180: rotate by a random angle in [-r, r]
    width_shift_range: float = 0.0  # fraction of the width, 0-1
    height_shift_range: float = 0.0  # fraction of the height, 0-1
    shear_range: float = 0.0  # shear angle in degrees (as ImageDataGenerator reads it), 0-45
    zoom_range: float = 0.0  # a random factor in [1 - z, 1 + z] that shrinks the content (Keras' zoom)
    horizontal_flip: bool = False
    vertical_flip: bool = False
    fill_mode: str = "nearest"  # how new pixels are filled: nearest, constant (0), reflect, wrap

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name != "fill_mode")

    def as_dict(self) -> dict:
        return asdict(self)


# The settings of seed 001's slide "Data Augmentation via ImageDataGenerator".
SEED_001 = Augment(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
                   zoom_range=0.2, horizontal_flip=True, fill_mode="nearest")

# Shear stops at 45 degrees: Keras' RandomShear takes tan(angle), which it requires to be <= 1.
_LIMITS = {"rotation_range": (0, 180), "width_shift_range": (0, 1), "height_shift_range": (0, 1),
           "shear_range": (0, 45), "zoom_range": (0, 0.95)}
_WHY = {"shear_range": " degrees (Keras' RandomShear takes tan(angle), at most 1)"}


def parse(value) -> Augment:
    """An Augment from an Augment, a dict, None, or "key=value,key=value" (the CLI's --augment)."""
    if isinstance(value, Augment):
        return value
    if value is None or value == "" or value == {}:
        return Augment()
    if isinstance(value, str):
        # the preset of the lecture slides "Convolutional Neural Networks (CNN)" (seed001: its old name)
        if value.strip().lower() in ("slides", "seed001", "seed-001", "seed_001"):
            return SEED_001
        pairs = {}
        for part in filter(None, (p.strip() for p in value.split(","))):
            if "=" not in part:
                raise ValueError(f"augmentation {part!r} must be KEY=VALUE (e.g. rotation_range=40)")
            k, v = part.split("=", 1)
            pairs[k.strip()] = v.strip()
        value = pairs
    if not isinstance(value, dict):
        raise ValueError(f"augmentation must be KEY=VALUE pairs or a dict, not {type(value).__name__}")
    known = {f.name: f for f in fields(Augment)}
    out = {}
    for key, raw in value.items():
        if key not in known:
            raise ValueError(f"unknown augmentation {key!r}; known: {', '.join(known)}")
        if known[key].type == "bool":
            if isinstance(raw, str):
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(f"augmentation {key} must be true or false, got {raw!r}")
                raw = raw.lower() in ("true", "1", "yes")
            out[key] = bool(raw)
        elif key == "fill_mode":
            if raw not in FILL_MODES:
                raise ValueError(f"fill_mode must be one of {', '.join(FILL_MODES)}, got {raw!r}")
            out[key] = raw
        else:
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"augmentation {key} must be a number, got {raw!r}") from None
            lo, hi = _LIMITS[key]
            if not lo <= number <= hi:
                raise ValueError(f"augmentation {key} must be between {lo} and {hi}{_WHY.get(key, '')}, "
                                 f"got {raw}")
            out[key] = number
    return Augment(**out)


def preview(backend, image: np.ndarray, augment, n: int = 8, seed: int = 0) -> np.ndarray:
    """`n` augmented copies (NHWC) of one HWC image, made by the backend's own augmentation."""
    spec = parse(augment)
    batch = np.repeat(np.asarray(image, np.float32)[None], n, axis=0)
    out = backend.augment(batch, spec, seed=seed)
    return np.clip(out, 0.0, 1.0)

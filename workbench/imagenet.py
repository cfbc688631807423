"""ImageNet for pretrained models: the 1000 class names, the preprocessing maths, top-5 decoding.

The class names are torchvision's (BSD), shipped as ``imagenet_classes.txt`` beside this
module so that they load offline and without a framework. Preprocessing is plain numpy and
PIL: what a student reads here is exactly what the model is fed. Which recipe a model wants is
its architecture's to say (``Architecture.preprocessing``, or its backend's native builder's).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

_CLASSES_FILE = Path(__file__).with_name("imagenet_classes.txt")


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    names = tuple(line.strip() for line in _CLASSES_FILE.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(names) != 1000:
        raise RuntimeError(f"{_CLASSES_FILE} should list 1000 ImageNet classes, found {len(names)}")
    return names


# -- preprocessing -----------------------------------------------------------------------
def resize_center_crop(image: np.ndarray, resize: int = 256, crop: int = 224) -> np.ndarray:
    """Resize the shorter side to ``resize`` (PIL bilinear), then cut the central ``crop`` square.

    ``image``: HxWx3 uint8 (or float in [0, 255]). Returns crop x crop x 3 float32 in [0, 255].
    """
    image = as_rgb_uint8(image)
    h, w = image.shape[:2]
    # torchvision's Resize(int) computes the long side the same way.
    size = (resize, int(resize * w / h)) if h <= w else (int(resize * h / w), resize)
    pil = Image.fromarray(image).resize((size[1], size[0]), Image.BILINEAR)
    out = np.asarray(pil, dtype=np.float32)
    top = int(round((out.shape[0] - crop) / 2.0))
    left = int(round((out.shape[1] - crop) / 2.0))
    if top < 0 or left < 0:
        raise ValueError(f"cannot crop {crop}x{crop} out of a {out.shape[0]}x{out.shape[1]} image")
    return out[top:top + crop, left:left + crop]


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """HxW (grey), HxWx1, HxWx3 or HxWx4 -> HxWx3 uint8. Floats in [0, 1] are scaled to [0, 255]."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an image HxW, HxWx1, HxWx3 or HxWx4, got shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = image.astype(np.float64)
        if image.max(initial=0) <= 1.0:
            image = image * 255.0
        image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return image


@dataclass(frozen=True)
class Preprocessing:
    """How a pretrained model wants its input: resize, crop, then (x/255 - mean) / std per channel."""

    resize: int = 256
    crop: int = 224
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)  # in [0, 1] units
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    bgr: bool = False  # caffe-style models (Keras VGG16/ResNet50) want BGR and no std
    scale: float = 1.0 / 255.0  # caffe-style models keep the 0..255 range

    def __call__(self, images) -> np.ndarray:
        """One image (HxWxC) or a list/batch of images -> NHWC float32, ready for the model."""
        if isinstance(images, np.ndarray) and images.ndim in (2, 3):
            images = [images]
        batch = np.stack([resize_center_crop(im, self.resize, self.crop) for im in images])
        return self.normalize(batch)

    def normalize(self, batch: np.ndarray) -> np.ndarray:
        """NHWC in [0, 255] (already the model's size) -> the model's input."""
        x = np.asarray(batch, dtype=np.float32) * np.float32(self.scale)
        x = (x - np.asarray(self.mean, np.float32) * np.float32(255 * self.scale)) / np.asarray(self.std, np.float32)
        return x[..., ::-1].copy() if self.bgr else x

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        """The inverse of normalize, back to [0, 255] RGB (to display what the model saw)."""
        x = np.asarray(x, dtype=np.float32)
        x = x[..., ::-1] if self.bgr else x
        x = x * np.asarray(self.std, np.float32) + np.asarray(self.mean, np.float32) * np.float32(255 * self.scale)
        return x / np.float32(self.scale)


def preprocessing_of(arch, backend: str | None = None) -> Preprocessing | None:
    """What an architecture's weights want as input: the backend's native builder's own recipe
    when it brings one (torchvision's and keras.applications' VGG16 are different weights), else
    the architecture's (``Architecture.preprocessing``); None when it takes images as they are."""
    own = getattr(arch.native.get(backend), "preprocessing", None) if backend else None
    return own or arch.preprocessing


def preprocessing(model, backend: str | None = None) -> Preprocessing:
    """The preprocessing of a pretrained model: a registered architecture's name or the Architecture
    (``backend``: "pytorch" / "tensorflow", needed where each backend's weights want their own)."""
    arch = _registered(model) if isinstance(model, str) else model
    found = preprocessing_of(arch, backend)
    if found is not None:
        return found
    per_backend = sorted(b for b, native in arch.native.items() if getattr(native, "preprocessing", None))
    if per_backend and backend is None:
        raise KeyError(f"{arch.name!r} has a preprocessing per backend ({', '.join(per_backend)}); say which backend")
    raise KeyError(f"no preprocessing registered for {arch.name!r}" + (f" in the {backend} backend" if backend else ""))


def _registered(name: str):
    from workbench.registry import get_registry

    archs = get_registry().architectures()
    # the zoo models are registered as "vgg16-imagenet"; "vgg16" finds them too
    arch = archs.get(name) or archs.get(f"{name}-imagenet")
    if arch is None:
        raise KeyError(f"no preprocessing registered for {name!r}: no architecture of that name")
    return arch


def registered(name: str) -> bool:
    """Whether the model (by name, with or without "-imagenet") has a preprocessing in some backend."""
    try:
        arch = _registered(name)
    except KeyError:
        return False
    return arch.preprocessing is not None or any(getattr(n, "preprocessing", None) for n in arch.native.values())


def preprocess(model, images, backend: str | None = None) -> np.ndarray:
    return preprocessing(model, backend)(images)


# -- decoding ----------------------------------------------------------------------------
def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def decode_top(scores: np.ndarray, k: int = 5, names: tuple[str, ...] | None = None,
               are_logits: bool = True) -> list[list[dict]]:
    """Per image, the k best classes as [{"index", "name", "probability"}], best first."""
    scores = np.atleast_2d(np.asarray(scores))
    probs = softmax(scores) if are_logits else scores
    names = names or class_names()
    if probs.shape[1] != len(names):
        raise ValueError(f"{probs.shape[1]} scores per image but {len(names)} class names")
    out = []
    for row in probs:
        best = np.argsort(-row, kind="stable")[:k]
        out.append([{"index": int(i), "name": names[i], "probability": float(row[i])} for i in best])
    return out

"""The one catalogue of offline sample photos (shipped with scikit-image and scikit-learn)
and the grey views the convolution lesson works on.

Every photo comes back as an HxWx3 uint8 RGB array, so a lesson can show it as it is and hand
it to ``workbench.imagenet.preprocess`` for a pretrained model; ``grey`` gives the same photo
as grey floats in [0, 1] for hand-written convolutions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from workbench.imagenet import as_rgb_uint8


@dataclass(frozen=True)
class Sample:
    name: str
    description: str
    source: str
    load: Callable[[], np.ndarray]
    kind: str = "photo"  # "photo": an object an ImageNet classifier can name; "texture": a pattern only


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load():
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load():
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in (
        Sample("chelsea", "Chelsea the cat", "scikit-image (CC0)", _skimage("chelsea")),
        Sample("coffee", "a cup of coffee", "scikit-image (CC0)", _skimage("coffee")),
        Sample("astronaut", "astronaut Eileen Collins", "scikit-image (public domain)", _skimage("astronaut")),
        Sample("rocket", "a rocket on its launch pad", "scikit-image (public domain)", _skimage("rocket")),
        Sample("camera", "a cameraman (greyscale)", "scikit-image", _skimage("camera")),
        Sample("coins", "Greek coins (greyscale)", "scikit-image", _skimage("coins")),
        Sample("clock", "a wall clock (greyscale)", "scikit-image", _skimage("clock")),
        Sample("china", "a Chinese temple", "scikit-learn", _sklearn("china.jpg")),
        Sample("flower", "a flower", "scikit-learn", _sklearn("flower.jpg")),
        Sample("brick", "a brick wall (greyscale)", "scikit-image (CC0)", _skimage("brick"), kind="texture"),
    )
}
KINDS = ("photo", "texture")


def names(kind: str | None = None) -> list[str]:
    """Every sample's name, or those of one kind ("photo" or "texture")."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind of sample {kind!r}; choose one of: {', '.join(KINDS)}")
    return [n for n, s in SAMPLES.items() if kind is None or s.kind == kind]


@lru_cache(maxsize=None)
def _cached(name: str) -> np.ndarray:
    image = as_rgb_uint8(SAMPLES[name].load())
    image.setflags(write=False)  # shared between callers: nobody may change it in place
    return image


def load(name: str) -> np.ndarray:
    """A sample photo by name, HxWx3 uint8 RGB (read-only, cached)."""
    if name not in SAMPLES:
        raise KeyError(f"no sample photo {name!r}; known: {', '.join(SAMPLES)}")
    return _cached(name)


def load_all(selected=None) -> dict[str, np.ndarray]:
    return {name: load(name) for name in (selected or SAMPLES)}


def to_grey(image: np.ndarray) -> np.ndarray:
    """Grey float image in [0, 1] from grey, RGB or RGBA, integer or float."""
    import skimage.color
    import skimage.util

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 4:
        image = skimage.color.rgba2rgb(image)
    if image.ndim == 3:
        image = skimage.color.rgb2gray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a grey or colour image, got an array of shape {image.shape}")
    return skimage.util.img_as_float(image).astype(float)


def grey(name: str) -> np.ndarray:
    """A sample photo as grey floats in [0, 1] (a new array: the caller may change it)."""
    return to_grey(load(name))


def fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (never enlarge) so the longer side is at most max_side: lessons stay quick."""
    import skimage.transform

    if max(image.shape) <= max_side:
        return image
    return skimage.transform.rescale(image, max_side / max(image.shape), anti_aliasing=True)


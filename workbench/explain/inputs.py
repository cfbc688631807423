"""From photos and a model name to what the methods need: the model, its inputs, its predictions.

Shared by the `workbench explain` command and the explanation page, so both feed a model
exactly the same numbers: a pretrained model's own preprocessing (workbench.imagenet), or,
for a workbench architecture, the photo resized to its input shape and scaled to [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from workbench import image_decoder, imagenet, lookup, samples
from workbench.explain.heads import two_columns
from workbench.model_facts import arch_of, standardizer_of


def load_image(source: str) -> np.ndarray:
    """`sample:NAME` (an offline photo) or a file path -> HxWx3 uint8 RGB."""
    if source.startswith("sample:"):
        return samples.load(source.split(":", 1)[1])
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no image file {source} (or use sample:NAME, one of {', '.join(samples.names())})")
    return image_decoder.decode(path)


def dataset_inputs(backend, model, dataset: str, count: int) -> np.ndarray:
    """The first ``count`` test images of a registered dataset, fed to ``model`` as its photos are
    (``model_inputs``): what a method that ranks over a dataset ranks over."""
    x = lookup.dataset(dataset).load("test")[0][:count]
    photos = [(np.clip(image, 0, 1) * 255).astype(np.uint8) for image in x]  # as the page shows them
    return model_inputs(arch_of(model), backend.name, photos, model)[0]


def load_model(backend, name: str):
    """(model, architecture) for a registered architecture, an architecture file, or a saved model."""
    path = Path(name)
    if path.exists() and path.suffix.lower() not in (".json", ".yaml", ".yml"):
        model = backend.load(path)
        return model, arch_of(model)
    arch = lookup.architecture(name)
    return backend.build(arch), arch


def preprocessing(arch, backend_name: str):
    """The pretrained model's preprocessing, or None for a workbench architecture."""
    try:
        return imagenet.preprocessing(arch.name, backend_name)
    except KeyError:
        return None


def model_inputs(arch, backend_name: str, photos: list[np.ndarray], model=None) -> tuple[np.ndarray, np.ndarray]:
    """(x for the model, the same images in [0, 1] to show): NHWC float32 both.

    A model trained on standardised inputs carries its training statistics as
    workbench.model_facts (a workbench.data.Standardizer): it is explained on inputs
    standardised the same way, as it was trained and tested."""
    pre = preprocessing(arch, backend_name) if arch is not None else None
    if pre is not None:
        x = pre(photos)
        return x, np.clip(pre.denormalize(x) / 255.0, 0, 1)
    h, w, c = arch.input_shape
    shown = []
    for photo in photos:
        image = Image.fromarray(imagenet.as_rgb_uint8(photo)).resize((w, h), Image.BILINEAR)
        shown.append(np.asarray(image.convert("L" if c == 1 else "RGB"), np.float32).reshape(h, w, c) / 255.0)
    shown = np.stack(shown)
    standardizer = standardizer_of(model)
    x = shown if standardizer is None else np.asarray(standardizer(shown), np.float32)
    return x, shown


def class_names(arch, count: int) -> list[str]:
    names = getattr(arch, "class_names", None)
    return list(names) if names and len(names) == count else [f"class {i}" for i in range(count)]


def predictions(backend, model, arch, x, k: int = 5) -> list[list[dict]]:
    """Per image, the k most probable classes: {"index", "name", "probability"} (a one-unit sigmoid
    head as its two classes)."""
    probs = two_columns(backend.predict(model, x))
    names = class_names(arch, probs.shape[1])
    return [[{"index": int(i), "name": names[i], "probability": float(row[i])}
             for i in np.argsort(-row, kind="stable")[:k]] for row in probs]

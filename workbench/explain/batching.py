"""How many perturbed images to send through the model at once, found by measuring.

Perturbation methods (occlusion, LIME, deletion/insertion curves) push hundreds of copies of one
image forward. The best batch size depends on the device and the model far more than on any rule:
on a 2-core CPU, EfficientNet-Lite0 at 224x224 ran 5 ms per image in batches of 4 and 10 ms in
batches of 8 (the activations stop fitting in the cache); on a GPU, hundreds per batch are fastest.
So the first perturbation run on a model times a few batch sizes on copies of the real image and
keeps the fastest, per model, image size and device.
"""

from __future__ import annotations

import time
import weakref

import numpy as np

CPU_SIZES = (1, 2, 4, 8, 16)
GPU_SIZES = (16, 32, 64, 128, 256, 512)
MAX_INPUT_BYTES = 2**30  # a GPU batch never holds more than 1 GiB of input images
SLOWER = 1.3  # stop trying bigger batches once one is this much slower per image than the best

_chosen: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # model -> {(shape, device): size}


def on_gpu(backend) -> bool:
    device = str(backend.device()).lower()
    return any(kind in device for kind in ("cuda", "gpu", "mps"))


def candidates(backend, image_shape) -> tuple[int, ...]:
    if not on_gpu(backend):
        return CPU_SIZES
    per_image = int(np.prod(image_shape)) * 4
    return tuple(b for b in GPU_SIZES if b * per_image <= MAX_INPUT_BYTES) or (1,)


def seconds_per_image(backend, model, copies: np.ndarray) -> float:
    """Best of two timed forward passes of the whole batch (after one untimed), per image."""
    backend.predict(model, copies, batch_size=len(copies))
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        backend.predict(model, copies, batch_size=len(copies))
        best = min(best, time.perf_counter() - start)
    return best / len(copies)


def fastest(backend, model, image: np.ndarray, sizes) -> tuple[int, dict[int, float]]:
    """The batch size with the lowest time per image, and every size's time per image."""
    copies = np.repeat(np.asarray(image, np.float32)[None], max(sizes), axis=0)
    times: dict[int, float] = {}
    for size in sizes:
        times[size] = seconds_per_image(backend, model, copies[:size])
        if times[size] > SLOWER * min(times.values()):
            break  # bigger batches only get slower from here (cache, then memory)
    return min(times, key=times.get), times


def batch_size_for(backend, model, image: np.ndarray) -> int:
    """The measured best number of copies of `image` per forward pass, remembered per model."""
    backend = getattr(backend, "backend", backend)  # an explainer's metered backend: don't count the trials
    key = (tuple(image.shape), str(backend.device()))
    try:
        known = _chosen.setdefault(model, {})
    except TypeError:  # a model that cannot be weakly referenced: measure, don't remember
        known = {}
    if key not in known:
        known[key], _ = fastest(backend, model, image, candidates(backend, image.shape))
    return known[key]

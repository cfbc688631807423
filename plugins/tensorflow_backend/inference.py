"""Forward passes of a Keras model: logits and named layers' outputs, batched, in inference mode.

A "probe" is a functional model over the same layers whose outputs are the asked layers plus
the model's output; it shares every weight with the model. Modes (logits without the final
softmax, guided ReLUs) swap the layers' ``activation`` for one call and put it back.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from workbench import graph
from workbench.model_facts import arch_of

_probes: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

if keras.backend.backend() != "tensorflow":
    raise ImportError(f"the TensorFlow backend needs Keras on TensorFlow, but KERAS_BACKEND is {keras.backend.backend()!r}")

# TensorFlow takes all GPU memory at its first use unless told to grow; PyTorch may share the GPU.
for _gpu in tf.config.list_physical_devices("GPU"):
    try:
        tf.config.experimental.set_memory_growth(_gpu, True)
    except RuntimeError:  # the GPU is already initialised: too late, and nothing to do
        pass


def device() -> str:
    return "GPU:0" if tf.config.list_physical_devices("GPU") else "cpu"


def gpu_name() -> str | None:
    gpus = tf.config.list_physical_devices("GPU")
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name) if gpus else None


def reset_peak_memory() -> None:
    if device() != "cpu":
        tf.config.experimental.reset_memory_stats(device())


def peak_memory() -> int | None:
    return int(tf.config.experimental.get_memory_info(device())["peak"]) if device() != "cpu" else None


def probe(model, names: Sequence[str]):
    """A model with outputs [*layers named, model output], built once per model and names."""
    key = tuple(names)
    cache = _probes.setdefault(model, {})
    if key not in cache:
        outputs = [model.get_layer(name).output for name in key] + [model.outputs[0]]
        cache[key] = keras.Model(model.inputs, outputs)
    return cache[key]


def compiled_logits(model):
    """The logits pass as a tf.function (about twice as fast as eager on CPU), traced once per
    model inside logits_mode, so the trace keeps the final activation left out."""
    cache = _probes.setdefault(model, {})
    if "logits" not in cache:
        run = probe(model, [])
        cache["logits"] = tf.function(lambda x: run(x, training=False), reduce_retracing=True)
    return cache["logits"]


def _activation_name(layer) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "")


def final_layer(model):
    """The layer whose softmax/sigmoid the logits leave out (None if the model ends without one)."""
    arch = arch_of(model)
    if arch is not None and arch.is_spec:
        name = graph.final_activation(arch)[0]
        return model.get_layer(name) if name else None
    last = model.layers[-1]
    return last if _activation_name(last) in graph.SQUASHING else None


@contextmanager
def swapped(swaps: dict):
    """Set attributes {(layer, attribute): value} for the duration, then restore them."""
    saved = {key: getattr(*key) for key in swaps}
    try:
        for (layer, attr), value in swaps.items():
            setattr(layer, attr, value)
        yield
    finally:
        for (layer, attr), value in saved.items():
            setattr(layer, attr, value)


def logits_mode(model):
    layer = final_layer(model)
    return swapped({(layer, "activation"): keras.activations.linear} if layer is not None else {})


def to_numpy(t) -> np.ndarray:
    return np.asarray(t, dtype=np.float32)


def forward(model, x: np.ndarray, names: Sequence[str], batch_size: int = 64, logits: bool = True):
    """(logits or outputs, {name: array}) for all images, batch by batch."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"expected images as an (N, H, W, C) array, got shape {x.shape}")
    # Only the logits pass is compiled: it is the one called over and over (LIME, occlusion);
    # each set of layers asked for once would cost a trace longer than its eager run.
    if logits and not names:
        run = compiled_logits(model)
    else:
        run = lambda x, model_=probe(model, list(dict.fromkeys(names))): model_(x, training=False)  # noqa: E731
    outs, acts = [], {name: [] for name in names}
    batch_size = max(1, int(batch_size))
    with tf.device(device()), logits_mode(model) if logits else swapped({}):
        for start in range(0, len(x), batch_size):
            result = run(tf.constant(x[start: start + batch_size]))
            result = result if isinstance(result, (list, tuple)) else [result]
            outs.append(to_numpy(result[-1]))
            for name, value in zip(dict.fromkeys(names), result[:-1]):
                acts[name].append(to_numpy(value))
    empty = np.zeros((0,), np.float32)
    return (
        np.concatenate(outs) if outs else empty,
        {name: np.concatenate(parts) if parts else empty for name, parts in acts.items()},
    )

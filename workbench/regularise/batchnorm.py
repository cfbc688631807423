"""Batch normalisation's two steps from "CNNs part II", by hand, next to the frameworks' layer.

Step 1 standardises each channel with the batch's mean and std, step 2 scales by alpha (the
frameworks' gamma) and shifts by beta. The frameworks divide by sqrt(var + eps) (the biased
batch variance); the slide writes stdev + eps, which differs only where the std is tiny. At
inference the layer uses its moving averages instead of the batch's statistics.
"""

from __future__ import annotations

import numpy as np

from workbench import spec as S


def by_hand(x: np.ndarray, gamma, beta, moving_mean, moving_variance, epsilon: float, training: bool,
            slide: bool = False) -> np.ndarray:
    """BN(x) over the last axis; training: the batch's statistics (over every other axis)."""
    x = np.asarray(x, np.float64)
    axes = tuple(range(x.ndim - 1))
    mean, var = (x.mean(axes), x.var(axes)) if training else (np.asarray(moving_mean), np.asarray(moving_variance))
    scale = np.sqrt(var) + epsilon if slide else np.sqrt(var + epsilon)
    x_hat = (x - mean) / scale  # step 1
    return np.asarray(gamma) * x_hat + np.asarray(beta)  # step 2


def layer_model(input_shape=(4, 4, 3)) -> S.Architecture:
    """Images -> BatchNormalization("bn") -> a small head (a spec needs one to be a classifier)."""
    return S.parse_architecture({"name": "bn-demo", "input_shape": list(input_shape), "num_classes": 2, "layers": [
        {"type": "BatchNormalization", "name": "bn"}, {"type": "Flatten"}, {"type": "Dense", "units": 2}]})


def compare(backend, x: np.ndarray, seed: int = 0) -> dict:
    """The framework's BatchNormalization on one batch, with gamma, beta and moving statistics
    set to known values, in training and inference mode, beside the hand computation."""
    x = np.asarray(x, np.float32)
    arch = layer_model(x.shape[1:])
    model = backend.build(arch, seed=seed)
    rng = np.random.default_rng(seed)
    c = x.shape[-1]
    gamma, beta = rng.uniform(0.5, 2.0, c), rng.normal(0, 1, c)
    moving_mean, moving_var = rng.normal(0, 1, c), rng.uniform(0.5, 3.0, c)
    weights = backend.get_weights(model)
    weights["bn"] = [np.asarray(a, np.float32) for a in (gamma, beta, moving_mean, moving_var)]
    backend.set_weights(model, weights)
    epsilon = float(next(v for k, v in backend.layer_config(model, "bn")["settings"].items() if k in ("epsilon", "eps")))
    out = {"epsilon": epsilon, "gamma": gamma.tolist(), "beta": beta.tolist(),
           "batch_mean": x.mean((0, 1, 2)).tolist(), "batch_std": x.std((0, 1, 2)).tolist(),
           "moving_mean": moving_mean.tolist(), "moving_variance": moving_var.tolist()}
    for mode, training in (("training", True), ("inference", False)):
        framework = backend.activations(model, x, ["bn"], batch_size=len(x), training=training)["bn"]
        hand = by_hand(x, gamma, beta, moving_mean, moving_var, epsilon, training)
        slide = by_hand(x, gamma, beta, moving_mean, moving_var, epsilon, training, slide=True)
        out[mode] = {"framework": framework, "hand": hand, "max_abs_difference": float(np.abs(framework - hand).max()),
                     "slide_max_abs_difference": float(np.abs(framework - slide).max())}
    return out


def conventions(backend, seed: int = 0) -> dict:
    """The framework's own BatchNormalization as the spec's layer (Keras' momentum 0.99, eps 1e-3)
    builds it, and the framework class's defaults, read from the framework."""
    cfg = backend.layer_config(backend.build(layer_model(), seed=seed), "bn")
    pick = lambda d, *keys: next((d[k] for k in keys if k in d), None)  # noqa: E731 - Keras vs torch names
    return {"class": cfg["class"],
            "momentum": pick(cfg["settings"], "momentum"), "epsilon": pick(cfg["settings"], "epsilon", "eps"),
            "default_momentum": pick(cfg["defaults"], "momentum"), "default_epsilon": pick(cfg["defaults"], "epsilon", "eps")}


def moving_average(old: float, batch: float, keras_momentum: float) -> float:
    """One update of a moving statistic, Keras' way: momentum * old + (1 - momentum) * batch.
    PyTorch writes the same average with momentum' = 1 - momentum: (1 - m') * old + m' * batch."""
    return keras_momentum * old + (1 - keras_momentum) * batch

"""Dropout's expected output, three ways: the lecture's enumeration of masks, a Monte-Carlo
estimate through a framework's real Dropout layer in training mode, and its inference output.

The lecture ("CNNs part II") drops x and y of a neuron a = w0 x + w1 y with p = 0.5 and finds
E[a] = 1/2 (w0 x + w1 y), so it scales the weights by 1 - p at test time. Keras and PyTorch use
*inverted* dropout instead: kept units are multiplied by 1 / (1 - p) during training, so the
expectation is w0 x + w1 y already and inference leaves the layer out.
"""

from __future__ import annotations

import itertools

import numpy as np

from workbench import spec as S


def check_rate(p: float) -> float:
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"the dropout probability must be in [0, 1), got {p}")
    return p


def masks(p: float) -> list[dict]:
    """Every keep/drop mask of (x, y), with its probability (each input dropped with p)."""
    p = check_rate(p)
    return [{"keep_x": kx, "keep_y": ky, "probability": (1 - p if kx else p) * (1 - p if ky else p)}
            for kx, ky in itertools.product((0, 1), repeat=2)]


def enumerated(w0: float, w1: float, x: float, y: float, p: float) -> tuple[float, list[dict]]:
    """E[a] over the four masks without rescaling (the lecture's sum), and each mask's a."""
    rows = [{**m, "a": w0 * x * m["keep_x"] + w1 * y * m["keep_y"]} for m in masks(p)]
    return sum(r["probability"] * r["a"] for r in rows), rows


def neuron(p: float) -> S.Architecture:
    """The lecture's neuron as a spec: inputs (x, y) -> Dropout(p) -> a = w0 x + w1 y (no bias)."""
    return S.parse_architecture({"name": "dropout-neuron", "input_shape": [1, 1, 2], "num_classes": 1, "layers": [
        {"type": "Dropout", "rate": check_rate(p), "name": "dropout"}, {"type": "Flatten", "name": "flatten"},
        {"type": "Dense", "units": 1, "use_bias": False, "name": "a"}]})


def expectation(backend, w0: float, w1: float, x: float, y: float, p: float, samples: int = 10000,
                seed: int = 0) -> dict:
    """What `workbench regularise dropout` prints: the enumeration, the framework's Monte-Carlo
    mean and standard error over `samples` training-mode passes, its inference output, and the
    lecture's test-time scaling (1 - p)(w0 x + w1 y)."""
    samples = int(samples)
    if samples < 2:
        raise ValueError(f"--samples must be at least 2, got {samples}")
    value, _ = enumerated(w0, w1, x, y, p)
    model = backend.build(neuron(p), seed=seed)
    backend.set_weights(model, {"a": [np.array([[w0], [w1]], np.float32)]})
    inputs = np.tile(np.array([x, y], np.float32).reshape(1, 1, 1, 2), (samples, 1, 1, 1))
    a = backend.activations(model, inputs, ["a"], batch_size=samples, training=True)["a"].reshape(-1)
    a = a.astype(np.float64)
    inference = float(backend.activations(model, inputs[:1], ["a"])["a"].reshape(-1)[0])
    return {"enumerated": float(value),
            "monte_carlo": {"mean": float(a.mean()), "se": float(a.std(ddof=1) / np.sqrt(samples))},
            "inference": inference,
            "lecture_test_scaling": float((1 - p) * (w0 * x + w1 * y))}


def scaling(backend, p: float, n: int = 4000, seed: int = 0) -> dict:
    """What the framework's Dropout does to ones in training mode: the fraction it drops and the
    factor it multiplies the kept ones by (inverted dropout: 1 / (1 - p)), and its inference output."""
    model = backend.build(neuron(p), seed=seed)
    ones = np.ones((int(n) // 2, 1, 1, 2), np.float32)
    out = backend.activations(model, ones, ["dropout"], batch_size=len(ones), training=True)["dropout"]
    kept = out[out != 0]
    return {"dropped_fraction": float(np.mean(out == 0)),
            "kept_scale": float(kept.mean()) if kept.size else None,
            "kept_scale_spread": float(np.ptp(kept)) if kept.size else None,
            "inverted_scale": 1.0 / (1.0 - p),
            "inference": float(backend.activations(model, ones[:1], ["dropout"])["dropout"].mean())}


def passes(backend, model, image: np.ndarray, layer: str, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """A model's `layer` output for one image: n training-mode passes (each its own dropout
    mask) and the one inference pass."""
    batch = np.repeat(np.asarray(image, np.float32)[None], int(n), axis=0)
    return (backend.activations(model, batch, [layer], batch_size=len(batch), training=True)[layer],
            backend.activations(model, batch[:1], [layer])[layer][0])

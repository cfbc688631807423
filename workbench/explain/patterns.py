"""Filter patterns by gradient ascent (seeds 001 and 003): start from grey noise and climb the
mean activation of one channel, with the gradient normalised to unit RMS at every step."""

from __future__ import annotations

import numpy as np

from workbench.backend import ChannelMean
from workbench.explain.activations import tile
from workbench.explain.base import Explainer, Explanation, Param, explain_layer


def deprocess(x: np.ndarray) -> np.ndarray:
    """Seed 001's deprocess_image: centre, std 0.1, +0.5, clip to [0, 1], to uint8."""
    x = x - x.mean()
    x = x / (x.std() + 1e-5) * 0.1 + 0.5
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def gradient_ascent(backend, model, layer, channel, start, steps, step):
    """The seed's loop: x += step * grad / rms(grad), `steps` times."""
    x = start.copy()
    for _ in range(steps):
        _, grads = backend.gradients(model, x, ChannelMean(layer, channel))
        x = x + step * grads / (np.sqrt(np.mean(grads**2)) + 1e-5)
    return x


class FilterPatterns(Explainer):
    name, title, family = "filter-patterns", "Filter patterns (gradient ascent)", "activation"
    description = ("The input each channel likes best: start from grey noise and follow the gradient of "
                   "the channel's mean activation uphill.")
    needs_targets = False
    params = (
        Param("layer", None, help="the layer whose channels to visualise (default: the last conv layer)"),
        Param("channels", 4, 1, 64, help="how many channels, from channel 0"),
        Param("steps", 20, 1, 500, help="gradient-ascent steps (seed 001: 40; each is a forward and a backward pass)"),
        Param("step", 3.0, 0.0, 100.0, help="step size, in 1/255 of the input's value range (seed 001: 1, with 40 steps)"),
        Param("seed", 0, 0, None),
    )

    def compute(self, backend, model, images, targets, layer, channels, steps, step, seed):
        layer = layer or explain_layer(backend, model)
        lo, hi = float(images.min()), float(images.max())  # the model's input units
        span = (hi - lo) or 1.0
        rng = np.random.default_rng(seed)
        shape = (1, *images.shape[1:])
        start = (lo + hi) / 2 + rng.random(shape, dtype=np.float32) * 20 / 255 * span  # seed: random*20 + 128
        patterns, gains = [], []
        for channel in range(channels):
            x = gradient_ascent(backend, model, layer, channel, start, steps, step / 255 * span)
            acts = backend.activations(model, np.concatenate([start, x]), [layer])[layer][..., channel]
            gains.append(float(acts[1].mean() - acts[0].mean()))
            patterns.append(deprocess(x[0]))
        return Explanation(self.name, grids={f"{layer} channels 0-{channels - 1}": tile(np.stack(patterns), 8, 2)},
                           steps={"layer": layer, "activation_gain": gains, "patterns": np.stack(patterns)})

"""Filter patterns by gradient ascent (seeds 001 and 003): start from grey noise and climb the
mean activation of one channel, with the gradient normalised to unit RMS at every step.

A channel whose activation does not grow (dead on the noise: zero gradient) is skipped and listed
in the steps, not shown as the starting noise."""

from __future__ import annotations

import numpy as np

from workbench.backend import ChannelMean
from workbench.explain.activations import tile
from workbench.explain.base import Explainer, Explanation, Param
from workbench.explain.layers import middle_layer, pre_activation

SKIP_LIMIT = 4  # try at most 4x as many channels as asked for before giving up on the dead ones


def deprocess(x: np.ndarray) -> np.ndarray:
    """Seed 001's deprocess_image: centre, std 0.1, +0.5, clip to [0, 1], to uint8."""
    x = x - x.mean()
    x = x / (x.std() + 1e-5) * 0.1 + 0.5
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def grey_noise(images: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """The seed's start, random * 20 + 128 in 0..255, in the model's input units (the images'
    range); and that range."""
    lo, hi = float(images.min()), float(images.max())
    span = (hi - lo) or 1.0
    noise = np.random.default_rng(seed).random((1, *images.shape[1:]), dtype=np.float32)
    return (lo + hi) / 2 + noise * 20 / 255 * span, span


def gradient_ascent(backend, model, layer, channels, start, steps, step):
    """The seed's loop, for several channels at once (one copy of the start per channel, each
    climbing its own channel's mean): x += step * grad / rms(grad), `steps` times, each copy's
    gradient normalised by its own RMS. A copy whose gradient is zero (the channel is dead on it)
    stays where it is."""
    x = np.repeat(start, len(channels), axis=0)
    target = ChannelMean(layer, list(channels))
    for _ in range(steps):
        _, grads = backend.gradients(model, x, target)
        rms = np.sqrt(np.mean(grads**2, axis=(1, 2, 3), keepdims=True))
        if not rms.any():  # every channel dead on its copy: nothing will move
            break
        x = x + step * grads / (rms + 1e-5)
    return x


class FilterPatterns(Explainer):
    name, title, family = "filter-patterns", "Filter patterns (gradient ascent)", "activation"
    description = ("The input each channel likes best: start from grey noise and follow the gradient of "
                   "the channel's mean activation uphill.")
    needs_targets = False
    params = (
        Param("layer", None, help="the layer whose channels to visualise (default: the deepest one at 1/8 "
                                  "of the input size or more, as max-patches)"),
        Param("channels", 4, 1, 64, help="how many channels, from channel 0; channels that do not respond "
                                         "are skipped"),
        Param("steps", 20, 1, 500, help="gradient-ascent steps (the lecture slides “Convolutional Neural Networks (CNN)”: 40; "
                                               "each is a forward and a backward pass)"),
        Param("step", 3.0, 0.0, 100.0, help="step size, in 1/255 of the input's value range (those slides: 1, with 40 steps)"),
        Param("seed", 0, 0, None),
    )

    def input_key(self, images, params):
        # the climb starts from noise: of the images only their size and value range (grey_noise)
        return images.shape[1:], float(images.min()), float(images.max())

    def compute(self, backend, model, images, targets, layer, channels, steps, step, seed):
        layer = layer or middle_layer(backend, model, images.shape[1])
        # climb the value before a separate activation (a ReLU6): a channel that is 0 on the noise
        # still has a gradient there, and one at its ceiling can still grow
        climbed = pre_activation(backend, model, layer)
        start, span = grey_noise(images, seed)
        available = {r.name: r.output_shape[-1] for r in backend.summary(model)}[layer]
        before = backend.activations(model, start, [layer])[layer][0]
        shown, gains, inputs, skipped, candidate = [], [], [], [], 0
        limit = min(available, SKIP_LIMIT * channels)
        while len(shown) < channels and candidate < limit:  # a second round replaces the dead ones
            batch = list(range(candidate, min(candidate + channels - len(shown), limit)))
            candidate = batch[-1] + 1
            x = gradient_ascent(backend, model, climbed, batch, start, steps, step / 255 * span)
            after = backend.activations(model, x, [layer])[layer]
            for k, channel in enumerate(batch):
                gain = float(after[k, ..., channel].mean() - before[..., channel].mean())  # after any clip
                if gain > 0:
                    shown.append(channel)
                    gains.append(gain)
                    inputs.append(x[k])
                else:  # dead, or stuck at its ceiling: its tile would be the starting noise
                    skipped.append(channel)
        if not shown:
            raise ValueError(f"no channel of {layer!r} grew under gradient ascent (tried {len(skipped)}); "
                             "pick another layer")
        patterns = np.stack([deprocess(x) for x in inputs])
        return Explanation(self.name, grids={f"{layer} channels {', '.join(map(str, shown))}": tile(patterns, 8, 2)},
                           steps={"layer": layer, "climbed": climbed, "channels": shown, "activation_gain": gains,
                                  "skipped": skipped, "patterns": patterns, "inputs": np.stack(inputs)})

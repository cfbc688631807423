"""Gradient methods: how much each input pixel moves the class score.

saliency (Simonyan et al. 2014), guided backpropagation (Springenberg et al. 2015),
SmoothGrad (Smilkov et al. 2017), Integrated Gradients (Sundararajan et al. 2017).
"""

from __future__ import annotations

import numpy as np

from workbench.backend import ChannelMean, ClassScore, Neuron
from workbench.explain.base import Explainer, Explanation, Param, as_target, chunks, explain_layer
from workbench.explain.layers import layers_before, pre_activation


class Saliency(Explainer):
    name, title, family = "saliency", "Saliency (vanilla gradient)", "gradient"
    description = ("Back-propagate the class score to the image; a pixel's saliency is |gradient| "
                   "maximised over the colour channels.")

    def compute(self, backend, model, images, targets):
        _, grads = backend.gradients(model, images, as_target(targets))
        return Explanation(self.name, maps=np.abs(grads).max(axis=-1))


class GuidedBackprop(Explainer):
    name, title, family = "guided-backprop", "Guided backpropagation", "gradient"
    description = ("Back-propagate through every ReLU only where both the forward activation and the "
                   "incoming gradient are positive. Explains a class, or one neuron of a layer.")
    params = (
        Param("neuron_layer", None, help="explain one neuron of this layer instead of the class: "
                                         "in each image, the position where the channel fires most"),
        Param("neuron_channel", 0, 0, None, help="the neuron's channel (feature map)"),
        Param("show_masks", False, help="also return the ReLU masks (at the explained layer, or just "
                                        "before the neuron's layer, where the gradient has spread)"),
    )

    def compute(self, backend, model, images, targets, neuron_layer, neuron_channel, show_masks):
        target, steps = as_target(targets), {}
        if neuron_layer:  # seed 002: keep one neuron, zero the rest, back-propagate to the image
            target = strongest_neurons(backend, model, images, neuron_layer, neuron_channel)
            steps = {"neuron_layer": neuron_layer, "explained_at": target.layer,
                     "neurons": None if target.row is None else list(zip(target.row, target.col))}
        _, grads = backend.gradients(model, images, target, relu="guided")
        if show_masks:
            steps |= guided_masks(backend, model, images, target)
        return Explanation(self.name, maps=np.abs(grads).max(axis=-1), images=grads, steps=steps)


def strongest_neurons(backend, model, images, layer, channel) -> Neuron:
    """Each image's own neuron: the position where `channel` of `layer` fires most in that image.

    Found and explained before the layer's activation when it has one of its own (a ReLU6 neuron
    at its ceiling ties with its neighbours and has a zero gradient; where it is not clipped the
    two gradients are the same)."""
    scored = pre_activation(backend, model, layer)
    acts = backend.activations(model, images, [scored])[scored]
    if acts.ndim == 2:  # a Dense layer: the unit itself
        return Neuron(scored, channel)
    if not 0 <= channel < acts.shape[-1]:
        raise ValueError(f"layer {layer!r} has {acts.shape[-1]} channels; channel {channel} is out of range")
    flat = acts[..., channel].reshape(len(acts), -1).argmax(axis=1)
    rows, cols = np.unravel_index(flat, acts.shape[1:3])
    return Neuron(scored, channel, [int(r) for r in rows], [int(c) for c in cols])


MASK_SEARCH = 12  # layers tried back from a neuron (EfficientNet: 9 from an expansion ReLU6 to a 5x5 depthwise)


def spread_layer(backend, model, images, target: Neuron) -> str:
    """The nearest layer before the neuron's where its guided gradient (in the first image) covers more
    than one position; searched on one image, one backward pass per layer tried."""
    first = Neuron(target.layer, *(v if np.ndim(v) == 0 else v[0] for v in (target.channel, target.row, target.col)))
    candidates = layers_before(backend, model, target.layer)[:MASK_SEARCH]
    for layer in candidates:
        _, grads = backend.gradients(model, images[:1], first, layer=layer, relu="guided")
        if np.count_nonzero(np.abs(grads[0]).sum(axis=-1)) > 1:
            return layer
    return candidates[-1] if candidates else target.layer


def guided_masks(backend, model, images, target) -> dict:
    """Guided backprop's two masks at one layer: where the forward activation is positive (plain
    backprop's ReLU mask) and where the guided gradient is positive (the deconvnet's); the gradient
    passes only where both hold.

    For a class, at the explained (last conv) layer. For a neuron, at the nearest layer before it
    where the gradient reaches more than one position: after the neuron's layer the gradient is
    zero, and between it and the next spatial convolution it sits on the neuron alone."""
    layer = explain_layer(backend, model) if isinstance(target, ClassScore) else spread_layer(backend, model, images, target)
    acts, grads = backend.gradients(model, images, target, layer=layer, relu="guided")
    forward, backward = acts > 0, grads > 0
    return {"mask_layer": layer, "forward_mask": forward.mean(axis=-1), "backward_mask": backward.mean(axis=-1),
            "passes": (forward & backward).mean(axis=-1)}


class SmoothGrad(Explainer):
    name, title, family = "smoothgrad", "SmoothGrad", "gradient"
    description = "Average the saliency of many noisy copies of the image: sharper, less speckled maps."
    params = (
        Param("samples", 16, 1, 200, help="noisy copies per image"),
        Param("noise", 0.15, 0.0, 1.0, help="noise std as a fraction of the image's value range"),
        Param("seed", 0, 0, None),
        Param("batch", 32, 1, 1024, help="copies per backward pass"),
    )

    def compute(self, backend, model, images, targets, samples, noise, seed, batch):
        rng = np.random.default_rng(seed)
        maps = []
        for image, target in zip(images, targets):
            sigma = noise * float(image.max() - image.min())
            noisy = image[None] + rng.normal(0, sigma, (samples, *image.shape)).astype(np.float32)
            total = np.zeros(image.shape[:2], np.float32)
            for part in chunks(samples, batch):  # one batched backward per chunk of copies
                _, grads = backend.gradients(model, noisy[part], ClassScore([target] * len(noisy[part])))
                total += np.abs(grads).max(axis=-1).sum(axis=0)
            maps.append(total / samples)
        return Explanation(self.name, maps=np.stack(maps))


class IntegratedGradients(Explainer):
    name, title, family = "integrated-gradients", "Integrated Gradients", "gradient"
    description = ("Average the gradient along the straight path from a baseline (a flat image) to the "
                   "image, times (image - baseline): the attributions add up to the score difference.")
    params = (
        Param("steps", 32, 2, 512, help="points on the path (Riemann midpoints)"),
        Param("baseline", 0.0, help="the flat baseline value, in the model's input units"),
        Param("batch", 32, 1, 1024, help="path points per backward pass"),
    )

    def compute(self, backend, model, images, targets, steps, baseline, batch):
        alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
        attributions = []
        for image, target in zip(images, targets):
            base = np.full_like(image, baseline)
            path = base[None] + alphas[:, None, None, None] * (image - base)[None]
            mean_grad = np.zeros_like(image)
            for part in chunks(steps, batch):
                _, grads = backend.gradients(model, path[part], ClassScore([target] * len(path[part])))
                mean_grad += grads.sum(axis=0) / steps
            attributions.append((image - base) * mean_grad)
        attributions = np.stack(attributions)
        return Explanation(self.name, maps=np.abs(attributions).sum(axis=-1), images=attributions,
                           steps={"attribution_sum": attributions.sum(axis=(1, 2, 3))})


__all__ = ["Saliency", "GuidedBackprop", "SmoothGrad", "IntegratedGradients", "ChannelMean"]

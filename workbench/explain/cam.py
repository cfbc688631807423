"""Class activation maps: where in a conv layer's grid the evidence for a class lies.

Grad-CAM (Selvaraju et al. 2017): weight each channel of the layer by the mean of its
gradient, sum, keep the positive part, upsample bilinearly to the image. Grad-CAM++
(Chattopadhay et al. 2018) weights each position's positive gradient instead.
Guided Grad-CAM multiplies the upsampled map by guided backpropagation's gradients.
"""

from __future__ import annotations

import numpy as np

from workbench.backend import ClassScore
from workbench.explain.base import Explainer, Explanation, Param, as_target, explain_layer, upsample

LAYER = Param("layer", None, help="the conv layer to explain (default: the model's last conv layer)")


class GradCAM(Explainer):
    name, title, family = "grad-cam", "Grad-CAM", "cam"
    description = ("Weight the chosen conv layer's channels by the mean gradient of the class score, "
                   "sum them, keep the positive part and upsample to the image.")
    params = (LAYER,)

    def channel_weights(self, acts, grads):
        return grads.mean(axis=(1, 2))  # (N, C): global-average-pooled gradients

    def compute(self, backend, model, images, targets, layer):
        layer = layer or explain_layer(backend, model)
        acts, grads = backend.gradients(model, images, as_target(targets), layer=layer)
        if acts.ndim != 4:
            raise ValueError(f"layer {layer!r} has no spatial output (shape {acts.shape[1:]}); pick a conv layer")
        weights = self.channel_weights(acts, grads)
        cam = np.maximum(np.einsum("nhwc,nc->nhw", acts, weights), 0)
        return Explanation(self.name, maps=upsample(cam, images.shape[1:3]),
                           steps={"layer": layer, "channel_weights": weights, "cam": cam})


class GradCAMPlusPlus(GradCAM):
    name, title = "grad-cam-plus-plus", "Grad-CAM++"
    description = ("Like Grad-CAM, but each channel's weight sums its positive gradients, each scaled "
                   "by alpha = g^2 / (2 g^2 + sum(A) g^3): better when an object appears several times.")

    def channel_weights(self, acts, grads):
        g2, g3 = grads**2, grads**3
        denom = 2 * g2 + acts.sum(axis=(1, 2), keepdims=True) * g3
        alpha = g2 / np.where(denom != 0, denom, 1)
        return (alpha * np.maximum(grads, 0)).sum(axis=(1, 2))


class GuidedGradCAM(Explainer):
    name, title, family = "guided-grad-cam", "Guided Grad-CAM", "cam"
    description = "Guided backpropagation's fine detail, masked by Grad-CAM's class-discriminative map."
    params = (LAYER,)

    def compute(self, backend, model, images, targets, layer):
        cam = GradCAM().compute(backend, model, images, targets, layer=layer)
        _, guided = backend.gradients(model, images, as_target(targets), relu="guided")
        combined = guided * cam.maps[..., None]
        return Explanation(self.name, maps=np.abs(combined).max(axis=-1), images=combined,
                           steps={**cam.steps, "grad_cam": cam.maps, "guided_backprop": guided})


def class_matrix(backend, model, images, classes, layer=None) -> np.ndarray:
    """Seed 002's Table 13: Grad-CAM of every class (rows) on every image (columns), (K, N, H, W)."""
    explainer = GradCAM()
    return np.stack([explainer.explain(backend, model, images, ClassScore(int(c)), layer=layer).maps
                     for c in classes])

"""LIME (Ribeiro et al. 2016) with the `lime` package: switch superpixels off at random, ask the
model, fit a weighted linear model of "which superpixels were on" -> class probability.

We keep lime's own explainer (its kernel, its ridge fit, its explanation object) and replace only
how the perturbed images are made and classified: all at once with array indexing, sent to the
model in batches sized for the device, instead of one Python mask per sample. The sampling is
seeded here (LimeImageExplainer(random_state=seed)); lime's `random_seed` only reaches the
segmentation, and scikit-image 0.26's quickshift ignores it, so we segment ourselves.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from skimage import segmentation
from skimage.color import gray2rgb

from workbench.explain.base import Explainer, Explanation, Param, chunks, normalise
from workbench.explain.batching import batch_size_for

ALGORITHMS = ("quickshift", "slic", "felzenszwalb")


def superpixels(image: np.ndarray, algorithm: str = "quickshift", segments: int = 50) -> np.ndarray:
    """Superpixel labels 0..K-1 of one image (H, W, C), segmented on its [0, 1]-scaled colours.
    Deterministic (quickshift with a fixed rng): the seed of LIME only drives the sampling."""
    rgb = normalise(image[None])[0].astype(np.float64)
    rgb = gray2rgb(rgb[..., 0]) if rgb.shape[-1] == 1 else rgb
    if algorithm == "quickshift":  # lime's default settings
        labels = segmentation.quickshift(rgb, kernel_size=4, max_dist=200, ratio=0.2, rng=0)
    elif algorithm == "slic":
        labels = segmentation.slic(rgb, n_segments=segments, compactness=10, start_label=0)
    elif algorithm == "felzenszwalb":  # a larger scale gives fewer, bigger segments
        labels = segmentation.felzenszwalb(rgb, scale=rgb.shape[0] * rgb.shape[1] / max(segments, 1) / 4, min_size=20)
    else:
        raise ValueError(f"superpixel algorithm must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")
    return np.unique(labels, return_inverse=True)[1].reshape(labels.shape)  # lime wants 0..K-1


@cache
def batched_lime_explainer() -> type:
    """lime's explainer with vectorised perturbation: one fancy-indexing step per batch of samples.
    Built on first use: importing lime pulls in scikit-learn, two seconds on every CLI call."""
    from lime.lime_image import LimeImageExplainer

    class BatchedLimeImageExplainer(LimeImageExplainer):
        def __init__(self, seed: int, batch: int):
            super().__init__(random_state=seed)
            self.batch = batch

        def data_labels(self, image, fudged_image, segments, classifier_fn, num_samples, batch_size=10):
            n_features = np.unique(segments).shape[0]
            # the same draws, in the same order, as lime's own data_labels
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape((num_samples, n_features))
            data[0, :] = 1  # the first sample is the unperturbed image
            labels = []
            buffer = np.empty((min(self.batch, num_samples), *image.shape), np.float32)  # reused: no page faults
            for part in chunks(num_samples, self.batch):
                keep = data[part][:, segments].astype(bool)  # (b, H, W): is this pixel's superpixel on?
                perturbed = buffer[: len(keep)]
                perturbed[:] = fudged_image
                np.copyto(perturbed, image, where=keep[..., None])
                labels.append(classifier_fn(perturbed))
            return data, np.concatenate(labels)

    return BatchedLimeImageExplainer


class Lime(Explainer):
    name, title, family = "lime", "LIME", "perturbation"
    description = ("Switch random superpixels off, classify the perturbed images, and fit a weighted "
                   "linear model: each superpixel's coefficient is its importance.")
    params = (
        Param("algorithm", "quickshift", choices=ALGORITHMS, help="how the image is cut into superpixels"),
        Param("segments", 50, 2, 1000, help="about how many superpixels (slic, felzenszwalb)"),
        Param("samples", 1000, 10, 20000, help="perturbed images to classify"),
        Param("fill", "mean", help="'mean' (each superpixel's mean colour, lime's default) or a value"),
        Param("seed", 0, 0, None),
        Param("batch", None, 1, 4096, help="perturbed images per forward pass (default: the fastest, measured on this device)"),
    )

    def compute(self, backend, model, images, targets, algorithm, segments, samples, fill, seed, batch):
        batch = batch or batch_size_for(backend, model, images[0])

        def classify(x):  # x is already float32 (see below): no copy on the way to the model
            return backend.predict(model, np.asarray(x, dtype=np.float32), batch_size=batch)

        maps, segs, coefs, scores = [], [], [], []
        for image, target in zip(images, targets):
            labels = superpixels(image, algorithm, segments)
            hide = None if fill == "mean" and image.shape[-1] == 3 else (
                float(image.mean()) if fill == "mean" else float(fill))
            explanation = batched_lime_explainer()(seed, batch).explain_instance(
                image.astype(np.float32), classify, labels=(target,), top_labels=None, hide_color=hide,
                num_samples=samples, segmentation_fn=lambda _, labels=labels: labels, random_seed=seed)
            weights = np.zeros(labels.max() + 1, np.float32)
            for feature, weight in explanation.local_exp[target]:
                weights[feature] = weight
            maps.append(weights[labels])
            segs.append(labels)
            coefs.append(weights)
            scores.append(explanation.score)
        return Explanation(self.name, maps=np.stack(maps),
                           steps={"superpixels": np.stack(segs), "coefficients": coefs, "fit_r2": scores,
                                  "batch": batch})

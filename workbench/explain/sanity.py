"""Sanity checks. Adebayo et al. (2018): if a map hardly changes when the model's weights are
randomised from the top layer down, the map explains the image, not the model. And LIME's
stability: how much its answer depends on the random seed.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from workbench.model_facts import arch_of


def copy_model(backend, model):
    """A second model with the same architecture and weights (the original is never touched)."""
    arch = arch_of(model)
    if arch is None:
        raise ValueError("the sanity check needs a model built by the workbench (it rebuilds a copy)")
    clone = backend.build(arch)
    backend.set_weights(clone, backend.get_weights(model))
    return clone


def randomised(weights: dict, names: list[str], rng) -> dict:
    """The weights with the named layers' arrays shuffled: the same values (so BatchNorm variances stay
    positive and scales stay sane), in a random order, so whatever the layer learnt is gone."""
    out = dict(weights)
    for name in names:
        out[name] = [rng.permutation(a.ravel()).reshape(a.shape) for a in weights[name]]
    return out


def cascading_randomisation(backend, model, explainer, images, targets=None, stages=5, seed=0, **params):
    """Maps as more and more layers (from the top) are randomised: list of
    {"randomised": how many layers, "top_layer": the lowest one randomised so far, "maps", "spearman"}."""
    weights = backend.get_weights(model)
    layers = [name for name, arrays in weights.items() if arrays]
    original = explainer.explain(backend, model, images, targets, **params)
    targets = original.targets
    clone = copy_model(backend, model)
    rng = np.random.default_rng(seed)
    cuts = sorted({int(round(k)) for k in np.linspace(1, len(layers), stages)})
    strip = [{"randomised": 0, "top_layer": None, "maps": original.maps, "spearman": 1.0}]
    for cut in cuts:
        names = layers[len(layers) - cut:]
        backend.set_weights(clone, randomised(weights, names, rng))
        maps = explainer.explain(backend, clone, images, targets, **params).maps
        rho = float(np.mean([rank_correlation(a, b) for a, b in zip(np.abs(original.maps), np.abs(maps))]))
        strip.append({"randomised": cut, "top_layer": names[0], "maps": maps, "spearman": rho})
    return strip


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of two maps; 0 when one is flat (a fully randomised model can give a flat map)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    rho = spearmanr(a.ravel(), b.ravel()).statistic
    return 0.0 if np.isnan(rho) else float(rho)


def lime_stability(backend, model, image, target=None, seeds=(0, 1, 2, 3), top=5, **params):
    """LIME on one image with several seeds: the top superpixels' overlap (Jaccard) and the
    coefficients' rank correlation, averaged over every pair of seeds."""
    from workbench.explain.lime_method import Lime

    runs = [Lime().explain(backend, model, image[None], None if target is None else [target], seed=s, **params)
            for s in seeds]
    tops = [set(np.argsort(-r.steps["coefficients"][0])[:top]) for r in runs]
    pairs = [(i, j) for i in range(len(runs)) for j in range(i + 1, len(runs))]
    jaccard = [len(tops[i] & tops[j]) / len(tops[i] | tops[j]) for i, j in pairs]
    rho = [rank_correlation(runs[i].steps["coefficients"][0], runs[j].steps["coefficients"][0]) for i, j in pairs]
    return {"seeds": list(seeds), "top": top, "top_jaccard": float(np.mean(jaccard)),
            "coefficient_spearman": float(np.mean(rho)), "runs": runs}

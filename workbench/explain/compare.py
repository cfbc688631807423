"""Run several methods on the same images and score each against the random baseline:
what the `workbench explain` command prints and the page's table shows."""

from __future__ import annotations

from typing import Callable

from workbench.explain.faithfulness import check_steps, deletion_insertion, mean_scores, random_baseline
from workbench.explain.heads import two_class_view
from workbench.registry import get_registry


def run_methods(backend, model, images, methods: list[str], params: dict[str, dict] | None = None,
                targets=None, steps: int = 20, seed: int = 0,
                progress: Callable[[str, float], None] | None = None, explain: Callable | None = None) -> dict:
    """{"explanations": {name: Explanation}, "scores": {name: {...cost, deletion_auc, insertion_auc}},
    "random_baseline": {...}, "curves": {name: per-image curves}}. ``explain(explainer, backend,
    model, images, targets, params)`` makes each method's explanation (a cache may answer it;
    by default ``explainer.explain``)."""
    registry = get_registry().explainers()
    unknown = [m for m in methods if m not in registry]
    if unknown:
        raise ValueError(f"unknown method {', '.join(unknown)}; known: {', '.join(registry)}")
    check_steps(steps)
    params = params or {}
    backend = two_class_view(backend)  # a one-unit sigmoid head explained as its two classes
    if targets is None:  # explain each image's predicted class, the same for every method
        targets = [int(i) for i in backend.predict(model, images).argmax(axis=1)]
    explanations, scores, curves = {}, {}, {}
    for k, name in enumerate(methods):
        if progress:
            progress(name, k / (len(methods) + 1))
        e = (explain or _explain)(registry[name], backend, model, images, targets, params.get(name, {}))
        explanations[name] = e
        cost = e.cost.as_dict()
        scores[name] = {"seconds": cost["seconds"], "forward_passes": cost["forward_passes"],
                        "backward_passes": cost["backward_passes"], "peak_memory": cost["peak_memory"],
                        "deletion_auc": None, "insertion_auc": None}
        if e.maps is not None and e.maps.shape[1:3] == images.shape[1:3]:
            curves[name] = deletion_insertion(backend, model, images, targets, e.maps, steps=steps)
            scores[name].update(mean_scores(curves[name]))
    if progress:
        progress("random baseline", len(methods) / (len(methods) + 1))
    curves["random"] = random_baseline(backend, model, images, targets, seeds=3, first=seed, steps=steps)
    return {"explanations": explanations, "scores": scores, "random_baseline": mean_scores(curves["random"]),
            "curves": curves, "targets": targets}


def _explain(explainer, backend, model, images, targets, params):
    return explainer.explain(backend, model, images, targets, **params)


def parse_params(items: list[str]) -> dict[str, dict]:
    """["lime.samples=300", "grad-cam.layer=head"] -> {"lime": {"samples": 300}, "grad-cam": {"layer": "head"}}."""
    out: dict[str, dict] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        method, dot, param = key.partition(".")
        if not sep or not dot:
            raise ValueError(f"a parameter is METHOD.NAME=VALUE (e.g. lime.samples=300), not {item!r}")
        out.setdefault(method, {})[param] = parse_value(value)
    return out


def parse_value(text: str):
    """'300' -> 300, '0.5' -> 0.5, 'true' -> True, 'none' -> None, anything else stays text."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


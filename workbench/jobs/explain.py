"""An explanation grid as a job: the "explain" kind runs workbench.explain.compare.run_methods on a
registered model (built once per worker process) and hands back each method's maps, pictures,
targets and cost, the faithfulness scores and curves, as arrays and JSON."""

from __future__ import annotations

import threading

from workbench import lookup
from workbench.explain.compare import run_methods
from workbench.jobs import cache, payload


def _plain_or_none(value):
    """``value`` if it can travel (JSON, arrays), else None: an inner step a page may do without."""
    try:
        payload.pack(value)
        return value
    except TypeError:
        return None


def explain(args: dict, progress, stop: threading.Event) -> dict:
    """args: {"backend", "arch" (a registered architecture), "images" (NHWC as the model is fed),
    "methods", "params" ({method: {name: value}}), "steps"}; a progress event per method."""
    backend = lookup.backend(args["backend"])
    model = cache.shared("models", 4).get(cache.key(backend.name, args["arch"]),
                                          lambda: backend.build(lookup.architecture(args["arch"])))
    result = run_methods(backend, model, args["images"], list(args["methods"]), args.get("params") or {},
                         steps=int(args.get("steps", 10)),
                         progress=lambda name, fraction: progress({"method": name, "fraction": fraction}))
    return {"targets": result["targets"], "scores": result["scores"], "random_baseline": result["random_baseline"],
            "curves": _plain_or_none(result["curves"]),
            "explanations": {name: {"maps": e.maps, "images": e.images, "grids": e.grids, "targets": e.targets,
                                    "params": _plain_or_none(e.params), "steps": _plain_or_none(e.steps),
                                    "cost": e.cost.as_dict()}
                             for name, e in result["explanations"].items()}}

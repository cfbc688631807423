"""The explanation lesson's work as jobs, and what its page follows while they wait and run.

Kinds: "explain" (a grid of methods, workbench.explain.compare.run_methods, with the predictions
and the faithfulness scores and curves), "sanity" (workbench.explain.sanity.cascading_randomisation),
"lime-stability" (workbench.explain.sanity.lime_stability) and "class-matrix"
(workbench.explain.cam.class_matrix). The model travels as a registered
architecture's name (built once per worker process) or, for any other model (trained in the
Training lesson, imported), as the files ``Backend.save`` writes (workbench.jobs.train.model_files).
Explanations come back as arrays and JSON and are made Explanations again in the page's process.

Class-wide work: a whole grid is computed once per server (the server keeps what its workers
handed back, "explanations-served"; each worker keeps its own, "explanations"); each method's
explanation is cached on its own in the worker ("explanation-methods"), keyed by the
model's identity, the method, its parameters, and of the images only what the method reads
(``Explainer.input_key``): a model's filters and filter patterns are not computed again for another
student's photo.
"""

from __future__ import annotations

import hashlib
import threading
from types import SimpleNamespace

from workbench import lookup
from workbench.explain.base import Cost, Explanation
from workbench.explain.compare import run_methods
from workbench.registry import get_registry
from workbench.jobs import cache, payload
from workbench.jobs.follow import QueuedJob
from workbench.jobs.job import DONE, Job, JobFailed
from workbench.jobs.train import load_model, model_files


# -- the model ------------------------------------------------------------------------------------
def model_args(backend, arch_name: str | None, model=None) -> dict:
    """How a model travels to a job: a registered architecture by name, any other model as its files."""
    return {"arch": arch_name} if model is None else {"model": model_files(backend, model)}


def model_identity(args: dict) -> tuple:
    """What defines the model of a job's args: the backend and the registered name, or a digest of
    the weight files (the same trained model sent twice is the same model)."""
    if args.get("model"):
        digest = hashlib.sha256()
        for name, data in sorted(args["model"]["files"].items()):
            digest.update(name.encode() + b"\0" + data)
        return args["backend"], "files", digest.hexdigest()
    return args["backend"], "arch", args["arch"]


def _model(backend, args: dict):
    """The job's model, built or loaded once per worker process."""
    def make():
        if args.get("model"):
            return load_model(backend, args["model"])
        return backend.build(lookup.architecture(args["arch"]))

    return cache.shared("models", 4).get(cache.key(*model_identity(args)), make)


# -- explanations across the process boundary -------------------------------------------------------
def _plain_or_none(value):
    """``value`` if it can travel (JSON, arrays), else None: an inner step a page may do without."""
    try:
        payload.pack(value)
        return value
    except TypeError:
        return None


def plain(e: Explanation) -> dict:
    return {"maps": e.maps, "images": e.images, "grids": e.grids, "targets": e.targets,
            "params": _plain_or_none(e.params), "steps": _plain_or_none(e.steps), "cost": e.cost.as_dict()}


def explanation(method: str, d: dict) -> Explanation:
    """The inverse of ``plain``."""
    return Explanation(method, maps=d["maps"], images=d["images"], grids=d["grids"] or {}, steps=d["steps"] or {},
                       targets=d["targets"], params=d["params"] or {}, cost=Cost(**d["cost"]))


def cached_method(identity: tuple):
    """run_methods' ``explain`` for one model: each method's explanation from this process's
    class-wide cache, keyed by what defines it (the images only as far as the method reads them)."""
    methods = cache.shared("explanation-methods", 64)

    def explain(explainer, backend, model, images, targets, params):
        resolved = explainer.resolve_params(params)
        k = cache.key(identity, explainer.name, resolved, explainer.input_key(images, resolved),
                      list(targets) if explainer.needs_targets else None)
        return methods.get(k, lambda: explainer.explain(backend, model, images, targets, **params))

    return explain


def grid_key(args: dict) -> tuple:
    """What defines an explanation grid: the model, the images, the methods, their parameters."""
    return cache.key(model_identity(args), args["images"], list(args["methods"]), args.get("params") or {},
                     int(args.get("steps", 10)))


# -- the kinds ---------------------------------------------------------------------------------------
def explain(args: dict, progress, stop: threading.Event) -> dict:
    """args: {"backend", "arch" (a registered architecture) or "model" (model_files), "images" (NHWC
    as the model is fed), "methods", "params" ({method: {name: value}}), "steps", "class_names"
    (None: the architecture's)}; a progress event per method. The grid with the top-5 predictions."""
    from workbench.explain.inputs import predictions

    backend = lookup.backend(args["backend"])
    model = _model(backend, args)
    identity = model_identity(args)
    methods, params, steps = list(args["methods"]), args.get("params") or {}, int(args.get("steps", 10))

    def report(name, fraction):
        # Stop ends the grid before its next method; the methods done so far stay in the cache
        if stop is not None and stop.is_set():
            raise JobFailed(f"stopped by the user before {name}")
        progress({"method": name, "fraction": fraction})

    def compute():
        result = run_methods(backend, model, args["images"], methods, params, steps=steps, progress=report,
                             explain=cached_method(identity))
        # predictions read only the class names of an architecture; the page sends them (a trained
        # model's are its dataset's, not in its files)
        named = SimpleNamespace(class_names=args.get("class_names"))
        return {"predictions": predictions(backend, model, named, args["images"]), "targets": result["targets"],
                "scores": result["scores"], "random_baseline": result["random_baseline"],
                "curves": _plain_or_none(result["curves"]),
                "explanations": {name: plain(e) for name, e in result["explanations"].items()}}

    return cache.shared("explanations", 16).get(grid_key(args), compute)


def sanity(args: dict, progress, stop: threading.Event) -> list[dict]:
    """args: the model as for ``explain``, "images" (one image), "targets", "method", "stages",
    "params": the cascading randomisation strip, each stage's maps and Spearman rho."""
    from workbench.explain.sanity import cascading_randomisation

    backend = lookup.backend(args["backend"])
    explainer = get_registry().explainers()[args["method"]]
    return cascading_randomisation(backend, _model(backend, args), explainer, args["images"], args.get("targets"),
                                   stages=int(args["stages"]), **(args.get("params") or {}))


def lime_stability(args: dict, progress, stop: threading.Event) -> dict:
    """args: the model as for ``explain``, "image", "target", "seeds", "samples": LIME once per seed."""
    from workbench.explain.sanity import lime_stability as measure

    backend = lookup.backend(args["backend"])
    result = measure(backend, _model(backend, args), args["image"], args.get("target"), seeds=tuple(args["seeds"]),
                     samples=int(args["samples"]))
    return {**result, "runs": [plain(run) for run in result["runs"]]}


def class_matrix(args: dict, progress, stop: threading.Event) -> dict:
    """args: the model as for ``explain``, "images", "classes": Grad-CAM of every class on every
    image, {"maps": (K, N, H, W)}."""
    from workbench.explain.cam import class_matrix as matrix

    backend = lookup.backend(args["backend"])
    return {"maps": matrix(backend, _model(backend, args), args["images"], [int(c) for c in args["classes"]])}


# -- what the page follows ------------------------------------------------------------------------
class QueuedExplanation(QueuedJob):
    """An "explain" job; its result {"predictions", "targets", "scores", "random_baseline", "curves",
    "explanations": {name: Explanation}}, as run_methods returns it plus the predictions."""

    kind = "explain"

    def start(self):
        """A grid this server has already computed, for any student (the same model, images,
        methods and parameters), is served at once from the server's own cache; any other is
        submitted. (Each worker also caches grids and single methods, but a class has several.)"""
        self._key = grid_key(self.args)
        served = self._served = cache.shared("explanations-served", 16).peek(self._key)
        if served is None:
            return super().start()
        self.job = Job(self.kind, self.owner, {}, label=self.label, status=DONE, result=served)
        self.job.done_event.set()
        self.args = None
        return self

    def convert(self, result: dict) -> dict:
        if self._served is None:  # computed by a worker for this request: the class may ask again
            cache.shared("explanations-served", 16).put(self._key, result)
        return {**result, "explanations": {name: explanation(name, e) for name, e in result["explanations"].items()}}


class QueuedSanity(QueuedJob):
    kind = "sanity"


class QueuedMatrix(QueuedJob):
    kind = "class-matrix"


class QueuedStability(QueuedJob):
    kind = "lime-stability"

    def convert(self, result: dict) -> dict:
        return {**result, "runs": [explanation("lime", run) for run in result["runs"]]}

"""The hooks a CNN Workbench plugin can implement.

Every hook receives a ``register`` callback; call it once per object you contribute.
"""

import pluggy

hookspec = pluggy.HookspecMarker("cnn_workbench")
hookimpl = pluggy.HookimplMarker("cnn_workbench")


@hookspec
def register_backends(register):
    """Register deep-learning backends (objects implementing workbench.backend.Backend)."""


@hookspec
def register_architectures(register):
    """Register architectures (workbench.spec.Architecture) for the gallery, calculator and training."""


@hookspec
def register_explainers(register):
    """Register explanation methods (workbench.explain.Explainer subclasses or instances)."""


@hookspec
def register_datasets(register):
    """Register datasets (workbench.data.Dataset) that lessons and training can load."""


@hookspec
def register_lessons(register):
    """Register lessons (workbench.lesson.Lesson): a page of the app with a title, section and render()."""


@hookspec
def register_exercises(register):
    """Register exercises (workbench.exercises.Exercise): a task in a lesson, checked against the student's work."""


@hookspec
def register_native_builders(register):
    """Register how a backend builds registered native architectures (workbench.contributed.NativeBuilder)."""


@hookspec
def register_benchmarks(register):
    """Register baselines only one framework can run, for `workbench bench` (workbench.contributed.Benchmark)."""

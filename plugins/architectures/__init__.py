"""Built-in architectures: the models of the course notes (seeds 000-004) as architecture files.

Each file in specs/ is written in the same YAML format a student writes (docs/architectures.md),
with its source and a description for the gallery, so the gallery's models double as examples.
"""

import functools
from importlib import resources

from workbench.hookspecs import hookimpl
from workbench.spec import Architecture, loads_architecture


def spec_files() -> list:
    """The architecture files shipped with this plugin, sorted by name."""
    folder = resources.files(__package__).joinpath("specs")
    return sorted((p for p in folder.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)


@functools.cache  # the shipped files do not change while the process runs; Architectures are frozen
def load_all() -> tuple[Architecture, ...]:
    return tuple(loads_architecture(p.read_text(encoding="utf-8"), suffix=".yaml") for p in spec_files())


@hookimpl
def register_architectures(register):
    for arch in load_all():
        register(arch)
    # Zoo models (EfficientNet-Lite0, torchvision/keras.applications), built by the backends' native builders,
    # imported here, after the spec files, so a failure there still leaves the seeds' models registered.
    from .pretrained import register_pretrained

    register_pretrained(register)

"""Built-in architectures."""

from workbench.hookspecs import hookimpl


@hookimpl
def register_architectures(register):
    pass

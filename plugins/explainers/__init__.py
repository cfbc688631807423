"""Built-in explainers."""

from workbench.hookspecs import hookimpl


@hookimpl
def register_explainers(register):
    pass

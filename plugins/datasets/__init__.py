"""Built-in datasets."""

from workbench.hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    pass

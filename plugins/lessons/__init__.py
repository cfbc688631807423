"""Built-in lessons."""

from workbench.hookspecs import hookimpl


@hookimpl
def register_lessons(register):
    pass

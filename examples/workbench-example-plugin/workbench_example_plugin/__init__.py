"""An example CNN Workbench plugin: one hook, one architecture file."""

from importlib import resources

from workbench.hookspecs import hookimpl
from workbench.spec import loads_architecture

__version__ = "0.1.0"


@hookimpl
def register_architectures(register):
    text = resources.files(__name__).joinpath("tinynet.yaml").read_text(encoding="utf-8")
    register(loads_architecture(text, suffix=".yaml"))

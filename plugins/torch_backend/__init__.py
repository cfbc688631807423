"""The PyTorch backend plugin. torch itself is imported lazily, on first use."""

import importlib.util

from workbench.hookspecs import hookimpl


@hookimpl
def register_backends(register):
    if importlib.util.find_spec("torch") is None:
        raise ImportError("torch is not installed: pip install 'cnn-workbench[torch]'")
    from plugins.torch_backend.backend import TorchBackend

    register(TorchBackend())

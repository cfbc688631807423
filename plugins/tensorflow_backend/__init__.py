"""The TensorFlow (Keras 3) backend plugin. tensorflow itself is imported lazily, on first use."""

import importlib.util

from workbench.hookspecs import hookimpl

# triton (loaded by torchvision and torch.compile) segfaults the process when its native library
# loads after tensorflow's; every tensorflow import goes through this package, so load it first.
if importlib.util.find_spec("triton") is not None:
    import triton  # noqa: F401


@hookimpl
def register_backends(register):
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError("tensorflow is not installed: pip install 'cnn-workbench[tensorflow]'")
    from plugins.tensorflow_backend.backend import TensorFlowBackend

    register(TensorFlowBackend())

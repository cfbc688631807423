"""The TensorFlow (Keras 3) backend: functional Keras models named like the spec, GPU when present.

The protocol methods live in workbench.backend_base.BackendBase; they call this package's
modules (builder, inference, gradients, summary, weights, io), which import tensorflow and
keras on first use, so discovering plugins stays fast.
"""

import os

from workbench.backend_base import BackendBase

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


class TensorFlowBackend(BackendBase):
    name = "tensorflow"
    package = __package__  # this package's builder.py, inference.py, ...

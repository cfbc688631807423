"""The PyTorch backend: numpy NHWC at the edges, NCHW torch modules inside, GPU when present.

The protocol methods live in workbench.backend_base.BackendBase; they call this package's
modules (builder, inference, gradients, summary, weights, io), which import torch on first
use, so discovering plugins stays fast.
"""

from workbench.backend_base import BackendBase


class TorchBackend(BackendBase):
    name = "pytorch"
    package = __package__  # this package's builder.py, inference.py, ...

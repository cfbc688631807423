"""ONNX export with torch.onnx: the model behind its input transform, NHWC pixels in, probabilities out.

The TorchScript-based exporter (``dynamo=False``) is used: it traces the module once on a sample
batch and needs nothing beyond torch and onnx, offline. The batch axis is left free.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from workbench.model_facts import arch_of
from .inference import logits_mode, model_device

FORMATS = {"onnx": ".onnx"}
READS = ()  # ONNX files are read back by onnxruntime (workbench.export), not by torch


class Exported(nn.Module):
    """NHWC pixels in [0, 1] -> the model's own input (channels reversed, x * scale + offset,
    NCHW) -> its logits -> softmax (a sigmoid for a one-unit head)."""

    def __init__(self, model: nn.Module, transform, device):
        super().__init__()
        self.model, self.bgr = model, transform.bgr
        self.register_buffer("scale", torch.as_tensor(transform.scale, device=device))
        self.register_buffer("offset", torch.as_tensor(transform.offset, device=device))

    def forward(self, x):
        if self.bgr:
            x = x.flip(-1)
        logits = self.model((x * self.scale + self.offset).permute(0, 3, 1, 2))
        return torch.sigmoid(logits) if logits.shape[-1] == 1 else torch.softmax(logits, dim=-1)


def write(model, path, fmt: str, transform):
    device = model_device(model)
    sample = torch.rand((2, *arch_of(model).input_shape), device=device)
    wrapped = Exported(model, transform, device).eval()
    with torch.no_grad(), logits_mode(model), warnings.catch_warnings():
        # the spec's own final softmax is left out (applied once, above); the tracer's warnings are about
        # sizes read as numbers, which a spec model's fixed input size makes constants indeed
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(wrapped, (sample,), str(path), input_names=["images"], output_names=["probabilities"],
                          dynamic_axes={"images": {0: "batch"}, "probabilities": {0: "batch"}}, dynamo=False)
    return path

"""Gradients of a target with respect to the input or a layer, plain or guided backpropagation.

Guided backpropagation (Springenberg et al. 2015): at every ReLU the backward pass lets a
gradient through only where the ReLU's input was positive AND the incoming gradient is
positive. It is switched on for one call by a forward hook on every nn.ReLU / nn.ReLU6 that
replaces the module's output with the same values computed by ``GuidedReLU``, whose backward
is the guided rule; removing the hooks restores the plain model.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

import numpy as np
import torch
from torch import nn

from workbench import graph
from workbench.backend import ClassScore
from plugins.torch_backend.inference import capture, logits_mode, model_device, to_nhwc, to_tensor


class GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, upper):
        ctx.save_for_backward(x)
        ctx.upper = upper
        return x.clamp(min=0) if upper is None else x.clamp(0, upper)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        passes = (x > 0) & (grad > 0)
        if ctx.upper is not None:
            passes &= x < ctx.upper  # ReLU6 is flat above 6 as well
        return grad * passes, None


@contextmanager
def guided(model):
    def hook(module, inputs, output):
        upper = 6.0 if isinstance(module, nn.ReLU6) else None
        return GuidedReLU.apply(inputs[0], upper)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class TorchOps:
    def __init__(self, device):
        self.device = device

    def const(self, array):
        return torch.from_numpy(array).to(self.device)

    def sum(self, t, axes):
        return t.sum(dim=axes)

    def mean(self, t, axes):
        return t.mean(dim=axes)


def gradients(model, x: np.ndarray, target, layer: str | None = None, relu: str = "plain"):
    """(activations of `layer` or the input, d target / d them), per image, NHWC numpy.

    One forward and one backward pass for the whole batch: the target summed over images has,
    per image, that image's own gradient (images do not interact in inference mode).
    """
    graph.check_relu(relu)
    names = list(model.workbench_layers)
    read = [name for name in (layer, graph.target_layer(target)) if name is not None]
    graph.check_layers(read, names)
    model.eval()
    device = model_device(model)
    xt = to_tensor(x, device)
    with ExitStack() as stack:
        stack.enter_context(torch.enable_grad())
        if relu == "guided":
            stack.enter_context(guided(model))
        if isinstance(target, ClassScore):
            stack.enter_context(logits_mode(model))
        outputs = stack.enter_context(capture(model, read, leaf=layer))
        if layer is None:
            xt.requires_grad_(True)
        out = model(xt)
        nhwc = {name: to_nhwc(t) for name, t in outputs.items()}
        values = graph.target_values(target, out, nhwc, TorchOps(device))
        wrt = xt if layer is None else outputs[layer]
        (grad,) = torch.autograd.grad(values.sum(), wrt, allow_unused=True)
    if grad is None:  # the target does not depend on this layer (it comes before it)
        grad = torch.zeros_like(wrt)
    return to_nhwc(wrt.detach()).float().cpu().numpy(), to_nhwc(grad).float().cpu().numpy()

"""Gradients of a target with respect to the input or a layer, plain or guided backpropagation.

Guided backpropagation (Springenberg et al. 2015): at every ReLU the backward pass lets a
gradient through only where the ReLU's input was positive AND the incoming gradient is
positive. The ReLU's own backward already keeps the first condition, so for one call a forward
hook on every nn.ReLU / nn.ReLU6 passes its output through ``PositiveGradient`` (identity
forward, negative gradients zeroed backward); removing the hooks restores the plain model.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

import numpy as np
import torch
from torch import nn

from workbench import graph
from workbench.backend import ClassScore
from workbench.model_facts import layers_of
from .inference import capture, logits_mode, model_device, to_nhwc, to_tensor


class PositiveGradient(torch.autograd.Function):
    """Identity forward; backward zeroes negative gradients. Placed after a ReLU (ReLU6), whose
    backward then masks where its input was positive (and below 6): guided backprop's rule, at
    the cost of one clamp per ReLU."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad.clamp(min=0)


@contextmanager
def guided(model):
    def hook(module, inputs, output):
        return PositiveGradient.apply(output)

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
    names = list(layers_of(model))
    read = [name for name in (layer, graph.target_layer(target)) if name is not None]
    graph.check_layers(read, names)
    model.eval()
    device = model_device(model)
    xt = to_tensor(x, device)
    with ExitStack() as stack:
        # Gradients to a layer need no graph of the layers before it: run them without autograd
        # (capture switches it on at the layer). Grad-CAM at the last conv layer then costs about
        # one plain forward plus a short backward.
        stack.enter_context(torch.enable_grad() if layer is None else torch.no_grad())
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
        # a target read before the layer does not depend on it (nor, run without autograd, has a graph)
        grad = torch.autograd.grad(values.sum(), wrt, allow_unused=True)[0] if values.requires_grad else None
    if grad is None:
        grad = torch.zeros_like(wrt)
    return to_nhwc(wrt.detach()).float().cpu().numpy(), to_nhwc(grad).float().cpu().numpy()

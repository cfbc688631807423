"""The floor for `workbench bench optimize`: n bare gradient evaluations of a surface with torch's
autograd, one point at a time, no optimizer."""

import numpy as np
import torch

from .optimize import OPS


def floor(formula, start, n: int) -> None:
    p = torch.tensor(np.asarray(start, dtype=np.float64), requires_grad=True)
    for _ in range(int(n)):
        loss = formula.evaluate(p[0], p[1], OPS)
        (g,) = torch.autograd.grad(loss, p)

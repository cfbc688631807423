"""torch.optim's own optimizers for the optimizer lesson: on a two-parameter surface (all the
chosen optimizers stepped together, their losses and gradients in one autograd pass per step)
and on a CNN's mini-batches; the defaults read off the optimizer objects."""

from __future__ import annotations

import numpy as np
import torch

from workbench.optimize.race import Minibatches, Trajectory, arguments
from workbench.training import optimizer_name

OPS = {"exp": torch.exp, "log": torch.log, "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh,
       "sqrt": torch.sqrt, "abs": torch.abs}
# lesson name -> (torch class, what makes it that optimizer)
CLASSES = {
    "sgd": ("SGD", {}), "momentum": ("SGD", {}), "nesterov": ("SGD", {"nesterov": True}),
    "adagrad": ("Adagrad", {}), "adadelta": ("Adadelta", {}), "rmsprop": ("RMSprop", {}), "adam": ("Adam", {}),
    "amsgrad": ("Adam", {"amsgrad": True}), "adamax": ("Adamax", {}), "nadam": ("NAdam", {}),
}
_OWN = {"epsilon": "eps", "learning_rate": "lr"}  # Keras' names -> torch's (rho: alpha in RMSprop)
_PLUMBING = {"foreach", "maximize", "capturable", "differentiable", "fused", "decoupled_weight_decay",
             "weight_decay"}  # off by default in both frameworks (Keras: None), and not part of the lesson


def _own_name(cls: str, key: str) -> str:
    return "alpha" if (cls, key) == ("RMSprop", "rho") else _OWN.get(key, key)


def make(params, name: str, lr: float, hyper: dict | None = None) -> torch.optim.Optimizer:
    """The torch.optim object for a lesson optimizer, settings given in Keras' names."""
    cls, fixed = CLASSES[optimizer_name(name)]
    kwargs = dict(fixed)
    hyper = dict(hyper or {})
    if "beta_1" in hyper or "beta_2" in hyper:
        kwargs["betas"] = (hyper.pop("beta_1", 0.9), hyper.pop("beta_2", 0.999))
    kwargs.update({_own_name(cls, k): val for k, val in hyper.items()})
    return getattr(torch.optim, cls)(params, lr=lr, **kwargs)


def settings(opt: torch.optim.Optimizer) -> dict[str, tuple[str, object]]:
    """What the object holds, Keras' name -> (torch's name, value); betas split in two."""
    cls, out = type(opt).__name__, {}
    names = {_own_name(cls, k): k for k in ("learning_rate", "epsilon", "rho")}  # torch's -> Keras' name
    for key, value in opt.defaults.items():
        if key in _PLUMBING:
            continue
        if key == "betas":
            out["beta_1"], out["beta_2"] = ("betas[0]", float(value[0])), ("betas[1]", float(value[1]))
            continue
        neutral = names.get(key, key)
        out[neutral] = (key, float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value)
    return out


def defaults(name: str) -> dict:
    """The class's own defaults, read off an object built without any setting (lr included)."""
    cls, fixed = CLASSES[optimizer_name(name)]
    # torch refuses nesterov=True with its default momentum 0: read SGD's defaults, then say nesterov
    built = {k: val for k, val in fixed.items() if k != "nesterov"}
    hyper = settings(getattr(torch.optim, cls)([torch.zeros(2, requires_grad=True)], **built))
    if fixed.get("nesterov"):
        hyper["nesterov"] = ("nesterov", True)
    return {"class": f"torch.optim.{cls}", "hyper": hyper}


def _neutral(opt) -> dict:
    return {k: val for k, (_, val) in settings(opt).items()}


def _snapshot(opt, p) -> dict:
    return {k: (val.detach().clone() if torch.is_tensor(val) else val) for k, val in opt.state[p].items()}


def _numpy_state(s: dict) -> dict:
    return {k: (val.numpy() if torch.is_tensor(val) and val.ndim else float(val) if torch.is_tensor(val) else val)
            for k, val in s.items()}


def optimize(backend, loss_fn, start, optimizers, steps: int, learning_rate, hyper=None, state: bool = False):
    names, rates, hyper = arguments(optimizers, learning_rate, hyper)
    if isinstance(loss_fn, Minibatches):
        return {n: _train(backend, loss_fn, n, int(steps), rates[n], hyper[n]) for n in names}
    f = (lambda a, b: loss_fn.evaluate(a, b, OPS)) if hasattr(loss_fn, "evaluate") else loss_fn
    params = [torch.tensor(np.asarray(start, dtype=np.float64), requires_grad=True) for _ in names]
    opts = [make([p], n, rates[n], hyper[n]) for p, n in zip(params, names)]
    points, losses, grads = [], [], []
    states = [[_snapshot(o, p)] for o, p in zip(opts, params)] if state else None
    for k in range(int(steps) + 1):
        xy = torch.stack(params)  # every optimizer's point: one loss and one backward pass for all
        loss = f(xy[:, 0], xy[:, 1])
        g = torch.autograd.grad(loss.sum(), params)
        points.append(xy.detach())
        losses.append(loss.detach())
        grads.append(torch.stack(g))
        if k == steps:
            break
        for i, (p, o) in enumerate(zip(params, opts)):
            p.grad = g[i]
            o.step()
            if state:
                states[i].append(_snapshot(o, p))
    P, L, G = torch.stack(points).numpy(), torch.stack(losses).numpy(), torch.stack(grads[:-1]).numpy()
    return {n: Trajectory.finished(P[:, i], L[:, i], G[:, i], [_numpy_state(s) for s in states[i]] if state else None,
                                   optimizer=n, backend=backend.name, framework_class=f"torch.optim.{type(o).__name__}",
                                   hyper=_neutral(o))
            for i, (n, o) in enumerate(zip(names, opts))}


def _train(backend, problem: Minibatches, name: str, steps: int, lr: float, hyper: dict) -> Trajectory:
    """The optimizer on a freshly built CNN (the same seed: the same initial weights for all)."""
    from .inference import logits_mode
    from .training import loss_and_correct

    model = backend.build(problem.arch, seed=problem.seed)
    device = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(problem.x.transpose(0, 3, 1, 2), dtype=np.float32)).to(device)
    y = torch.from_numpy(np.asarray(problem.y, dtype=np.int64)).to(device)
    opt = make([p for p in model.parameters() if p.requires_grad], name, lr, hyper)
    losses = []
    model.train()
    with logits_mode(model):
        for step, idx in enumerate(problem.batches(steps), 1):
            if problem.stop.is_set():
                break
            idx = torch.from_numpy(idx).to(device)
            opt.zero_grad(set_to_none=True)
            loss = loss_and_correct(model(x[idx]), y[idx])[0]
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if not np.isfinite(losses[-1]) or not problem.report(name, step, losses[-1]):
                break
    model.eval()
    return Trajectory.trained(losses, steps, optimizer=name, backend=backend.name,
                              framework_class=f"torch.optim.{type(opt).__name__}", hyper=_neutral(opt))

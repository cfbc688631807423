"""What a backend's optimizer run gives back, and what the lesson does with several runs:
the race on a surface, a learning-rate sweep, a fair race at each optimizer's best rate, and
the same optimizers on a CNN's mini-batches with progress and Stop (a job: workbench.optimize.job)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from workbench.optimize import settings as S
from workbench.optimize.surfaces import Surface
from workbench.training import optimizer_name


@dataclass
class Trajectory:
    """One optimizer's run as the framework made it. For a surface: points (steps + 1, 2), the
    start first; loss and grads per point; states[k] the optimizer's state after k steps, read
    off the framework (only when asked). For a CNN: loss per step, no points."""

    optimizer: str
    backend: str
    framework_class: str  # e.g. "torch.optim.RMSprop"
    hyper: dict  # the settings the framework object holds (Keras' names), learning_rate included
    loss: np.ndarray
    points: np.ndarray | None = None
    grads: np.ndarray | None = None
    states: list[dict] | None = None
    stopped: str | None = None

    @classmethod
    def finished(cls, points: np.ndarray, loss: np.ndarray, grads: np.ndarray, states, **kw) -> "Trajectory":
        """Cut a path where it leaves the finite numbers, and say so."""
        points, loss = np.asarray(points, float), np.asarray(loss, float)
        bad = np.flatnonzero(~np.isfinite(points).all(axis=1) | ~np.isfinite(loss))
        stopped = None
        if len(bad):
            k = int(bad[0])
            stopped = f"left the finite numbers at step {k} (the loss or a coordinate overflowed): stopped there"
            points, loss, grads = points[:k], loss[:k], grads[:max(k - 1, 0)]
            states = states[:k] if states is not None else None
        return cls(points=points, loss=loss, grads=np.asarray(grads, float), states=states, stopped=stopped, **kw)

    @classmethod
    def trained(cls, losses: list[float], steps: int, **kw) -> "Trajectory":
        """A CNN run's losses per step, and why it ended early if it did."""
        stopped = None
        if len(losses) < steps:
            stopped = "the loss left the finite numbers" if losses and not np.isfinite(losses[-1]) else "stopped"
        return cls(loss=np.array(losses, dtype=float), stopped=stopped, **kw)

    def to_json(self) -> dict:
        out = {"optimizer": self.optimizer, "class": self.framework_class, "hyper": self.hyper,
               "loss": [float(v) for v in self.loss]}
        if self.points is not None:
            out["path"] = np.asarray(self.points, float).tolist()
        if self.stopped:
            out["stopped"] = self.stopped
        return out


def arguments(optimizers, learning_rate, hyper) -> tuple[list[str], dict, dict]:
    """What a backend's optimize receives, normalised: names, {name: rate}, {name: settings}."""
    names = [optimizer_name(n) for n in ([optimizers] if isinstance(optimizers, str) else optimizers)]
    rates = learning_rate if isinstance(learning_rate, dict) else dict.fromkeys(names, learning_rate)
    return names, {n: float(rates[n]) for n in names}, {n: dict((hyper or {}).get(n) or {}) for n in names}


def learning_rates(optimizers, lr) -> dict[str, float]:
    """One learning rate per optimizer from a number or a mapping; each must be positive."""
    names = S.names(optimizers)
    rates = {n: (lr.get(n) if isinstance(lr, dict) else lr) for n in names}
    for n, r in rates.items():
        if r is None or not (float(r) > 0 and np.isfinite(float(r))):
            raise ValueError(f"the learning rate of {n} must be a positive number, got {r}")
    return {n: float(r) for n, r in rates.items()}


def race(backend, surf: Surface, optimizers, steps: int, lr, start=None, mode: str = "defaults",
         state: bool = False) -> dict[str, Trajectory]:
    """Every optimizer from the same start on one surface, in one backend call."""
    steps = int(steps)
    if not 1 <= steps <= 20000:
        raise ValueError(f"steps must be between 1 and 20000, got {steps}")
    names = S.names(optimizers)
    start = tuple(float(c) for c in (surf.start if start is None else start))
    if len(start) != 2 or not np.isfinite(start).all():
        raise ValueError(f"the start is two finite numbers x,y; got {start}")
    rates = learning_rates(names, lr)
    return backend.optimize(surf.formula, start, names, steps, rates,
                            hyper={n: S.hyper(n, mode) for n in names}, state=state)


LR_GRID = tuple(float(v) for v in np.geomspace(1e-4, 1.0, 9))


def final_loss(t: Trajectory, steps: int) -> float:
    """The last loss, infinite when the run blew up before the end."""
    return float(t.loss[-1]) if t.stopped is None and len(t.loss) == steps + 1 else float("inf")


def sweep(backend, surf: Surface, optimizers, steps: int, grid=LR_GRID, start=None,
          mode: str = "defaults") -> dict[str, list[float]]:
    """Final loss per optimizer for each learning rate of the grid (one race per rate)."""
    names = S.names(optimizers)
    out = {n: [] for n in names}
    for lr in grid:
        for n, t in race(backend, surf, names, steps, lr, start, mode).items():
            out[n].append(final_loss(t, steps))
    return out


def best_rates(sweep_result: dict[str, list[float]], grid=LR_GRID) -> dict[str, float]:
    """Each optimizer's best learning rate from the same search budget (the grid); ties go to
    the larger rate (it got there too)."""
    best = {}
    for n, losses in sweep_result.items():
        losses = np.asarray(losses, float)
        i = len(losses) - 1 - int(np.argmin(losses[::-1])) if np.isfinite(losses).any() else 0
        best[n] = float(grid[i])
    return best


# -- a CNN's training loss ------------------------------------------------------------------
@dataclass
class Minibatches:
    """The problem a backend's optimize solves for a CNN: the architecture built fresh with
    `seed` for every optimizer (the same initial weights), trained on the same mini-batches in
    the same order; on_step(optimizer, step, loss) may return False to stop."""

    arch: object
    x: np.ndarray
    y: np.ndarray
    batch_size: int = 64
    seed: int = 0
    on_step: Callable[[str, int, float], bool | None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def batches(self, steps: int) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        out, order = [], np.array([], dtype=np.int64)
        while len(out) < steps:
            if len(order) < self.batch_size:
                order = np.concatenate([order, rng.permutation(len(self.x))])
            out.append(order[:self.batch_size])
            order = order[self.batch_size:]
        return out

    def report(self, optimizer: str, step: int, loss: float) -> bool:
        """False: stop (asked to, or the callback said so)."""
        if self.on_step is not None and self.on_step(optimizer, step, loss) is False:
            self.stop.set()
        return not self.stop.is_set()


def cnn_arguments(optimizers, steps: int, lr) -> tuple[list[str], int, dict[str, float]]:
    """A CNN race's optimizer names, steps and rates, checked."""
    names, steps = S.names(optimizers), int(steps)
    if not 1 <= steps <= 5000:
        raise ValueError(f"steps must be between 1 and 5000, got {steps}")
    return names, steps, learning_rates(names, lr)


def race_cnn(backend, arch, x, y, optimizers, steps: int, lr, batch_size: int = 64, seed: int = 0,
             mode: str = "defaults", on_step=None, stop: threading.Event | None = None) -> dict[str, Trajectory]:
    """The optimizers trained one after another on a CNN (Minibatches); ``on_step(optimizer, step,
    loss)`` follows it, ``stop`` ends it after the current step (the losses so far are kept)."""
    names, steps, rates = cnn_arguments(optimizers, steps, lr)
    problem = Minibatches(arch, x, y, int(batch_size), int(seed), on_step=on_step, stop=stop or threading.Event())
    return backend.optimize(problem, None, names, steps, rates, hyper={n: S.hyper(n, mode) for n in names})


def observations(paths: dict[str, Trajectory], surf: Surface) -> list[str]:
    """What to look for in a race, read off the paths: who overshoots (the loss goes up on the
    way), who stalls (barely moving at the end while far from done), who blows up, who gets there."""
    notes = []
    scale = surf.scale()
    for name, t in paths.items():
        loss = np.asarray(t.loss, float)
        if t.stopped:
            notes.append(f"**{name}** blew up: {t.stopped}.")
            continue
        if len(loss) < 3:
            continue
        rises = int((np.diff(loss) > 1e-12 * max(1.0, abs(loss[0]))).sum())
        tail = t.points[-max(2, len(t.points) // 10):]
        moved = float(np.linalg.norm(tail[-1] - tail[0]))
        left = loss[-1] / loss[0] if loss[0] > 0 else None
        if surf.minimum is not None and float(np.linalg.norm(t.points[-1] - surf.minimum)) < 1e-3 * scale:
            notes.append(f"**{name}** reaches the minimum (within {1e-3 * scale:g}).")
        elif rises > len(loss) // 20:
            notes.append(f"**{name}** overshoots: its loss rises on {rises} of {len(loss) - 1} steps "
                         f"(it carries speed past the valley floor and swings back).")
        elif moved < 1e-3 * scale and left is not None and left > 1e-3:
            notes.append(f"**{name}** stalls: it moved {moved:.2g} over the last tenth of the steps with "
                         f"{left:.0%} of the starting loss left.")
    return notes

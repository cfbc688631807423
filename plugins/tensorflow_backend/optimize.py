"""keras.optimizers' own optimizers for the optimizer lesson: on a two-parameter surface (the
whole race compiled once into one tf.function loop, all the chosen optimizers stepped together)
and on a CNN's mini-batches; the defaults read off the optimizer objects."""

from __future__ import annotations

import collections
import threading

import keras
import numpy as np
import tensorflow as tf

from workbench.optimize import settings as settings_mode
from workbench.optimize.race import Minibatches, Trajectory, arguments
from workbench.training import head_kind, optimizer_name

OPS = {"exp": tf.exp, "log": tf.math.log, "sin": tf.sin, "cos": tf.cos, "tanh": tf.tanh, "sqrt": tf.sqrt,
       "abs": tf.abs}
CLASSES = {
    "sgd": ("SGD", {}), "momentum": ("SGD", {}), "nesterov": ("SGD", {"nesterov": True}),
    "adagrad": ("Adagrad", {}), "adadelta": ("Adadelta", {}), "rmsprop": ("RMSprop", {}), "adam": ("Adam", {}),
    "amsgrad": ("Adam", {"amsgrad": True}), "adamax": ("Adamax", {}), "nadam": ("Nadam", {}),
}
_PLUMBING = {"name", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "use_ema", "ema_momentum",
             "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps"}
_SLOTS = ("accumulated_delta_var", "accumulated_grad", "average_gradient", "velocity_hat", "accumulator",
          "momentum", "velocity", "norm")


def make(name: str, lr: float, hyper: dict | None = None) -> keras.optimizers.Optimizer:
    """The keras.optimizers object for a lesson optimizer (settings in Keras' own names)."""
    cls, fixed = CLASSES[optimizer_name(name)]
    return getattr(keras.optimizers, cls)(learning_rate=lr, **fixed, **(hyper or {}))


def settings(opt) -> dict[str, tuple[str, object]]:
    return {k: (k, val) for k, val in opt.get_config().items() if k not in _PLUMBING}


def defaults(name: str) -> dict:
    """The class's own defaults, read off an object built without any setting (lr included)."""
    cls, fixed = CLASSES[optimizer_name(name)]
    return {"class": f"keras.optimizers.{cls}", "hyper": settings(getattr(keras.optimizers, cls)(**fixed))}


def _neutral(opt) -> dict:
    return {k: val for k, (_, val) in settings(opt).items()}


def _state_variables(opt) -> list[tuple[str, object]]:
    """(the slot's name, variable) for what the optimizer keeps, the learning rate left out."""
    out = []
    for w in opt.variables:
        if w is getattr(opt, "_u_product", None):
            out.append(("u_product", w))
        elif w.name in ("iteration", "iterations"):
            out.append(("iteration", w))
        elif w.name != "learning_rate":
            out.append((next(s for s in _SLOTS if w.name.endswith(s)), w))
    return out


class _Race:
    """Variables, optimizers and one compiled loop for a (loss, optimizers, settings) key:
    tracing takes seconds, a run afterwards milliseconds, so the page's next race (another
    start or learning rate) reuses it, with every optimizer variable set back to its start."""

    def __init__(self, f, names, hyper, state: bool):
        self.lock = threading.Lock()
        self.names = names
        self.vars = [tf.Variable(np.zeros(2), dtype=tf.float64, name="xy") for _ in names]
        self.opts = [make(n, 1e-3, hyper[n]) for n in names]
        for o, var in zip(self.opts, self.vars):
            o.build([var])
        self.slots = [_state_variables(o) for o in self.opts]
        self.initial = [[w.numpy() for _, w in s] for s in self.slots]
        self.state = state
        self.f = f
        self.run = tf.function(self._loop, autograph=False)

    def _gradients(self):
        with tf.GradientTape() as tape:
            xy = tf.stack([tf.convert_to_tensor(v) for v in self.vars])
            loss = self.f(xy[:, 0], xy[:, 1])
            total = tf.reduce_sum(loss)  # on the tape: each optimizer's gradient is its own
        return xy, loss, tape.gradient(total, self.vars)

    def _flat_state(self):
        return [tf.concat([tf.reshape(tf.cast(w, tf.float64), [-1]) for _, w in s], 0) if s else tf.zeros([0], tf.float64)
                for s in self.slots]

    def _loop(self, steps):
        """One tf.while_loop (no autograph: tracing Keras' own code through autograph costs seconds)."""
        def arrays():
            return tf.TensorArray(tf.float64, size=steps + 1)

        def record(k, arrs):
            xy, loss, g = self._gradients()
            P, L, G, *S = arrs
            out = [P.write(k, xy), L.write(k, loss), G.write(k, tf.stack(g))]
            out += [a.write(k, s) for a, s in zip(S, self._flat_state())] if self.state else []
            return g, out

        def body(k, *arrs):
            g, out = record(k, arrs)
            with tf.control_dependencies([a.flow for a in out]):
                for o, gi, var in zip(self.opts, g, self.vars):
                    o.apply_gradients([(gi, var)])
            return (k + 1, *out)

        start = [arrays() for _ in range(3)] + ([arrays() for _ in self.names] if self.state else [])
        k, *arrs = tf.while_loop(lambda k, *a: k < steps, body, (tf.constant(0), *start))
        _, (P, L, G, *S) = record(k, arrs)
        return P.stack(), L.stack(), G.stack(), [a.stack() for a in S]

    def __call__(self, start, rates: dict, steps: int):
        for o, var, s, init, n in zip(self.opts, self.vars, self.slots, self.initial, self.names):
            var.assign(np.asarray(start, dtype=np.float64))
            for (_, w), value in zip(s, init):
                w.assign(value)
            o.learning_rate.assign(rates[n])
        P, L, G, S = self.run(tf.constant(int(steps), tf.int32))
        return P.numpy(), L.numpy(), G.numpy()[:-1], [a.numpy() for a in S]

    def unpack(self, i: int, flat: np.ndarray) -> list[dict]:
        out = []
        for row in flat:
            state, at = {}, 0
            for (name, w), init in zip(self.slots[i], self.initial[i]):
                size = int(np.size(init))
                value = row[at:at + size]
                state[name] = int(value[0]) if name == "iteration" else float(value[0]) if np.ndim(init) == 0 else value.copy()
                at += size
            out.append(state)
        return out


_RACES: "collections.OrderedDict" = collections.OrderedDict()
_RACES_LOCK = threading.Lock()
_KEEP = 12


def _race(loss_fn, names, hyper, state) -> _Race:
    if not hasattr(loss_fn, "evaluate"):  # a callable: compiled for this call only
        return _Race(loss_fn, names, hyper, state)
    key = (loss_fn.text, tuple(names), repr(sorted((n, sorted(hyper.get(n, {}).items())) for n in names)), state)
    with _RACES_LOCK:
        race = _RACES.pop(key, None) or _Race(lambda a, b: loss_fn.evaluate(a, b, OPS), names, hyper, state)
        _RACES[key] = race
        while len(_RACES) > _KEEP:
            _RACES.popitem(last=False)
    return race


def optimize(backend, loss_fn, start, optimizers, steps: int, learning_rate, hyper=None, state: bool = False):
    names, rates, hyper = arguments(optimizers, learning_rate, hyper)
    if isinstance(loss_fn, Minibatches):
        return {n: _train(backend, loss_fn, n, int(steps), rates[n], hyper[n]) for n in names}
    if hasattr(loss_fn, "evaluate"):  # compiled once for all ten: any subset reuses the same loop
        everyone = settings_mode.completed(hyper)
        race = _race(loss_fn, list(everyone), everyone, state)
    else:
        race = _race(loss_fn, names, hyper, state)
    out = {}
    with race.lock:  # the objects' settings (the learning rate) are read before another race sets them
        P, L, G, S = race(start, {n: rates.get(n, 1e-3) for n in race.names}, steps)
        for n in names:
            i = race.names.index(n)
            o = race.opts[i]
            out[n] = Trajectory.finished(P[:, i], L[:, i], G[:, i], race.unpack(i, S[i]) if state else None,
                                         optimizer=n, backend=backend.name,
                                         framework_class=f"keras.optimizers.{type(o).__name__}", hyper=_neutral(o))
    return out


def _train(backend, problem: Minibatches, name: str, steps: int, lr: float, hyper: dict) -> Trajectory:
    """The optimizer on a freshly built CNN (the same seed: the same initial weights for all)."""
    from .training import loss_and_metric

    model = backend.build(problem.arch, seed=problem.seed)
    loss_fn = loss_and_metric(model)[0]
    opt = make(name, lr, hyper)
    binary = head_kind(model.output_shape[-1]) == "binary"
    y_all = problem.y.astype(np.float32) if binary else problem.y

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = []
    for step, idx in enumerate(problem.batches(steps), 1):
        if problem.stop.is_set():
            break
        losses.append(float(train_step(problem.x[idx], y_all[idx])))
        if not np.isfinite(losses[-1]) or not problem.report(name, step, losses[-1]):
            break
    return Trajectory.trained(losses, steps, optimizer=name, backend=backend.name,
                              framework_class=f"keras.optimizers.{type(opt).__name__}", hyper=_neutral(opt))

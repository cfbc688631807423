"""Keras' and PyTorch's update rules for the ten optimizers, hand-written in numpy from each
framework's documented algorithm (its docs and source), each step also written out with its
numbers filled in, the way the convolution lesson writes out its arithmetic.

The state a rule reads and writes is named as the framework names it (Keras' optimizer
variables: momentum, velocity, accumulator ...; torch's ``optimizer.state``: exp_avg,
exp_avg_sq, sum ...), so the page can start a step from the state it read off the framework.
These functions are also the tests' oracle for what each framework's optimizer should do.
"""

from __future__ import annotations

import numpy as np

FLAVOURS = ("keras", "torch")


def v(a) -> str:
    """A vector of two (or a scalar) the way the page prints it."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    return "(" + ", ".join(f"{float(t):.6g}" for t in a) + ")"


class _Steps:
    """Collects 'name = rule = numbers = value' lines while a rule computes."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, name: str, rule: str, numbers: str, value):
        self.lines.append(f"{name} = {rule}\n    = {numbers}\n    = {v(value)}")
        return value


def initial_state(flavour: str, optimizer: str, h: dict) -> dict:
    """The state before the first step, as the framework creates it."""
    z = np.zeros(2)
    acc0 = np.full(2, float(h.get("initial_accumulator_value", 0.0)))
    if flavour == "keras":
        slots = {"sgd": {}, "momentum": {"momentum": z}, "nesterov": {"momentum": z}, "adagrad": {"accumulator": acc0},
                 "adadelta": {"accumulated_grad": z, "accumulated_delta_var": z}, "rmsprop": {"velocity": z},
                 "adam": {"momentum": z, "velocity": z}, "amsgrad": {"momentum": z, "velocity": z, "velocity_hat": z},
                 "adamax": {"momentum": z, "norm": z}, "nadam": {"momentum": z, "velocity": z, "u_product": 1.0}}
        return {"iteration": 0, **slots[optimizer]}
    slots = {"sgd": {}, "momentum": {"momentum_buffer": None}, "nesterov": {"momentum_buffer": None},
             "adagrad": {"sum": acc0}, "adadelta": {"square_avg": z, "acc_delta": z}, "rmsprop": {"square_avg": z},
             "adam": {"exp_avg": z, "exp_avg_sq": z}, "amsgrad": {"exp_avg": z, "exp_avg_sq": z, "max_exp_avg_sq": z},
             "adamax": {"exp_avg": z, "exp_inf": z}, "nadam": {"exp_avg": z, "exp_avg_sq": z, "mu_product": 1.0}}
    return {"step": 0, **slots[optimizer]}


def step(flavour: str, optimizer: str, x, g, state: dict, h: dict):
    """One update: (new x, new state, the lines written out). h holds the hyper-parameters the
    framework object was built with (neutral names, 'learning_rate' as the framework stores it)."""
    x, g = np.asarray(x, dtype=float), np.asarray(g, dtype=float)
    s = {**initial_state(flavour, optimizer, h), **{k: val for k, val in state.items() if val is not None}}
    w = _Steps()
    new = (_KERAS if flavour == "keras" else _TORCH)[optimizer](x, g, s, h, w)
    return new, s, w.lines


def run(flavour: str, optimizer: str, grad, start, steps: int, h: dict) -> np.ndarray:
    """The path of `steps` updates from `start`, gradients from grad(x) (the oracle)."""
    x, s = np.asarray(start, dtype=float), initial_state(flavour, optimizer, h)
    path = [x]
    for _ in range(steps):
        x, s, _ = step(flavour, optimizer, x, grad(x), s, h)
        path.append(x)
    return np.array(path)


# -- Keras (keras.optimizers.*, Keras 3) ---------------------------------------------------
def _f32(value: float) -> float:
    """Keras casts some Python-float settings with ops.cast, which in TensorFlow makes a float32
    tensor first: momentum 0.9 becomes 0.8999999762 (learning_rate is a float32 variable too)."""
    return float(np.float32(value))


def _k_sgd(x, g, s, h, w):
    lr = h["learning_rate"]
    s["iteration"] += 1
    return w("x", "x − lr·g", f"{v(x)} − {v(lr)}·{v(g)}", x - lr * g)


def _k_momentum(x, g, s, h, w, nesterov=False):
    lr, mu = h["learning_rate"], _f32(h["momentum"])
    m = s["momentum"]
    s["momentum"] = w("momentum", "μ·momentum − lr·g", f"{v(mu)}·{v(m)} − {v(lr)}·{v(g)}", mu * m - lr * g)
    s["iteration"] += 1
    m = s["momentum"]
    if nesterov:
        return w("x", "x + μ·momentum − lr·g", f"{v(x)} + {v(mu)}·{v(m)} − {v(lr)}·{v(g)}", x + mu * m - lr * g)
    return w("x", "x + momentum", f"{v(x)} + {v(m)}", x + m)


def _k_adagrad(x, g, s, h, w):
    lr, eps = h["learning_rate"], h["epsilon"]
    a = w("accumulator", "accumulator + g²", f"{v(s['accumulator'])} + {v(g)}²", s["accumulator"] + g * g)
    s["accumulator"] = a
    s["iteration"] += 1
    return w("x", "x − lr·g / sqrt(accumulator + ε)", f"{v(x)} − {v(lr)}·{v(g)} / sqrt({v(a)} + {v(eps)})",
             x - lr * g / np.sqrt(a + eps))


def _k_adadelta(x, g, s, h, w):
    lr, rho, eps = h["learning_rate"], h["rho"], h["epsilon"]
    ag = w("accumulated_grad", "ρ·accumulated_grad + (1 − ρ)·g²",
           f"{v(rho)}·{v(s['accumulated_grad'])} + {v(1 - rho)}·{v(g)}²", rho * s["accumulated_grad"] + (1 - rho) * g * g)
    ad = s["accumulated_delta_var"]
    d = w("Δ", "−sqrt(accumulated_delta_var + ε) / sqrt(accumulated_grad + ε)·g",
          f"−sqrt({v(ad)} + {v(eps)}) / sqrt({v(ag)} + {v(eps)})·{v(g)}", -np.sqrt(ad + eps) / np.sqrt(ag + eps) * g)
    s["accumulated_grad"] = ag
    s["accumulated_delta_var"] = w("accumulated_delta_var", "ρ·accumulated_delta_var + (1 − ρ)·Δ²",
                                   f"{v(rho)}·{v(ad)} + {v(1 - rho)}·{v(d)}²", rho * ad + (1 - rho) * d * d)
    s["iteration"] += 1
    return w("x", "x + lr·Δ", f"{v(x)} + {v(lr)}·{v(d)}", x + lr * d)


def _k_rmsprop(x, g, s, h, w):
    lr, rho, eps = h["learning_rate"], h["rho"], h["epsilon"]
    vel = w("velocity", "ρ·velocity + (1 − ρ)·g²", f"{v(rho)}·{v(s['velocity'])} + {v(1 - rho)}·{v(g)}²",
            rho * s["velocity"] + (1 - rho) * g * g)
    s["velocity"] = vel
    s["iteration"] += 1
    return w("x", "x − lr·g / sqrt(velocity + ε)", f"{v(x)} − {v(lr)}·{v(g)} / sqrt({v(vel)} + {v(eps)})",
             x - lr * g / np.sqrt(vel + eps))


def _k_adam(x, g, s, h, w, amsgrad=False):
    lr, b1, b2, eps = h["learning_rate"], h["beta_1"], h["beta_2"], h["epsilon"]
    t = s["iteration"] + 1
    m = w("momentum", "momentum + (g − momentum)·(1 − β1)", f"{v(s['momentum'])} + ({v(g)} − {v(s['momentum'])})·{v(1 - b1)}",
          s["momentum"] + (g - s["momentum"]) * (1 - b1))
    vel = w("velocity", "velocity + (g² − velocity)·(1 − β2)",
            f"{v(s['velocity'])} + ({v(g)}² − {v(s['velocity'])})·{v(1 - b2)}", s["velocity"] + (g * g - s["velocity"]) * (1 - b2))
    s["momentum"], s["velocity"] = m, vel
    if amsgrad:
        vel = s["velocity_hat"] = w("velocity_hat", "max(velocity_hat, velocity)", f"max({v(s['velocity_hat'])}, {v(vel)})",
                                    np.maximum(s["velocity_hat"], vel))
    alpha = w("α", "lr·sqrt(1 − β2^t) / (1 − β1^t)", f"{v(lr)}·sqrt(1 − {v(b2)}^{t}) / (1 − {v(b1)}^{t})",
              lr * np.sqrt(1 - _f32(b2) ** t) / (1 - _f32(b1) ** t))
    s["iteration"] = t
    name = "velocity_hat" if amsgrad else "velocity"
    return w("x", f"x − α·momentum / (sqrt({name}) + ε)", f"{v(x)} − {v(alpha)}·{v(m)} / (sqrt({v(vel)}) + {v(eps)})",
             x - m * alpha / (np.sqrt(vel) + eps))


def _k_adamax(x, g, s, h, w):
    lr, b1, b2, eps = h["learning_rate"], h["beta_1"], h["beta_2"], h["epsilon"]
    t = s["iteration"] + 1
    m = w("momentum", "momentum + (g − momentum)·(1 − β1)", f"{v(s['momentum'])} + ({v(g)} − {v(s['momentum'])})·{v(1 - b1)}",
          s["momentum"] + (g - s["momentum"]) * (1 - b1))
    u = w("norm", "max(β2·norm, |g|)", f"max({v(b2)}·{v(s['norm'])}, |{v(g)}|)", np.maximum(b2 * s["norm"], np.abs(g)))
    s.update(momentum=m, norm=u, iteration=t)
    return w("x", "x − lr·momentum / ((1 − β1^t)·(norm + ε))", f"{v(x)} − {v(lr)}·{v(m)} / ((1 − {v(b1)}^{t})·({v(u)} + {v(eps)}))",
             x - lr * m / ((1 - _f32(b1) ** t) * (u + eps)))


def _k_nadam(x, g, s, h, w):
    lr, b1, b2, eps = h["learning_rate"], _f32(h["beta_1"]), _f32(h["beta_2"]), h["epsilon"]
    t, d = s["iteration"] + 1, _f32(0.96)
    # u_product is advanced before the update, with the settings as Python floats
    up = w("u_product", "u_product·β1·(1 − ½·0.96^t)", f"{v(s['u_product'])}·{v(h['beta_1'])}·(1 − 0.5·0.96^{t})",
           s["u_product"] * h["beta_1"] * (1 - 0.5 * 0.96 ** t))
    u_t = w("μ_t", "β1·(1 − ½·0.96^t)", f"{v(b1)}·(1 − 0.5·0.96^{t})", b1 * (1 - 0.5 * d ** t))
    u_next = w("μ_t+1", "β1·(1 − ½·0.96^(t+1))", f"{v(b1)}·(1 − 0.5·0.96^{t + 1})", b1 * (1 - 0.5 * d ** (t + 1)))
    up_next = up * u_next
    m = w("momentum", "momentum + (g − momentum)·(1 − β1)", f"{v(s['momentum'])} + ({v(g)} − {v(s['momentum'])})·{v(1 - b1)}",
          s["momentum"] + (g - s["momentum"]) * (1 - b1))
    vel = w("velocity", "velocity + (g² − velocity)·(1 − β2)",
            f"{v(s['velocity'])} + ({v(g)}² − {v(s['velocity'])})·{v(1 - b2)}", s["velocity"] + (g * g - s["velocity"]) * (1 - b2))
    m_hat = w("m̂", "μ_t+1·momentum / (1 − u_product·μ_t+1) + (1 − μ_t)·g / (1 − u_product)",
              f"{v(u_next)}·{v(m)} / (1 − {v(up_next)}) + {v(1 - u_t)}·{v(g)} / (1 − {v(up)})",
              u_next * m / (1 - up_next) + (1 - u_t) * g / (1 - up))
    v_hat = w("v̂", "velocity / (1 − β2^t)", f"{v(vel)} / (1 − {v(b2)}^{t})", vel / (1 - b2 ** t))
    s.update(momentum=m, velocity=vel, u_product=up, iteration=t)
    return w("x", "x − lr·m̂ / (sqrt(v̂) + ε)", f"{v(x)} − {v(lr)}·{v(m_hat)} / (sqrt({v(v_hat)}) + {v(eps)})",
             x - m_hat * lr / (np.sqrt(v_hat) + eps))


_KERAS = {"sgd": _k_sgd, "momentum": _k_momentum, "nesterov": lambda *a: _k_momentum(*a, nesterov=True),
          "adagrad": _k_adagrad, "adadelta": _k_adadelta, "rmsprop": _k_rmsprop, "adam": _k_adam,
          "amsgrad": lambda *a: _k_adam(*a, amsgrad=True), "adamax": _k_adamax, "nadam": _k_nadam}


# -- PyTorch (torch.optim.*) ---------------------------------------------------------------
def _t_sgd(x, g, s, h, w):
    s["step"] += 1  # torch's SGD keeps no step count; counted here for the page
    return w("x", "x − lr·g", f"{v(x)} − {v(h['learning_rate'])}·{v(g)}", x - h["learning_rate"] * g)


def _t_momentum(x, g, s, h, w, nesterov=False):
    lr, mu = h["learning_rate"], h["momentum"]
    if s.get("momentum_buffer") is None:  # torch starts the buffer at the first gradient
        buf = w("momentum_buffer", "g (first step)", v(g), g.copy())
    else:
        buf = w("momentum_buffer", "μ·momentum_buffer + g", f"{v(mu)}·{v(s['momentum_buffer'])} + {v(g)}",
                mu * s["momentum_buffer"] + g)
    s["momentum_buffer"] = buf
    s["step"] += 1
    if nesterov:
        d = w("d", "g + μ·momentum_buffer", f"{v(g)} + {v(mu)}·{v(buf)}", g + mu * buf)
        return w("x", "x − lr·d", f"{v(x)} − {v(lr)}·{v(d)}", x - lr * d)
    return w("x", "x − lr·momentum_buffer", f"{v(x)} − {v(lr)}·{v(buf)}", x - lr * buf)


def _t_adagrad(x, g, s, h, w):
    lr, eps, decay = h["learning_rate"], h["epsilon"], h.get("lr_decay", 0.0)
    s["step"] += 1
    clr = lr / (1 + (s["step"] - 1) * decay)
    total = w("sum", "sum + g²", f"{v(s['sum'])} + {v(g)}²", s["sum"] + g * g)
    s["sum"] = total
    return w("x", "x − lr·g / (sqrt(sum) + ε)", f"{v(x)} − {v(clr)}·{v(g)} / (sqrt({v(total)}) + {v(eps)})",
             x - clr * g / (np.sqrt(total) + eps))


def _t_adadelta(x, g, s, h, w):
    lr, rho, eps = h["learning_rate"], h["rho"], h["epsilon"]
    sq = w("square_avg", "ρ·square_avg + (1 − ρ)·g²", f"{v(rho)}·{v(s['square_avg'])} + {v(1 - rho)}·{v(g)}²",
           rho * s["square_avg"] + (1 - rho) * g * g)
    acc = s["acc_delta"]
    d = w("delta", "sqrt(acc_delta + ε) / sqrt(square_avg + ε)·g", f"sqrt({v(acc)} + {v(eps)}) / sqrt({v(sq)} + {v(eps)})·{v(g)}",
          np.sqrt(acc + eps) / np.sqrt(sq + eps) * g)
    s["square_avg"] = sq
    s["acc_delta"] = w("acc_delta", "ρ·acc_delta + (1 − ρ)·delta²", f"{v(rho)}·{v(acc)} + {v(1 - rho)}·{v(d)}²",
                       rho * acc + (1 - rho) * d * d)
    s["step"] += 1
    return w("x", "x − lr·delta", f"{v(x)} − {v(lr)}·{v(d)}", x - lr * d)


def _t_rmsprop(x, g, s, h, w):
    lr, alpha, eps = h["learning_rate"], h["rho"], h["epsilon"]
    sq = w("square_avg", "α·square_avg + (1 − α)·g²", f"{v(alpha)}·{v(s['square_avg'])} + {v(1 - alpha)}·{v(g)}²",
           alpha * s["square_avg"] + (1 - alpha) * g * g)
    s["square_avg"] = sq
    s["step"] += 1
    return w("x", "x − lr·g / (sqrt(square_avg) + ε)", f"{v(x)} − {v(lr)}·{v(g)} / (sqrt({v(sq)}) + {v(eps)})",
             x - lr * g / (np.sqrt(sq) + eps))


def _t_adam(x, g, s, h, w, amsgrad=False):
    lr, b1, b2, eps = h["learning_rate"], h["beta_1"], h["beta_2"], h["epsilon"]
    t = s["step"] + 1
    m = w("exp_avg", "exp_avg + (g − exp_avg)·(1 − β1)", f"{v(s['exp_avg'])} + ({v(g)} − {v(s['exp_avg'])})·{v(1 - b1)}",
          s["exp_avg"] + (g - s["exp_avg"]) * (1 - b1))
    sq = w("exp_avg_sq", "β2·exp_avg_sq + (1 − β2)·g²", f"{v(b2)}·{v(s['exp_avg_sq'])} + {v(1 - b2)}·{v(g)}²",
           b2 * s["exp_avg_sq"] + (1 - b2) * g * g)
    s.update(exp_avg=m, exp_avg_sq=sq, step=t)
    name = "exp_avg_sq"
    if amsgrad:
        name = "max_exp_avg_sq"
        sq = s[name] = w(name, "max(max_exp_avg_sq, exp_avg_sq)", f"max({v(s[name])}, {v(sq)})", np.maximum(s[name], sq))
    denom = w("denom", f"sqrt({name}) / sqrt(1 − β2^t) + ε", f"sqrt({v(sq)}) / sqrt(1 − {v(b2)}^{t}) + {v(eps)}",
              np.sqrt(sq) / np.sqrt(1 - b2 ** t) + eps)
    return w("x", "x − lr / (1 − β1^t)·exp_avg / denom", f"{v(x)} − {v(lr)} / (1 − {v(b1)}^{t})·{v(m)} / {v(denom)}",
             x - (lr / (1 - b1 ** t)) * m / denom)


def _t_adamax(x, g, s, h, w):
    lr, b1, b2, eps = h["learning_rate"], h["beta_1"], h["beta_2"], h["epsilon"]
    t = s["step"] + 1
    m = w("exp_avg", "exp_avg + (g − exp_avg)·(1 − β1)", f"{v(s['exp_avg'])} + ({v(g)} − {v(s['exp_avg'])})·{v(1 - b1)}",
          s["exp_avg"] + (g - s["exp_avg"]) * (1 - b1))
    u = w("exp_inf", "max(β2·exp_inf, |g| + ε)", f"max({v(b2)}·{v(s['exp_inf'])}, |{v(g)}| + {v(eps)})",
          np.maximum(b2 * s["exp_inf"], np.abs(g) + eps))
    s.update(exp_avg=m, exp_inf=u, step=t)
    return w("x", "x − lr / (1 − β1^t)·exp_avg / exp_inf", f"{v(x)} − {v(lr)} / (1 − {v(b1)}^{t})·{v(m)} / {v(u)}",
             x - (lr / (1 - b1 ** t)) * m / u)


def _t_nadam(x, g, s, h, w):
    lr, b1, b2, eps, psi = h["learning_rate"], h["beta_1"], h["beta_2"], h["epsilon"], h["momentum_decay"]
    t = s["step"] + 1
    mu = w("μ_t", "β1·(1 − ½·0.96^(t·ψ))", f"{v(b1)}·(1 − 0.5·0.96^({t}·{v(psi)}))", b1 * (1 - 0.5 * 0.96 ** (t * psi)))
    mu_next = w("μ_t+1", "β1·(1 − ½·0.96^((t+1)·ψ))", f"{v(b1)}·(1 − 0.5·0.96^({t + 1}·{v(psi)}))",
                b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi)))
    mp = w("mu_product", "mu_product·μ_t", f"{v(s['mu_product'])}·{v(mu)}", s["mu_product"] * mu)
    m = w("exp_avg", "exp_avg + (g − exp_avg)·(1 − β1)", f"{v(s['exp_avg'])} + ({v(g)} − {v(s['exp_avg'])})·{v(1 - b1)}",
          s["exp_avg"] + (g - s["exp_avg"]) * (1 - b1))
    sq = w("exp_avg_sq", "β2·exp_avg_sq + (1 − β2)·g²", f"{v(b2)}·{v(s['exp_avg_sq'])} + {v(1 - b2)}·{v(g)}²",
           b2 * s["exp_avg_sq"] + (1 - b2) * g * g)
    denom = w("denom", "sqrt(exp_avg_sq / (1 − β2^t)) + ε", f"sqrt({v(sq)} / (1 − {v(b2)}^{t})) + {v(eps)}",
              np.sqrt(sq / (1 - b2 ** t)) + eps)
    s.update(exp_avg=m, exp_avg_sq=sq, mu_product=mp, step=t)
    mp_next = mp * mu_next
    return w("x", "x − lr·(1 − μ_t) / (1 − mu_product)·g / denom − lr·μ_t+1 / (1 − mu_product·μ_t+1)·exp_avg / denom",
             f"{v(x)} − {v(lr)}·{v(1 - mu)} / (1 − {v(mp)})·{v(g)} / {v(denom)} − {v(lr)}·{v(mu_next)} / (1 − {v(mp_next)})·{v(m)} / {v(denom)}",
             x - lr * (1 - mu) / (1 - mp) * g / denom - lr * mu_next / (1 - mp_next) * m / denom)


_TORCH = {"sgd": _t_sgd, "momentum": _t_momentum, "nesterov": lambda *a: _t_momentum(*a, nesterov=True),
          "adagrad": _t_adagrad, "adadelta": _t_adadelta, "rmsprop": _t_rmsprop, "adam": _t_adam,
          "amsgrad": lambda *a: _t_adam(*a, amsgrad=True), "adamax": _t_adamax, "nadam": _t_nadam}

"""How each optimizer is set up in the two settings modes, where Keras' and PyTorch's update
rules differ, and the step at which two paths part ways.

Hyper-parameters are named in Keras' vocabulary (rho, epsilon, beta_1, beta_2, ...); each
backend translates them into its framework's own names (PyTorch's alpha, eps, betas).
"""

from __future__ import annotations

import math

import numpy as np

from workbench.training import OPTIMIZERS, optimizer_name

MODES = ("defaults", "matched")
MOMENTUM = 0.9  # the lecture's momentum for SGD with momentum and Nesterov, in both modes

# matched: the same value given to both frameworks wherever both have the setting (Keras'
# defaults, which the lecture quotes: rho 0.9 for RMSprop)
MATCHED = {
    "sgd": {}, "momentum": {"momentum": MOMENTUM}, "nesterov": {"momentum": MOMENTUM},
    "adagrad": {"initial_accumulator_value": 0.1, "epsilon": 1e-7},
    "adadelta": {"rho": 0.95, "epsilon": 1e-7},
    "rmsprop": {"rho": 0.9, "epsilon": 1e-7, "momentum": 0.0, "centered": False},
    "adam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "amsgrad": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "adamax": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "nadam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
}

# Where the rules themselves differ, so matched settings still give different paths.
RULE_DIFFERENCES = {
    "adagrad": ("epsilon", "Keras divides by sqrt(accumulator + ε), PyTorch by sqrt(sum) + ε (ε inside vs outside "
                "the square root)."),
    "adadelta": (None, "Same rule in both (ε inside both square roots)."),
    "rmsprop": ("epsilon", "Keras divides by sqrt(v + ε), PyTorch by sqrt(v) + ε: ε inside vs outside the square "
                "root, which matters once v is small (near a minimum)."),
    "adam": ("beta_1, beta_2, epsilon", "Keras computes β1^t and β2^t with β rounded to float32 (0.9 becomes "
             "0.8999999762), and adds ε to sqrt(v) before the bias correction (Kingma & Ba's ε̂), PyTorch after it; "
             "both are tiny per step, so the paths drift apart slowly, faster at large learning rates."),
    "amsgrad": ("beta_1, beta_2, epsilon", "As Adam: float32 β^t in Keras, and ε before (Keras) or after "
                "(PyTorch) the bias correction of the maximum."),
    "adamax": ("epsilon", "Keras divides by u + ε, PyTorch puts ε inside the maximum: u = max(β2 u, |g| + ε)."),
    "nadam": ("momentum_decay", "The momentum schedule μ_t = β1 (1 - ½·0.96^(ψ t)): Keras uses ψ = 1, PyTorch "
              "momentum_decay ψ = 0.004, so PyTorch's μ_t stays near β1/2 much longer."),
}
for _same in ("sgd", "momentum", "nesterov"):
    RULE_DIFFERENCES[_same] = (None, "The same rule in both (Keras keeps -lr·g in its momentum, PyTorch g: "
                                     "the same path for a constant learning rate).")


def names(optimizers) -> list[str]:
    """Canonical names from a list or a comma-separated string ('all': the ten)."""
    if isinstance(optimizers, str):
        optimizers = list(OPTIMIZERS) if optimizers.strip().lower() == "all" else optimizers.split(",")
    out = [optimizer_name(n.strip()) for n in optimizers if str(n).strip()]
    if not out:
        raise ValueError(f"choose at least one optimizer: {', '.join(OPTIMIZERS)}")
    return list(dict.fromkeys(out))


def hyper(optimizer: str, mode: str = "defaults") -> dict:
    """What is passed to the framework's optimizer besides the learning rate."""
    if mode not in MODES:
        raise ValueError(f"settings must be one of {', '.join(MODES)}, got {mode!r}")
    name = optimizer_name(optimizer)
    if mode == "matched":
        return dict(MATCHED[name])
    return {"momentum": MOMENTUM} if name in ("momentum", "nesterov") else {}


def defaults_table(defaults: dict[str, dict]) -> list[dict]:
    """One row per (optimizer, setting) from each backend's defaults (read off the framework
    objects): {backend: {optimizer: {"class": ..., "hyper": {neutral: (own name, value)}}}}."""
    rows = []
    backends = list(defaults)
    for opt in OPTIMIZERS:
        settings = dict.fromkeys(k for b in backends for k in defaults[b].get(opt, {}).get("hyper", {}))
        for key in settings:
            row = {"optimizer": opt, "setting": key}
            values = []
            for b in backends:
                own = defaults[b].get(opt, {}).get("hyper", {}).get(key)
                row[b] = "—" if own is None else (f"{own[1]!r}" if own[0] == key else f"{own[0]} = {own[1]!r}")
                values.append(None if own is None else own[1])
            row["differs"] = len(backends) > 1 and not _same(values)
            rows.append(row)
    return rows


def _same(values) -> bool:
    first = values[0]
    for v in values[1:]:
        if (v is None) != (first is None):
            return False
        if isinstance(v, (int, float)) and isinstance(first, (int, float)):
            if not math.isclose(float(v), float(first), rel_tol=1e-6, abs_tol=1e-12):
                return False
        elif v != first:
            return False
    return True


def separation(a: np.ndarray, b: np.ndarray, tolerance: float) -> int | None:
    """The first step at which two paths are more than `tolerance` apart (None: never)."""
    n = min(len(a), len(b))
    gap = np.linalg.norm(np.asarray(a[:n], float) - np.asarray(b[:n], float), axis=1)
    far = np.flatnonzero(~(gap <= tolerance))  # NaN counts as apart
    return int(far[0]) if len(far) else None


def responsible(optimizer: str, mode: str, defaults: dict[str, dict]) -> list[str]:
    """Why two backends' paths differ: the settings whose defaults differ (defaults mode) and the
    rule difference (both modes), in words for the page."""
    name = optimizer_name(optimizer)
    reasons = []
    if mode == "defaults":
        for row in defaults_table(defaults):
            if row["optimizer"] == name and row["differs"] and row["setting"] not in ("learning_rate",):
                reasons.append(f"default {row['setting']}: " + ", ".join(f"{b} {row[b]}" for b in defaults))
    setting, text = RULE_DIFFERENCES[name]
    if setting is not None or not reasons:
        reasons.append(("the rule: " if setting else "") + text)
    return reasons

# Learning rates that make each optimizer train the lecture's MNIST CNN in a few dozen steps
# (Adadelta's rule carries its own scale: Keras' 1e-3 barely moves it, PyTorch's default is 1.0).
CNN_RATES = {"sgd": 0.05, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.01, "adadelta": 1.0, "rmsprop": 1e-3,
             "adam": 1e-3, "adamax": 2e-3, "nadam": 2e-3, "amsgrad": 1e-3}


def completed(hyper: dict[str, dict]) -> dict[str, dict]:
    """Settings for all ten optimizers, the asked ones as asked and the others in the same mode
    (matched when every asked one is matched): a backend that compiles the race once can then
    serve any subset of optimizers from the same compiled loop."""
    mode = "matched" if hyper and all(h == MATCHED[optimizer_name(n)] for n, h in hyper.items()) else "defaults"
    return {n: dict(hyper[n]) if n in hyper else hyper_of(n, mode) for n in OPTIMIZERS}


hyper_of = hyper  # the module-level name `hyper` is shadowed by arguments of the same name above

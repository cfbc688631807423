"""Every optimizer in both backends against a hand-written numpy version of that framework's
documented update rule with its documented defaults (workbench.optimize.rules), 50 steps on two
surfaces with gradients written out by hand; and matched settings across the frameworks."""

import numpy as np
import pytest

from workbench import lookup
from workbench.optimize import race as R
from workbench.optimize import rules, settings as S
from workbench.optimize.surfaces import SURFACES
from workbench.training import OPTIMIZERS

K32 = lambda lr: float(np.float32(lr))  # noqa: E731 - Keras keeps the learning rate as float32

# the documented defaults (keras.io/api/optimizers, pytorch.org/docs/stable/optim.html)
KERAS = {"sgd": {}, "momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9},
         "adagrad": {"initial_accumulator_value": 0.1, "epsilon": 1e-7}, "adadelta": {"rho": 0.95, "epsilon": 1e-7},
         "rmsprop": {"rho": 0.9, "epsilon": 1e-7}, **{n: {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
                                                       for n in ("adam", "amsgrad", "adamax", "nadam")}}
TORCH = {"sgd": {}, "momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9},
         "adagrad": {"initial_accumulator_value": 0.0, "epsilon": 1e-10, "lr_decay": 0.0},
         "adadelta": {"rho": 0.9, "epsilon": 1e-6}, "rmsprop": {"rho": 0.99, "epsilon": 1e-8},
         **{n: {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8} for n in ("adam", "amsgrad", "adamax")},
         "nadam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8, "momentum_decay": 0.004}}
FLAVOUR = {"tensorflow": ("keras", KERAS, K32), "pytorch": ("torch", TORCH, float)}

GRADIENTS = {  # by hand, not by any autograd
    "ellipse": lambda p: np.array([2 * p[0], 20 * p[1]]),
    "himmelblau": lambda p: np.array([4 * p[0] * (p[0] ** 2 + p[1] - 11) + 2 * (p[0] + p[1] ** 2 - 7),
                                      2 * (p[0] ** 2 + p[1] - 11) + 4 * p[1] * (p[0] + p[1] ** 2 - 7)]),
}
LR = {"ellipse": 0.02, "himmelblau": 0.005}


@pytest.mark.parametrize("backend_name", list(FLAVOUR))
@pytest.mark.parametrize("surface", list(GRADIENTS))
def test_every_optimizer_follows_its_frameworks_documented_rule(backend_name, surface):
    flavour, documented, lr_as_stored = FLAVOUR[backend_name]
    surf, steps = SURFACES[surface], 50
    paths = R.race(lookup.backend(backend_name), surf, "all", steps, LR[surface])
    for name in OPTIMIZERS:
        t = paths[name]
        for key, value in documented[name].items():  # the object holds the documented default
            assert t.hyper[key] == pytest.approx(value, rel=1e-6), (name, key)
        h = {**documented[name], "learning_rate": lr_as_stored(LR[surface])}
        expected = rules.run(flavour, name, GRADIENTS[surface], surf.start, steps, h)
        assert t.points.shape == (steps + 1, 2) and t.stopped is None
        # torch keeps NAdam's mu_product in float32: a relative 1e-7 wobble, not a different rule
        np.testing.assert_allclose(t.points, expected, rtol=2e-7, atol=1e-9, err_msg=f"{backend_name} {name}")
        np.testing.assert_allclose(t.loss, surf.value(expected[:, 0], expected[:, 1]), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend_name", list(FLAVOUR))
def test_the_state_read_off_the_framework_steps_by_the_written_rule(backend_name):
    """Start from the framework's state at step k, apply the page's filled-in rule: the
    framework's point and state at step k + 1."""
    flavour = FLAVOUR[backend_name][0]
    paths = R.race(lookup.backend(backend_name), SURFACES["rosenbrock"], "all", 12, 1e-3, state=True)
    for name, t in paths.items():
        for k in (0, 5, 10):
            x, s, lines = rules.step(flavour, name, t.points[k], t.grads[k], t.states[k], t.hyper)
            np.testing.assert_allclose(x, t.points[k + 1], rtol=1e-7, atol=1e-10, err_msg=f"{name} step {k}")
            for key, value in t.states[k + 1].items():
                if key in s and s[key] is not None and key not in ("step", "iteration"):
                    np.testing.assert_allclose(s[key], value, rtol=1e-6, atol=1e-9, err_msg=f"{name} {key}")
            assert lines[-1].startswith("x = ") and rules.v(t.points[k + 1])[:6] in lines[-1].replace("−", "-")


def test_matched_settings_agree_where_the_rules_agree():
    torch_b, keras_b = lookup.backend("pytorch"), lookup.backend("tensorflow")
    # Keras takes β1^t and β2^t of β rounded to float32: at 1e-3 the paths stay within 3e-7 over
    # 50 steps; at 1e-2 Adam drifts to 3e-6 (see test_keras_rounds_its_betas_to_float32)
    for surface, lr in (("ellipse", 1e-3), ("rosenbrock", 1e-3)):
        surf = SURFACES[surface]
        k = R.race(keras_b, surf, "all", 50, lr, mode="matched")
        t = R.race(torch_b, surf, "all", 50, lr, mode="matched")
        for name in ("sgd", "momentum", "nesterov", "adam"):
            np.testing.assert_allclose(k[name].points, t[name].points, atol=1e-6, err_msg=f"{surface} {name}")


def test_the_separation_step_is_where_the_rules_part():
    """RMSprop matched on the ellipse: the paths coincide while v is large and part once v is
    small enough for ε inside vs outside the square root to matter; the numpy rules of the two
    frameworks part at the same step as the frameworks themselves."""
    surf, lr, steps = SURFACES["ellipse"], 0.01, 400
    tol = 1e-6 * surf.scale()
    k = R.race(lookup.backend("tensorflow"), surf, ["rmsprop", "nadam", "adam"], steps, lr, mode="matched")
    t = R.race(lookup.backend("pytorch"), surf, ["rmsprop", "nadam", "adam"], steps, lr, mode="matched")
    for name in ("rmsprop", "nadam"):
        at = S.separation(k[name].points, t[name].points, tol)
        # RMSprop's ε matters only once v is small; Nadam's schedule differs from the first step
        assert at is not None and (at > 5 if name == "rmsprop" else at == 1), (name, at)
        hk, ht = ({**k[name].hyper}, {**t[name].hyper})
        ok = rules.run("keras", name, GRADIENTS["ellipse"], surf.start, steps, hk)
        ot = rules.run("torch", name, GRADIENTS["ellipse"], surf.start, steps, ht)
        assert abs(S.separation(ok, ot, tol) - at) <= 1, name
    reasons = S.responsible("rmsprop", "matched", {})
    assert any("sqrt(v + ε)" in r for r in reasons)
    assert any("momentum_decay" in r or "ψ" in r for r in S.responsible("nadam", "matched", {}))


def test_defaults_are_read_off_the_framework_objects():
    table = S.defaults_table({b: {n: lookup.backend(b).optimizer_defaults(n) for n in OPTIMIZERS}
                              for b in ("tensorflow", "pytorch")})
    rows = {(r["optimizer"], r["setting"]): r for r in table}
    assert rows[("rmsprop", "rho")]["pytorch"] == "alpha = 0.99" and rows[("rmsprop", "rho")]["tensorflow"] == "0.9"
    assert rows[("rmsprop", "rho")]["differs"] and rows[("adadelta", "learning_rate")]["differs"]
    assert not rows[("adam", "beta_1")]["differs"]
    assert rows[("nadam", "momentum_decay")]["tensorflow"] == "—"


def test_pytorch_adagrad_is_adagrad():
    """The issue 17 audit's worry: every name maps to its own torch class (adagrad is not RMSprop)."""
    t = R.race(lookup.backend("pytorch"), SURFACES["ellipse"], "all", 2, 0.01)
    assert {n: x.framework_class.split(".")[-1] for n, x in t.items()} == {
        "sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adagrad": "Adagrad", "adadelta": "Adadelta",
        "rmsprop": "RMSprop", "adam": "Adam", "adamax": "Adamax", "nadam": "NAdam", "amsgrad": "Adam"}
    from workbench_plugins.torch_backend.training import make_optimizer
    import torch

    assert type(make_optimizer([torch.zeros(1, requires_grad=True)], "adagrad", 0.01)).__name__ == "Adagrad"


def test_keras_rounds_its_betas_to_float32():
    """Why matched Adam drifts apart at larger rates: Keras' β^t uses β as float32."""
    surf = SURFACES["ellipse"]
    k = R.race(lookup.backend("tensorflow"), surf, ["adam"], 50, 0.02, mode="matched")["adam"]
    h = {**k.hyper}
    exact = rules.run("torch", "adam", GRADIENTS["ellipse"], surf.start, 50, h)
    np.testing.assert_allclose(k.points, rules.run("keras", "adam", GRADIENTS["ellipse"], surf.start, 50, h),
                               rtol=1e-9, atol=1e-12)
    assert 1e-6 < np.abs(k.points - exact).max() < 1e-4


@pytest.mark.parametrize("backend_name", list(FLAVOUR))
def test_on_rosenbrock_momentum_overshoots_and_adagrad_stalls(backend_name):
    """The lesson's first sight, read off the real paths: at the default rate momentum swings past
    the valley floor (its loss goes up on the way), Adagrad's shrinking steps leave it far from done."""
    surf = SURFACES["rosenbrock"]
    paths = R.race(lookup.backend(backend_name), surf, "all", 300, surf.learning_rate)
    notes = " ".join(R.observations(paths, surf))
    assert "**momentum** overshoots" in notes and "**adagrad** stalls" in notes
    rises = np.diff(paths["momentum"].loss) > 0
    assert rises.sum() > 10 and paths["momentum"].loss[-1] < paths["sgd"].loss[-1] < paths["adagrad"].loss[-1]

"""Optimizer lesson: the ten optimizers of the lecture "CNNs part II" racing on loss surfaces and
on a real CNN, each run by the framework's own optimizer class; their state and update rules
with the numbers filled in; where Keras and PyTorch part ways; learning-rate sweeps."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from workbench import lookup, ui
from workbench.optimize import figures as F
from workbench.optimize import race as R
from workbench.optimize import rules
from workbench.optimize import settings as S
from workbench.optimize.job import QueuedRace
from workbench.optimize.surfaces import SURFACES, surface
from workbench.training import OPTIMIZERS
from workbench.urlstate import Preset, UrlState

CNN_LIVE = "opt_cnn_live"
FLAVOUR = {"tensorflow": "keras", "pytorch": "torch"}  # whose documented rules each backend follows
# URL name -> widget key (workbench.urlstate); "*" keys depend on the surface; start is read by the page
FIELDS = {"backend": "opt_backend", "surface": "opt_surface", "steps": "opt_steps", "mode": "opt_mode",
          "formula": "opt_formula", "optimizers": "opt_chosen", "lr": "opt_lr_*", "start": None,
          **{f"lr_{n}": "opt_lr_*" for n in OPTIMIZERS}, "compare": "opt_cmp", "tolerance": "opt_tol",
          "state": "opt_state_name", "step": "opt_state_step", "cnn_arch": "opt_cnn_arch",
          "cnn_steps": "opt_cnn_steps", "cnn_batch": "opt_cnn_batch", "cnn_images": "opt_cnn_images",
          **{f"cnn_lr_{n}": f"opt_cnn_lr_{n}" for n in OPTIMIZERS}}
PRESETS = (
    Preset("ten-optimizers", "The ten optimizers", {}, "cnns-part-2",
           "SGD, momentum, Nesterov, Adagrad, Adadelta, RMSprop, Adam, AdaMax, Nadam and AMSGrad: \u201cGetting the "
           "learning rate right is most important!\u201d"),
    Preset("rmsprop-hinton", "RMSprop as Hinton suggests", {"optimizers": "rmsprop,sgd", "lr": "0.001"}, "cnns-part-2",
           "Hinton suggests setting the weight of past squared gradients to 0.9 and the learning rate to 0.001."),
)


@st.cache_data(show_spinner="Reading each framework's defaults ...", max_entries=2)
def _defaults(backends: tuple[str, ...]) -> dict:
    return {b: {n: lookup.backend(b).optimizer_defaults(n) for n in OPTIMIZERS} for b in backends}


def _controls(url: UrlState):
    c = st.columns([2, 2, 1, 1])
    backends = sorted(ui.registry().backends())
    backend = url.bind(c[0].selectbox, "Backend", backends, index=backends.index("tensorflow") if "tensorflow" in backends else 0,
                             key="opt_backend")
    choices = [*SURFACES, "your own formula"]
    name = url.bind(c[1].selectbox, "Surface", choices, key="opt_surface")
    steps = url.bind(c[2].number_input, "Steps", 1, 2000, 300, key="opt_steps")
    mode = url.bind(c[3].selectbox, "Settings", S.MODES, key="opt_mode",
                          help="defaults: each framework's own; matched: the same values given to both")
    if name == "your own formula":
        text = url.bind(st.text_input, "f(x, y) =", "x^2 + 3 sin(y)^2 + 0.1 y^2", key="opt_formula",
                             help="numbers, x, y, + - * / ^, parentheses, exp, log, sin, cos, tanh, sqrt, abs")
        try:
            surf = surface(text)
        except ValueError as exc:  # the grammar's own message: what is wrong, and where
            st.error(str(exc), icon=":material/function:")
            st.stop()
    else:
        surf = SURFACES[name]
    st.caption(surf.description + (f" Minimum at {surf.minimum}." if surf.minimum else ""))
    chosen = url.bind(st.multiselect, "Optimizers", list(OPTIMIZERS), default=list(OPTIMIZERS), format_func=OPTIMIZERS.get,
                            key="opt_chosen")
    if not chosen:
        st.info("Choose at least one optimizer.")
        st.stop()
    with st.expander("Learning rate per optimizer", expanded=False):
        base = url.bind(st.number_input, "For all", 1e-6, 100.0, surf.learning_rate, format="%.6g",
                        key=f"opt_lr_{surf.name}", name="lr")
        cols = st.columns(5)
        rates = {n: url.bind(cols[i % 5].number_input, n, 1e-6, 100.0, base, format="%.6g",
                             key=f"opt_lr_{surf.name}_{n}_{base}", name=f"lr_{n}")
                 for i, n in enumerate(chosen)}
    key = f"opt_start_{surf.name}"
    if key not in st.session_state:
        st.session_state[key] = surf.start
    linked = url.take("start")
    if linked is not None:
        try:
            x, y = (float(v) for v in linked.split(","))
            if not (np.isfinite(x) and np.isfinite(y) and abs(x) <= 1e3 and abs(y) <= 1e3):
                raise ValueError
            st.session_state[key] = (x, y)
        except ValueError:
            url.invalid("start", linked, "two numbers x,y within ±1000")
    c = st.columns(2)
    x0 = c[0].number_input("start x", -1e3, 1e3, float(st.session_state[key][0]), key=f"{key}_x_{st.session_state[key]}")
    y0 = c[1].number_input("start y", -1e3, 1e3, float(st.session_state[key][1]), key=f"{key}_y_{st.session_state[key]}")
    url.put("start", None if (x0, y0) == tuple(surf.start) else f"{x0:g},{y0:g}")
    return lookup.backend(backend), surf, chosen, int(steps), mode, rates, (x0, y0), key


def _race_tab(backend, surf, chosen, steps, mode, rates, start, key):
    t0 = time.perf_counter()
    with st.spinner("Racing ... (in TensorFlow, the first race on a surface compiles its loop: a few seconds)"):
        paths = R.race(backend, surf, chosen, steps, rates, start, mode, state=True)
    seconds = time.perf_counter() - t0
    st.session_state["opt_paths"] = paths
    c = st.columns([3, 2])
    with c[0]:
        fig = F.surface_figure(surf, {n: t.points for n, t in paths.items()}, start)
        event = st.plotly_chart(fig, key="opt_race_fig", on_select="rerun", selection_mode=("points",),
                                config={"displayModeBar": False})
        st.caption(f"{len(chosen)} optimizers × {steps} steps in {backend.name} ({seconds:.2f} s). ▶ Play animates "
                   "every path together; click the plot to start from there.")
        picked = _clicked(event)
        if picked is not None and picked != tuple(st.session_state[key]):
            st.session_state[key] = picked
            st.rerun()
    with c[1]:
        ui.show(F.loss_figure({n: t.loss for n, t in paths.items()}), key="opt_race_loss")
        rows = [{"optimizer": n, "class": t.framework_class, "lr": t.hyper.get("learning_rate"),
                 "final loss": float(t.loss[-1]), "ends at": f"({t.points[-1, 0]:.4g}, {t.points[-1, 1]:.4g})",
                 "note": t.stopped or ""} for n, t in paths.items()]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    notes = R.observations(paths, surf)
    if notes:
        st.markdown("**What to look for**\n" + "\n".join(f"- {n}" for n in notes))
    if any(t.stopped for t in paths.values()):
        st.warning("A path that leaves the finite numbers stops there: try a smaller learning rate for it.")
    return paths


def _clicked(event):
    try:
        points = list(event["selection"]["points"])
    except (KeyError, TypeError):
        return None
    return (round(float(points[0]["x"]), 3), round(float(points[0]["y"]), 3)) if points else None


def _compare_tab(url, surf, chosen, steps, mode, rates, start):
    backends = sorted(ui.registry().backends())
    if len(backends) < 2:
        st.info("Install both backends to compare them.")
        return
    name = url.bind(st.selectbox, "Optimizer", chosen, index=chosen.index("rmsprop") if "rmsprop" in chosen else 0,
                    format_func=OPTIMIZERS.get, key="opt_cmp")
    tol = url.bind(st.number_input, "Tolerance (distance, as a fraction of the view)", 1e-12, 1.0, 1e-6, format="%.1e",
                          key="opt_tol")
    runs = {b: R.race(lookup.backend(b), surf, [name], steps, rates[name], start, mode)[name] for b in backends}
    labelled = {f"{name} ({b})": t.points for b, t in runs.items()}
    c = st.columns([3, 2])
    with c[0]:
        ui.show(F.surface_figure(surf, labelled, start, dashes={f"{name} ({backends[1]})": "dot"}, clickable=False,
                                 height=480), key="opt_cmp_fig")
    a, b = (runs[x].points for x in backends)
    at = S.separation(a, b, tol * surf.scale())
    with c[1]:
        gap = np.linalg.norm(a[:min(len(a), len(b))] - b[:min(len(a), len(b))], axis=1)
        ui.show(F.loss_figure({"distance": np.maximum(gap, 1e-300)}, "distance between the two paths"), key="opt_cmp_gap")
    if at is None:
        st.success(f"{OPTIMIZERS[name]}: the {backends[0]} and {backends[1]} paths stay within {tol:g} of the view for all "
                   f"{steps} steps ({mode} settings).")
    else:
        st.warning(f"{OPTIMIZERS[name]}: the paths separate at **step {at}** (distance {gap[at]:.3g} > {tol:g} × "
                   f"{surf.scale():g}) with {mode} settings.")
    for reason in S.responsible(name, mode, _defaults(tuple(backends))):
        st.markdown(f"- {reason}")
    if mode == "defaults" and at is not None:  # take the settings out of the picture: what is left is the rule
        same = [R.race(lookup.backend(b), surf, [name], steps, rates[name], start, "matched")[name].points
                for b in backends]
        later = S.separation(*same, tol * surf.scale())
        st.markdown("With the same settings given to both (matched), they "
                    + (f"separate at step **{later}** instead: " if later is not None else
                       f"stay together for all {steps} steps: ")
                    + ("the rest is the update rule itself." if later is not None else "the defaults were the whole "
                       "difference."))
    st.markdown("**Each framework's defaults**, read off its optimizer objects now (differences in bold):")
    table = pd.DataFrame(S.defaults_table(_defaults(tuple(backends))))
    st.dataframe(table.style.apply(lambda r: ["font-weight: bold; background-color: #fde2d8" if r["differs"] else ""
                                              for _ in r], axis=1), hide_index=True, height=360)


def _state_tab(url, paths, backend):
    c = st.columns(2)
    names = list(paths)
    name = url.bind(c[0].selectbox, "Optimizer", names, index=names.index("adam") if "adam" in names else 0,
                          format_func=OPTIMIZERS.get, key="opt_state_name")
    t = paths[name]
    if len(t.points) < 2:
        st.info("This path has no step to show.")
        return
    k = url.bind(c[1].slider, "Step", 1, len(t.points) - 1, min(10, len(t.points) - 1), key="opt_state_step")
    before = t.states[k - 1]
    read = "optimizer.variables" if backend.name == "tensorflow" else "optimizer.state[p]"
    st.markdown(f"**{t.framework_class}** before step {k}, read off the framework (`{read}`), and the gradient at "
                f"x = {rules.v(t.points[k - 1])}: g = {rules.v(t.grads[k - 1])}")
    st.dataframe(pd.DataFrame([{"state": s, "value": rules.v(val) if val is not None else "(not created yet)"}
                               for s, val in before.items()]), hide_index=True)
    flavour = FLAVOUR.get(backend.name)
    if flavour is None:
        st.info(f"No written-out rule for the {backend.name} backend.")
        return
    x, _, lines = rules.step(flavour, name, t.points[k - 1], t.grads[k - 1], before, t.hyper)
    st.markdown(f"**Step {k}, the update rule with these numbers** (hyper-parameters as the object holds them: "
                + ", ".join(f"{h} = {v:g}" if isinstance(v, float) else f"{h} = {v}" for h, v in t.hyper.items()) + ")")
    st.code("\n".join(lines), language=None, wrap_lines=True)
    err = float(np.abs(x - t.points[k]).max())
    (st.success if err <= 1e-9 * max(1.0, float(np.abs(t.points[k]).max())) else st.error)(
        f"The framework's x after step {k}: {rules.v(t.points[k])} (the rule above gives it to {err:.1e}).")


def _sweep_tab(surf, chosen, steps, mode, start):
    st.markdown("For each optimizer, the final loss after the steps above at nine learning rates from 1e-4 to 1, in "
                "both backends; then a fair race, each optimizer at its best rate from the same search budget.")
    if not st.button("Run the sweep", key="opt_sweep_go"):
        if "opt_sweep" not in st.session_state:
            return
    else:
        with st.spinner("Sweeping ..."):
            st.session_state["opt_sweep"] = {b: R.sweep(lookup.backend(b), surf, chosen, steps, R.LR_GRID, start, mode)
                                             for b in sorted(ui.registry().backends())}
    results = st.session_state["opt_sweep"]
    ui.show(F.sweep_figure(R.LR_GRID, results), key="opt_sweep_fig")
    backend_name = st.session_state.get("opt_backend", next(iter(results)))
    best = R.best_rates(results.get(backend_name, next(iter(results.values()))), R.LR_GRID)
    fair = R.race(lookup.backend(backend_name), surf, list(best), steps, best, start, mode)
    st.markdown(f"**Fair race in {backend_name}**: " + ", ".join(f"{n} at {r:g}" for n, r in best.items()))
    c = st.columns([3, 2])
    with c[0]:
        ui.show(F.surface_figure(surf, {n: t.points for n, t in fair.items()}, start, clickable=False, height=480),
                key="opt_fair_fig")
    with c[1]:
        ui.show(F.loss_figure({n: t.loss for n, t in fair.items()}, "fair race: loss per step"), key="opt_fair_loss")


def _cnn_tab(url, backend, chosen, mode):
    st.markdown("The same optimizers training a real CNN on 5,000 real MNIST digits: built fresh with the same seed "
                "for each (the same initial weights), fed the same mini-batches in the same order.")
    archs = [a for a in ("mnist-cnn", "cnn1", "cnn2") if a in ui.registry().architectures()]
    c = st.columns(4)
    arch = url.bind(c[0].selectbox, "Architecture", archs, key="opt_cnn_arch")
    steps = url.bind(c[1].number_input, "Steps", 1, 2000, 60, key="opt_cnn_steps")
    batch = url.bind(c[2].number_input, "Batch size", 1, 512, 64, key="opt_cnn_batch")
    images = url.bind(c[3].number_input, "Training images", 100, 5000, 2000, step=100, key="opt_cnn_images")
    cols = st.columns(5)
    rates = {n: url.bind(cols[i % 5].number_input, f"{n} lr", 1e-6, 10.0, S.CNN_RATES[n], format="%.6g", key=f"opt_cnn_lr_{n}")
             for i, n in enumerate(chosen)}
    live = st.session_state.get(CNN_LIVE)
    if st.button("Race on the CNN", type="primary", key="opt_cnn_go", disabled=live is not None and live.running):
        # a job of the server's queue (a worker process, or a Ray cluster): the worker reads the digits
        live = QueuedRace(backend.name, "mnist-5k", arch, int(images), chosen, int(steps), rates, int(batch), 0, mode,
                          owner=ui.session_id())
        st.session_state[CNN_LIVE] = live.start()
    if live is None:
        return
    st.button("Stop", key="opt_cnn_stop", on_click=live.stop, disabled=not live.running or live.stop_event.is_set())
    bar, chart = st.progress(0.0), st.empty()
    total, drawn, frame, t0 = len(live.names) * live.steps, -1, 0, time.perf_counter()
    while True:
        running = live.running  # read first: a run that ends now is drawn once more, complete
        losses = live.losses
        done = sum(map(len, losses.values()))
        bar.progress(min(done / total, 1.0), text=ui.queue_status(live, time.perf_counter() - t0)
                     or f"{done} / {total} steps" + (" ..." if running else ""))
        if done != drawn or not running:
            drawn, frame = done, frame + 1
            chart.plotly_chart(F.loss_figure({n: v for n, v in losses.items() if v},
                                             f"{arch}: training loss per step"), key=f"opt_cnn_fig_{frame}")
        if not running:
            break
        time.sleep(0.5)
    if live.error is not None:
        if live.stopped_before_start:
            st.info("Stopped before it started.")
            return
        raise live.error
    if live.stop_event.is_set():
        st.info("Stopped: the losses so far are kept.")


def render():
    st.title("Optimizers")
    st.caption('The ten optimizers of the lecture "CNNs part II" (SGD, momentum, Nesterov, Adagrad, Adadelta, RMSprop, '
               "Adam, AdaMax, Nadam, AMSGrad), each run by keras.optimizers or torch.optim itself, the way Alec "
               "Radford's animation races them.")
    url = UrlState("optimizers", FIELDS, PRESETS)
    backend, surf, chosen, steps, mode, rates, start, key = _controls(url)
    tabs = st.tabs(["Race", "Keras vs PyTorch", "State and update rule", "Learning-rate sweep", "On a CNN"])
    paths = None
    with tabs[0], ui.guard("race the optimizers"):
        paths = _race_tab(backend, surf, chosen, steps, mode, rates, start, key)
        url.reports()
        ui.exercises("optimizers", surface=surf, paths=paths)
    with tabs[1], ui.guard("compare the frameworks"):
        _compare_tab(url, surf, chosen, steps, mode, rates, start)
    with tabs[2], ui.guard("show the optimizer's state"):
        if paths is None:
            st.info("The race did not run; see its tab.")
        else:
            _state_tab(url, paths, backend)
    with tabs[3], ui.guard("sweep the learning rates"):
        _sweep_tab(surf, chosen, steps, mode, start)
    with tabs[4], ui.guard("race on the CNN"):
        _cnn_tab(url, backend, chosen, mode)

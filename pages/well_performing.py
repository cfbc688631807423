"""The "well-performing CNN" lesson of "CNNs part II", one tab per experiment: input
standardisation, dropout, batch normalisation and dead ReLUs, initialisation, cnn1 vs cnn2.
Every number comes from the chosen backend's real layers and training; long runs are jobs of the
server's queue (workbench.regularise.job; one at a time per student) with progress and Stop."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from workbench_pages.training import curves
from workbench import lookup, ui
from workbench.backend import TrainConfig
from workbench.regularise import batchnorm as BN
from workbench.regularise import dropout as DR
from workbench.regularise import init as I
from workbench.regularise import setups, verdict
from workbench.regularise import standardisation as ST
from workbench.regularise.job import QueuedExperiment, definition
from workbench.training import OPTIMIZERS, check_config
from workbench.urlstate import Preset, UrlState

JOBS, LIVE = "wp_jobs", "wp_live"  # finished or running QueuedExperiment per tab; the tab whose run is live
LECTURE = "the lecture slides \"CNNs part II\" (Deep Learning, week 5)"
THE_LECTURE = "T" + LECTURE[1:]  # at the start of a sentence


@st.cache_resource(show_spinner="Loading the digits ...", max_entries=8)
def _splits(dataset: str, arch: str, limit: int | None):
    return setups.splits(dataset, arch, limit)


def _backend(url: UrlState, key: str):
    names = list(ui.registry().backends())
    return lookup.backend(url.bind(st.selectbox, "Backend", names, key=key))


def _settings(url: UrlState, tab: str, epochs: int, lr: float = 1e-3, limit: int = 4000, optimizer: str = "adam"):
    """Training settings for a tab: (config, limit)."""
    c = st.columns(4)
    epochs = url.bind(c[0].number_input, "Epochs", 1, 100, epochs, key=f"wp_{tab}_epochs")
    opt = url.bind(c[1].selectbox, "Optimizer", list(OPTIMIZERS), list(OPTIMIZERS).index(optimizer), key=f"wp_{tab}_opt",
                         format_func=OPTIMIZERS.get)
    lr = url.bind(c[2].number_input, "Learning rate", 1e-6, 10.0, lr, format="%g", key=f"wp_{tab}_lr")
    limit = url.bind(c[3].number_input, "Training images", 50, 4000, limit, step=50, key=f"wp_{tab}_limit",
                              help="mnist-5k's training split has 4,000 images, as in the lecture")
    return check_config(TrainConfig(), epochs=int(epochs), optimizer=opt, learning_rate=float(lr)), int(limit)


# -- background runs ------------------------------------------------------------------------
def _start_button(tab: str, label: str, calls: list[tuple[str, dict]], backend, config) -> None:
    """Train submits the experiment (its setups by name, workbench.regularise.setups) to the job queue."""
    busy = st.session_state.get(LIVE) is not None  # until _follow has seen the live run end
    if st.button(label, type="primary", key=f"wp_{tab}_go", disabled=busy,
                 help="another run is going on" if busy else "runs in the background; one run at a time"):
        with ui.guard("start the runs"):
            job = QueuedExperiment(definition(backend.name, config, *calls), owner=ui.session_id(), label=label)
            st.session_state.setdefault(JOBS, {})[tab] = job
            st.session_state[LIVE] = tab
            job.start()


def _job(tab: str) -> QueuedExperiment | None:
    return st.session_state.get(JOBS, {}).get(tab)


def _follow(slots: dict) -> None:
    """Draw the live run into its tab's slot until it ends (a click reruns the page and comes back
    here), then rerun: the tab draws the results and every Train button is enabled again.
    A tab's figure(job, live) draws the results so far; live counts the redraws (0: the run has ended)."""
    tab = st.session_state.get(LIVE)
    job = _job(tab) if tab else None
    if job is None or tab not in slots:  # nothing live, or its tab could not be drawn
        st.session_state.pop(LIVE, None)
        return
    draw = slots[tab]
    with draw["progress"]:
        st.button("Stop", key=f"wp_{tab}_stop", on_click=job.stop, disabled=job.stop_event.is_set(),
                  help="ends the run after the current batch; the runs so far are kept")
        bar = st.progress(0.0, text="starting ...")
    t0, shown = time.perf_counter(), -1
    while job.running:
        done = sum(len(r.history) for r in job.results.values())
        if done != shown:
            shown = done
            with draw["live"].container():
                draw["figure"](job, live=done + 1)
        seconds = time.perf_counter() - t0
        bar.progress(job.fraction(), text=ui.queue_status(job, seconds) or
                     f"{'stopping ... ' if job.stop_event.is_set() else ''}"
                     f"{shown} of {job.epochs * job.planned or '?'} epochs ({seconds:.0f} s)")
        time.sleep(0.3)
    st.session_state.pop(LIVE, None)
    st.rerun()


def _live_area(slots: dict, tab: str, figure) -> None:
    """Where a tab's run is drawn: live by _follow while it runs, by the tab once it has ended."""
    slots[tab] = {"progress": st.container(), "live": st.empty(), "figure": figure}
    job = _job(tab)
    if job is not None and st.session_state.get(LIVE) != tab:
        with slots[tab]["live"].container():
            figure(job, live=0)


def _histories(job: QueuedExperiment) -> list[SimpleNamespace]:
    """The runs as pages.training.curves draws them: a label and a history each."""
    return [SimpleNamespace(label=label, history=list(r.history)) for label, r in job.results.items()]


def _error(job) -> None:
    if job is None or job.error is None:
        return
    if job.stopped_before_start:
        st.info(f"The run {ui.friendly(job.error)}.")
    else:
        st.error(f"The run failed: {ui.friendly(job.error)}")


# -- 1. standardisation ---------------------------------------------------------------------
def _standardisation(slots, url: UrlState):
    st.markdown(f"In {LECTURE}, cnn1 (one block of 32 filters, ~251k weights) on a 4,000-image MNIST subset "
                "\"could only be trained properly after standardizing the input data\" per pixel: "
                "`X_train = (X_train - X_mean) / (X_std + 0.0001)`, with the mean and std of the **training** "
                "images at every pixel. Here the same network is fed five ways, statistics from mnist-5k's "
                "training split only.")
    arch, data = _splits("mnist-5k", "cnn1", None)
    x_train = data["train"][0]
    s = ST.fit("per_pixel", x_train)
    c = st.columns([1, 1, 3])
    c[0].image(_scaled(s.mean[..., 0]), caption="mean image (training split)", width="stretch")
    c[1].image(_scaled(s.std[..., 0]), caption="std image: 0 at the border, where every digit is black", width="stretch")
    c[2].dataframe(pd.DataFrame([{"feed": ST.MODES[m], **ST.summary(m, x_train)} for m in ST.MODES]).round(3),
                   hide_index=True)
    st.caption("For grey digits (one channel) global and per-channel standardisation are the same numbers.")
    st.info("Measured on this workbench (Adam, learning rate 0.001, batch 32, 5 epochs, seed 0; "
            "`workbench regularise standardisation --arch cnn1 --dataset mnist-5k --epochs 5 --backend B`): best "
            "validation accuracy raw 92.2% / 89.4%, [0, 1] 95.6% / 95.8%, per pixel 95.4% / 96.2% (TensorFlow / "
            "PyTorch). The lecture's claim is **refuted for [0, 1] rescaling**: cnn1 trains properly without "
            "standardising; only the raw 0-255 pixels train worse. With plain SGD (learning rate 0.01, PyTorch) raw pixels "
            "diverge in the first epoch (9.4%), [0, 1] reaches 90.2% and per pixel 92.2%. Press Train to check it on your own settings; "
            "the verdict below follows your run.", icon=":material/science:")
    backend = _backend(url, "wp_std_backend")
    config, limit = _settings(url, "std", epochs=5)
    modes = url.bind(st.multiselect, "Feeds", list(ST.MODES), list(ST.MODES), key="wp_std_modes", format_func=ST.MODES.get)
    _start_button("std", "Train cnn1 with each feed", [("standardisation", dict(dataset="mnist-5k", arch="cnn1", modes=list(modes), limit=limit))],
                  backend, config)
    _live_area(slots, "std", _standardisation_figure)


def _standardisation_figure(job, live: int):
    ui.show(curves(_histories(job), "cnn1 on mnist-5k, one run per feed"), key=f"wp_std_curves_{live}")
    if live:
        return
    _error(job)
    results = {label: r.as_dict() for label, r in job.results.items()}
    st.dataframe(pd.DataFrame([{"feed": ST.MODES[m], "best val accuracy": r["best_val_accuracy"],
                                "epochs": len(r["history"]), "note": r.get("stopped", "")} for m, r in results.items()]),
                 hide_index=True)
    outcome, sentence = verdict.standardisation(results)
    {"reproduced": st.success, "refuted": st.warning}.get(outcome, st.info)(sentence)


def _scaled(image: np.ndarray) -> np.ndarray:
    lo, hi = float(image.min()), float(image.max())
    return np.kron((image - lo) / (hi - lo + 1e-12), np.ones((6, 6)))


# -- 2. dropout -----------------------------------------------------------------------------
def _dropout(slots, url: UrlState):
    st.markdown(f"The question of {LECTURE}: a neuron a = w0 x + w1 y, dropout probability p = 0.5 in training, "
                "none at test time. What is E[a]? The lecture enumerates the four masks and finds "
                "1/2 (w0 x + w1 y), so it scales the weights by 1 - p at test time. Keras and PyTorch do "
                "**inverted** dropout instead: in training the kept units are multiplied by 1 / (1 - p).")
    c = st.columns(6)
    w0 = url.bind(c[0].number_input, "w0", value=0.3, key="wp_do_w0")
    w1 = url.bind(c[1].number_input, "w1", value=-0.7, key="wp_do_w1")
    x = url.bind(c[2].number_input, "x", value=2.0, key="wp_do_x")
    y = url.bind(c[3].number_input, "y", value=1.0, key="wp_do_y")
    p = url.bind(c[4].number_input, "p", 0.0, 0.95, 0.5, 0.05, key="wp_do_p")
    n = url.bind(c[5].number_input, "passes", 100, 100000, 10000, 1000, key="wp_do_n")
    backend = _backend(url, "wp_do_backend")
    with ui.guard("compute the expectation"):
        value, rows = DR.enumerated(w0, w1, x, y, p)
        st.dataframe(pd.DataFrame([{"x kept": bool(r["keep_x"]), "y kept": bool(r["keep_y"]),
                                    "probability": r["probability"], "a (no rescaling)": r["a"]} for r in rows]),
                     hide_index=True)
        out = _expectation(backend.name, w0, w1, x, y, p, int(n))
        mc = out["monte_carlo"]
        m = st.columns(4)
        m[0].metric("E[a], four masks", f"{value:.4g}", help="the lecture's sum, kept units not rescaled")
        m[1].metric(f"Monte Carlo, {int(n):,} passes, ± {mc['se']:.2g}", f"{mc['mean']:.4g}",
                    help=f"{backend.name}'s own Dropout layer in training mode (± one standard error)")
        m[2].metric("inference output", f"{out['inference']:.4g}", help="the framework's layer at test time")
        m[3].metric("lecture's test-time output", f"{out['lecture_test_scaling']:.4g}", help="(1 - p)(w0 x + w1 y)")
        sc = _scaling(backend.name, p)
        st.markdown(f"{backend.name}'s Dropout dropped {sc['dropped_fraction']:.1%} of the inputs and multiplied every "
                    f"kept one by **{sc['kept_scale']:.4g}** = 1 / (1 - p) = {sc['inverted_scale']:.4g}: its training-mode "
                    f"mean estimates w0 x + w1 y = {w0 * x + w1 * y:.4g}, the inference output, so nothing is scaled at "
                    f"test time. The lecture's (1 - p) scaling of the weights gives {out['lecture_test_scaling']:.4g}, "
                    "which equals its un-rescaled training expectation: both conventions match training and test "
                    "in expectation, they only put the factor on different sides.")
    st.subheader("Train vs test: one image, many training-mode passes")
    _dropout_passes(url, backend)
    st.subheader("Overfitting with and without dropout")
    st.caption("cnn1 on a small training set, per-pixel standardised; the dropout run has Dropout before each Dense layer.")
    config, limit = _settings(url, "do", epochs=15, limit=300)
    rate = url.bind(st.slider, "Dropout rate", 0.1, 0.8, 0.5, 0.05, key="wp_do_rate")
    _start_button("do", "Train without and with dropout", [("overfitting", dict(dataset="mnist-5k", arch="cnn1", rate=float(rate), limit=limit))],
                  backend, config)
    _live_area(slots, "do", _overfitting_figure)


@st.cache_data(show_spinner="Passing the inputs through the framework's Dropout ...", max_entries=64)
def _expectation(backend_name: str, w0, w1, x, y, p, n) -> dict:
    return DR.expectation(lookup.backend(backend_name), w0, w1, x, y, p, n)


@st.cache_data(show_spinner=False, max_entries=64)
def _scaling(backend_name: str, p) -> dict:
    return DR.scaling(lookup.backend(backend_name), p)


def _dropout_passes(url, backend):
    with ui.guard("run the passes"):
        arch, data = _splits("mnist-5k", "cnn1", 300)
        net = setups.with_dropout(arch, 0.5)
        image = data["val"][0][int(url.bind(st.number_input, "Validation image", 0, 499, 0, key="wp_do_image"))]
        model = I.build(backend, net, "default")
        last = net.layers[-1].name
        train, test = DR.passes(backend, model, image, last, n=200)
        fig = go.Figure([go.Box(y=train[:, k], name=str(k), marker_color="#9bbbd9", showlegend=False) for k in range(10)])
        fig.add_trace(go.Scatter(x=[str(k) for k in range(10)], y=test, mode="markers", name="inference pass",
                                 marker=dict(color="#e4572e", size=11, symbol="diamond")))
        fig.add_trace(go.Scatter(x=[str(k) for k in range(10)], y=train.mean(0), mode="markers",
                                 name="mean of 200 training passes", marker=dict(color="#1f77b4", size=9)))
        fig.update_layout(title="class probabilities of an untrained cnn1 with Dropout(0.5): 200 training-mode "
                                "passes (boxes) vs the one inference pass", xaxis_title="class", height=360,
                          margin=dict(l=10, r=10, t=50, b=10))
        ui.show(fig, key="wp_do_passes")
        st.caption(f"Every training-mode pass draws its own masks: a different sub-network, a different output. "
                   f"Inference uses the whole network once: its output ({test.max():.3f} for the top class) "
                   f"is close to, but not exactly, the mean of the passes ({train.mean(0)[test.argmax()]:.3f}), "
                   "because the softmax is not linear: the ensemble average is approximated.")


def _overfitting_figure(job, live: int):
    ui.show(curves(_histories(job), "train (solid) vs validation (dashed)"), key=f"wp_do_curves_{live}")
    if live:
        return
    _error(job)
    rows = []
    for label, r in job.results.items():
        h = [e for e in r.history if e.get("val_accuracy") is not None]
        if h:
            rows.append({"run": label, "final train accuracy": h[-1]["accuracy"], "final val accuracy": h[-1]["val_accuracy"],
                         "train - val gap": h[-1]["accuracy"] - h[-1]["val_accuracy"],
                         "best val accuracy": max(e["val_accuracy"] for e in h)})
    st.dataframe(pd.DataFrame(rows).round(3), hide_index=True)


# -- 3. batch normalisation and dead ReLUs --------------------------------------------------
def _batchnorm(slots, url: UrlState):
    st.markdown(f"{THE_LECTURE}: if for **all** data the input to a ReLU is negative, no gradient passes it: a dead ReLU, "
                "and the layers before it stop learning. Batch normalisation standardises a layer's input with the "
                "batch's mean and std (step 1), then scales by α and shifts by β (step 2).")
    backends = ui.registry().backends()
    st.subheader("BN's two steps by hand, next to the frameworks' layer")
    x = np.random.default_rng(0).normal(3.0, 2.0, (16, 4, 4, 3)).astype(np.float32)
    with ui.guard("compare batch normalisation"):
        rows, conv, out = _bn_tables(tuple(backends), x)
        st.caption(f"A batch of 16 images 4x4x3 (mean 3, std 2); per channel α = {np.round(out['gamma'], 3).tolist()}, "
                   f"β = {np.round(out['beta'], 3).tolist()}, set in the layer together with its moving statistics.")
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        st.markdown("The frameworks divide by √(var + ε) (the batch's biased variance); the slide writes stdev + ε, "
                    "which differs where the std is small. At inference the layer uses its moving averages.")
        st.dataframe(pd.DataFrame(conv).round(6), hide_index=True)
        st.markdown("The same moving average is written two ways: Keras updates `moving = momentum · moving + (1 − momentum) · "
                    "batch` with momentum 0.99; PyTorch updates `running = (1 − momentum) · running + momentum · batch` "
                    "with momentum 0.1 by default. The workbench builds PyTorch's layer with momentum 1 − 0.99 = 0.01 and "
                    "Keras' ε, so both backends compute the same network.")
    st.subheader("Dead ReLUs with and without batch normalisation")
    backend = _backend(url, "wp_bn_backend")
    c = st.columns(2)
    arch = url.bind(c[0].selectbox, "Architecture", ["cnn1", "mnist-cnn", "cnn2"], key="wp_bn_arch")
    init = url.bind(c[1].selectbox, "Initial weights", list(I.INITS), list(I.INITS).index("default"), key="wp_bn_init",
                          format_func=lambda k: f"{k}: {I.INITS[k]}")
    st.caption("The preset is a large learning rate (Adam, 0.05): one epoch kills the ReLUs of the network without BN. "
               "The same network with a BatchNormalization before every ReLU keeps most of them alive (a learned shift β "
               "can still switch a filter off). Dead units are counted "
               f"on {setups.PROBE_IMAGES} fixed training images in training mode (what a training step sees).")
    config, limit = _settings(url, "bn", epochs=3, lr=0.05, limit=1000)
    _start_button("bn", "Train without and with BN",
                  [("dead_relu", dict(dataset="mnist-5k", arch=arch, batchnorm=bn, init=init, limit=limit)) for bn in (False, True)],
                  backend, config)
    _live_area(slots, "bn", _dead_figure)


@st.cache_data(show_spinner="Running BatchNormalization in each backend ...", max_entries=2)
def _bn_tables(names: tuple[str, ...], x: np.ndarray):
    rows, conv = [], []
    for name in names:
        backend = lookup.backend(name)
        out = BN.compare(backend, x)
        for mode in ("training", "inference"):
            rows.append({"backend": name, "mode": mode, "statistics": "this batch's" if mode == "training" else "moving averages",
                         "max |framework - hand|": out[mode]["max_abs_difference"],
                         "max |framework - slide's stdev + eps|": out[mode]["slide_max_abs_difference"]})
        conv.append({"backend": name, **BN.conventions(backend)})
    return rows, conv, {k: v for k, v in out.items() if k not in ("training", "inference")}


def _dead_figure(job, live: int):
    results = list(job.results.items())
    fig = go.Figure()
    for label, r in results:
        for layer in (r.probes[0]["layers"] if r.probes else {}):
            fig.add_trace(go.Scatter(x=[p["epoch"] for p in r.probes], y=[p["layers"][layer]["dead_fraction"] for p in r.probes],
                                     mode="lines+markers", name=f"{label}: {layer}",
                                     line=dict(dash="solid" if label.startswith("BN") else "dash")))
    fig.update_layout(title="fraction of dead ReLU units per layer (epoch 0: before training)", xaxis_title="epoch",
                      yaxis=dict(title="dead fraction", range=[-0.02, 1.02]), xaxis=dict(dtick=1), height=340,
                      margin=dict(l=10, r=10, t=50, b=10))
    ui.show(fig, key=f"wp_bn_dead_{live}")
    if live:
        return
    _error(job)
    ui.show(curves(_histories(job), "learning curves"), key="wp_bn_curves")
    last = max((len(r.probes) - 1 for _, r in results), default=0)
    if last < 0:
        return
    epoch = st.slider("Histograms at epoch", 0, max(last, 1), last, key="wp_bn_epoch", disabled=last < 1)
    for label, r in results:
        probe = r.probes[min(epoch, len(r.probes) - 1)]
        layers = probe["layers"]
        fig = make_subplots(rows=1, cols=len(layers), subplot_titles=[
            f"{k} ({v['dead_fraction']:.0%} dead)" for k, v in layers.items()])
        for i, (k, v) in enumerate(layers.items(), 1):
            edges = np.asarray(v["histogram"]["edges"])
            fig.add_trace(go.Bar(x=((edges[:-1] + edges[1:]) / 2).tolist(), y=v["histogram"]["counts"],
                                 marker_color="#1f77b4", showlegend=False), row=1, col=i)
            fig.add_vline(x=0, line_dash="dot", line_color="#e4572e", row=1, col=i)
        fig.update_layout(title=f"{label}: the ReLUs' input at epoch {probe['epoch']} (left of 0: no gradient)",
                          height=280, margin=dict(l=10, r=10, t=60, b=10), bargap=0)
        ui.show(fig, key=f"wp_bn_hist_{label}")


# -- 4. initialisation ----------------------------------------------------------------------
def _initialisation(slots, url: UrlState):
    st.markdown(f"{THE_LECTURE}: \"small, random numbers are preferred\". The same cnn1, the same seeded draw, only the "
                "scale differs: x0.1 of Glorot's, Glorot's (Keras' default), He's (for ReLU) and x10.")
    backend = _backend(url, "wp_in_backend")
    with ui.guard("measure the initial scales"):
        table = pd.DataFrame(_step0(backend.name))
        fig = make_subplots(rows=1, cols=2, subplot_titles=("activation std per layer", "gradient RMS per layer"))
        for name, color in zip(I.INITS, ("#1f77b4", "#2ca02c", "#9467bd", "#e4572e")):
            part = table[table["init"] == name]
            for col, key in ((1, "activation_std"), (2, "gradient_rms")):
                fig.add_trace(go.Scatter(x=part["layer"], y=part[key], mode="lines+markers", name=name, legendgroup=name,
                                         line=dict(color=color), showlegend=col == 1), row=1, col=col)
        fig.update_yaxes(type="log")
        fig.update_layout(height=360, margin=dict(l=10, r=10, t=50, b=10), title="at step 0, 64 training images")
        ui.show(fig, key="wp_in_step0")
        st.caption("Gradient: of each image's true-class score with respect to the layer's output, as backpropagation "
                   "hands it back. The last layer is the output itself.")
    config, limit = _settings(url, "in", epochs=5, limit=1000)
    _start_button("in", "Train from each initialisation", [("initialisation", dict(dataset="mnist-5k", arch="cnn1", inits=list(I.INITS), limit=limit))],
                  backend, config)
    _live_area(slots, "in", _curves_only("in", "cnn1 from each initialisation"))


@st.cache_data(show_spinner="Measuring each initialisation at step 0 ...", max_entries=4)
def _step0(backend_name: str) -> list[dict]:
    """Per initialisation and layer of cnn1: activation std and gradient RMS on 64 training images."""
    backend = lookup.backend(backend_name)
    arch, data = _splits("mnist-5k", "cnn1", None)
    fed = ST.apply("per_pixel", data)[0]
    x, y = fed["train"][0][:64], fed["train"][1][:64]
    return [{"init": name, **r} for name in I.INITS for r in I.step0(backend, I.build(backend, arch, name), arch, x, y)]


def _curves_only(tab: str, title: str):
    def figure(job, live: int):
        ui.show(curves(_histories(job), title), key=f"wp_{tab}_curves_{live}")
        if not live:
            _error(job)
            notes = {label: r.stopped for label, r in job.results.items() if r.stopped}
            for label, note in notes.items():
                st.info(f"{label}: {note}")
    return figure


# -- 5. cnn1 vs cnn2 ------------------------------------------------------------------------
def _cnn(slots, url: UrlState):
    st.markdown(f"{THE_LECTURE}: cnn2 \"has less parameters (~36k) than cnn1 (~251k weights) since the parameter-consuming "
                "fc layer in the end is smaller\", yet builds more complex hierarchical features.")
    with ui.guard("count the parameters"):
        st.dataframe(pd.DataFrame(_counts()), hide_index=True)
        st.caption("The calculator's count (Keras' convention: BatchNormalization's moving statistics are counted, "
                   "not trainable) and the parameters read off each backend's real model.")
    backend = _backend(url, "wp_cnn_backend")
    config, limit = _settings(url, "cnn", epochs=5)
    _start_button("cnn", "Train cnn1 and cnn2", [("cnn1_vs_cnn2", dict(dataset="mnist-5k", limit=limit))], backend, config)
    _live_area(slots, "cnn", _curves_only("cnn", "cnn1 vs cnn2 on mnist-5k, per-pixel standardised"))


@st.cache_data(show_spinner="Building cnn1 and cnn2 in each backend ...")
def _counts() -> list[dict]:
    return setups.parameter_counts(dict(ui.registry().backends()))


TABS = (("Standardisation", _standardisation), ("Dropout", _dropout), ("Batch norm & dead ReLUs", _batchnorm),
        ("Initialisation", _initialisation), ("cnn1 vs cnn2", _cnn))
# URL name -> widget key (workbench.urlstate): each tab's settings, prefixed by the tab
FIELDS = {"tab": "wp_tab", "std_modes": "wp_std_modes", "do_rate": "wp_do_rate", "do_image": "wp_do_image",
          "bn_arch": "wp_bn_arch", "bn_init": "wp_bn_init",
          **{f"do_{v}": f"wp_do_{v}" for v in ("w0", "w1", "x", "y", "p", "n")},
          **{f"{t}_{s}": f"wp_{t}_{s}" for t in ("std", "do", "bn", "in", "cnn")
             for s in ("backend", "epochs", "opt", "lr", "limit")}}
PRESETS = (
    Preset("cnn1-standardisation", "cnn1 raw vs standardised", {"tab": "Standardisation", "std_modes": "raw,per_pixel"},
           "cnns-part-2", "cnn1 (~251k weights) on 4,000 MNIST images: \u201cOnly after standardizing the input data "
           "the CNN could be trained properly!\u201d"),
    Preset("dropout-expectation", "Dropout's expectation", {"tab": "Dropout"}, "cnns-part-2",
           "with p = 0.5 the four masks give E[a] = ½ (w0 x + w1 y), so at test time the weights are scaled by 1 − p."),
    Preset("cnn1-vs-cnn2", "cnn1 vs cnn2", {"tab": "cnn1 vs cnn2"}, "cnns-part-2",
           "cnn2 \u201chas less parameters (~36k) than cnn1 (~251k weights)\u201d."),
)


def render():
    st.title("A well-performing CNN")
    st.caption(f"The experiments of {LECTURE}: standardise the input, dropout, batch normalisation against dead "
               "ReLUs, the initial weights, and a deeper network with fewer weights, with Keras' and PyTorch's "
               "own layers.")
    url = UrlState("well_performing", FIELDS, PRESETS)
    slots: dict = {}
    for tab, (title, part) in zip(url.bind(st.tabs, [t for t, _ in TABS], key="wp_tab"), TABS):
        with tab:
            with ui.guard(f"show {title.lower()}"):
                part(slots, url)
                if title == st.session_state.get("wp_tab"):  # the open tab: the preset's document beside it
                    url.reports()
    with ui.guard("train"):
        _follow(slots)

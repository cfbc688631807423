"""Transfer-learning lesson: the strategy table of "CNNs part II" as the guide; scratch vs frozen vs
fine-tuned vs fine-tuned with augmentation vs features + LogisticRegression on one split and budget,
over seeds and data fractions; the course documents' results beside; the traps as toggles."""

from __future__ import annotations

import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from workbench_pages import take_home
from workbench_pages.training import confusion_figure, curves
from workbench import lookup, ui
from workbench.jobs import limits
from workbench.transfer import documents as DOC
from workbench.registry import get_registry
from workbench.transfer.bases import default_base, default_finetune_from
from workbench.transfer.experiment import VARIANTS, ExperimentSpec
from workbench.transfer.job import QueuedExperiment
from workbench.transfer.traps import batch_norm_statistics, gap
from workbench.urlstate import Preset, UrlState

LIVE, DONE = "transfer_live", "transfer_results"
DATASETS = ("faces-lfw", "digits-8x8", "shapes", "mnist-5k", "cats-vs-dogs", "caltech101-5", "cifar10")
FIELDS = {"dataset": "xf_dataset", "folder": "xf_folder", "base": "xf_base", "backend": "xf_backend",
          "scratch": "xf_scratch", "variants": "xf_variants", "epochs": "xf_epochs", "seeds": "xf_seeds",
          "fractions": "xf_fractions", "limit": "xf_limit", "from": "xf_from", "bn_trap": "xf_bn", "wrong_scale": "xf_scale"}
PRESETS = (
    Preset("vgg16-frozen", "VGG16 frozen", {"base": "vgg16", "variants": "frozen"}, "cnn-slides",
           "conv_base.trainable = False leaves 4 trainable weight tensors of 30 (the new head's kernels and biases)."),
    Preset("vgg16-finetune", "VGG16 fine-tuned from block5_conv1",
           {"base": "vgg16", "variants": "frozen,finetune", "from": "block5_conv1"}, "cnn-slides",
           "train the new head on the frozen base first, then unfreeze from block5_conv1 and fine-tune with a small "
           "learning rate (the master's project: SGD, learning rate 0.001, momentum 0.9)."),
    Preset("cs577", "The CS 577 comparison",
           {"dataset": "cats-vs-dogs", "variants": "scratch,frozen,finetune,finetune-aug", "scratch": "naive-cnn-cats-dogs"},
           "cs577-report", "; ".join(f"{what} {acc:.1%}" for _, what, acc in DOC.CS577) + " (accuracy)."),
)


def _bases() -> list[str]:
    """The registry's model for fine-tuning first, the lecture's VGG16 spec, then the other pretrained models."""
    natives = sorted(n for n, a in get_registry().architectures().items() if not a.is_spec and n != default_base())
    return [default_base(), "vgg16", *natives]


def _strategy():
    st.subheader("1. Which strategy? (the lecture slides “CNNs part II”)")
    st.caption("Rows: how much labelled data you have; columns: how close your task is to ImageNet's. "
               "Each cell sets the variants and the data fraction it recommends.")
    head = st.columns([1, 2, 2])
    head[1].markdown("**similar task**")
    head[2].markdown("**different task**")
    for size in ("little", "lots"):
        row = st.columns([1, 2, 2])
        row[0].markdown(f"**{size} data**")
        for col, kind in zip(row[1:], ("similar", "different")):
            advice, variants, fraction = DOC.STRATEGY[(size, kind)]
            col.write(advice)
            if col.button(f"Set up: {', '.join(variants)} at {fraction:.0%}", key=f"xf_cell_{size}_{kind}"):
                st.session_state["xf_variants"] = list(variants)
                st.session_state["xf_fractions"] = [fraction]


def _controls(url: UrlState) -> ExperimentSpec:
    st.subheader("2. The experiment")
    c = st.columns(4)
    dataset = url.bind(c[0].selectbox, "Dataset", DATASETS, key="xf_dataset", help="the first four are offline")
    folder = url.bind(c[0].text_input, "or folder:PATH", key="xf_folder", placeholder="folder:/path/to/images")
    if folder.strip():  # only inside the server's data roots (workbench.folders)
        folder = ui.app_folder(folder.strip().removeprefix("folder:"), c[0])
    base = url.bind(c[1].selectbox, "Pretrained base", _bases(), key="xf_base", help="the first ships with pip (offline); "
                          "vgg16 is the lecture's spec with random weights (its trainable counts); the -imagenet "
                          "zoo models get a new head, and load only when their weights are in the framework's "
                          "cache (or can be downloaded): otherwise they say where to put the file")
    backend = url.bind(c[2].selectbox, "Backend", list(ui.registry().backends()), key="xf_backend")
    scratch = url.bind(c[3].text_input, "Scratch CNN", "mnist-cnn", key="xf_scratch",
                              help="any registered spec, e.g. naive-cnn-cats-dogs (the CS 577 report's)")
    variants = url.bind(st.multiselect, "Variants", VARIANTS, default=list(VARIANTS), key="xf_variants")
    c = st.columns(5)
    epochs = url.bind(c[0].number_input, "Epochs (each variant)", 2, 50, 2, key="xf_epochs")
    seeds = url.bind(c[1].number_input, "Seeds", 1, 10, 2, key="xf_seeds")
    fractions = url.bind(c[2].multiselect, "Data fractions", [0.05, 0.25, 1.0], default=[1.0], key="xf_fractions",
                                 format_func=lambda f: f"{f:.0%}")
    limit = url.bind(c[3].number_input, "Training images at most", 10, 5000, 60, key="xf_limit",
                              help="the base sees 224x224 images: keep this small on a CPU")
    start = url.bind(c[4].text_input, "Fine-tune from layer", default_finetune_from(base),
                            key="xf_from")
    st.markdown("**Traps** (each reproduces a mistake on purpose)")
    t = st.columns(2)
    bn = url.bind(t[0].toggle, "Frozen BatchNorm with batch statistics while training", key="xf_bn",
                     help="keras issue 9214: Keras 2's frozen BatchNorm; PyTorch with requires_grad=False alone")
    scale = url.bind(t[1].toggle, "Feed the base [0, 1] pixels (the wrong input scale)", key="xf_scale")
    return ExperimentSpec(folder.strip() or dataset, base, backend, tuple(variants), start.strip() or None,
                          int(epochs), int(seeds), tuple(fractions) or (1.0,), 16, scratch.strip(), limit=int(limit),
                          bn_trap=bn, wrong_scale=scale)


def _follow(job: QueuedExperiment):
    """Show the experiment while it waits in the server's job queue and runs (in a worker process,
    or on a Ray cluster): each script run polls the job until it ends."""
    st.button("Stop", key="xf_stop", on_click=job.stop, disabled=job.stop_event.is_set(),
              help="ends the current run after its batch; the finished runs are kept")
    total = len(job.spec.variants) * job.spec.seeds * len(job.spec.fractions)
    bar, chart = st.progress(0.0, text="preparing the data ..."), st.empty()
    shown, t0 = 0, time.perf_counter()
    while job.running:
        records = job.records
        if len(records) > shown:
            shown = len(records)
            chart.plotly_chart(curves(_live_runs(records)[-6:], "learning curves (live)"), key=f"xf_live_{shown}")
        done = len({label for label, _ in records})
        seconds = time.perf_counter() - t0
        bar.progress(min(done / total, 1.0), text=ui.queue_status(job, seconds) or f"{done}/{total} runs started "
                     f"({seconds:.0f} s)" + (" - stopping ..." if job.stop_event.is_set() else ""))
        time.sleep(0.3)
    chart.empty()
    if st.session_state.get(LIVE) is job:
        del st.session_state[LIVE]
    if job.error is not None:
        if job.stopped_before_start:
            st.info("Stopped before it started: no run was trained.")
            return
        raise job.error
    bar.progress(1.0, text="done")


class _Curve:
    def __init__(self, label, history):
        self.label, self.history = label, history


def _live_runs(records) -> list:
    runs: dict[str, list] = {}
    for label, rec in records:
        runs.setdefault(label, []).append(rec)
    for label, hist in runs.items():  # a fine-tuning run's second phase counts its epochs on
        for i, rec in enumerate(hist):
            hist[i] = {**rec, "epoch": i + 1}
    return [_Curve(k, v) for k, v in runs.items()]


def _results(exp):
    st.subheader("3. Results")
    for note in exp.notes:
        st.info(note)
    top = max(exp.spec.fractions)
    rows = []
    for v, r in exp.table(top).items():
        f = lambda k: "-" if r[k]["mean"] is None else f"{r[k]['mean']:.3f} ± {r[k]['sd']:.3f}"  # noqa: E731
        rows.append({"variant": v, "best val accuracy": f("val_accuracy"), "lowest val loss": f("val_loss"),
                     "test accuracy": f("test_accuracy"), "epochs": r["epochs"], "learning rates": r["learning_rates"],
                     "trainable tensors": r["trainable_tensors"], "trainable params": r["trainable_params"],
                     "seconds": r["seconds"], "seeds": r["seeds"],
                     "features cached": "yes" if r["cached_features"] else "-"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="xf_table")
    st.caption(f"Mean ± sd over seeds at {top:.0%} of the training data. With no augmentation before it, the "
               "frozen variant computes the base's output once per image and trains the head on those cached "
               "features; features + LogisticRegression uses the same cache.")
    first = [exp.of(v, top)[0] for v in exp.spec.variants if exp.of(v, top) and exp.of(v, top)[0].run is not None]
    ui.show(curves([_Curve(r.variant, r.history) for r in first], "learning curves, seed 0, overlaid"), key="xf_curves")
    cols = st.columns(max(len(first), 1))
    for col, r in zip(cols, first):
        with col:
            st.markdown(f"**{r.variant}**: test accuracy {r.test_accuracy:.1%}")
            st.plotly_chart(confusion_figure(r.run.confusion(), r.run.class_names), key=f"xf_cm_{r.variant}")
    if len(exp.spec.fractions) > 1:
        fig = go.Figure()
        for v in exp.spec.variants:
            pts = [(f, exp.table(f).get(v, {}).get("test_accuracy", {}).get("mean")) for f in exp.spec.fractions]
            fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=v))
        fig.update_layout(title="test accuracy by fraction of the training data", height=340,
                          xaxis=dict(title="fraction", type="log"), yaxis=dict(title="test accuracy"))
        ui.show(fig, key="xf_fractions_plot")
    trained = {r.variant: r.run for r in first}
    if trained:
        variant = st.selectbox("Export the model of", list(trained), key="xf_export_variant")
        take_home.export_run(trained[variant], key=f"xf_export_{variant}")
    _documents(exp)
    _traps(exp)
    st.caption("The trained models (seed 0) have joined this session's runs: the explanation lesson can explain them.")


def _keep_runs(runs: list):
    """on_done for an experiment: its seed-0 models join the session's runs once, within the
    session's limit (workbench.jobs.limits), for the explanation lesson."""
    def keep(exp):
        top = max(exp.spec.fractions)
        for r in exp.runs:
            if r.seed == 0 and r.fraction == top and r.run is not None:
                limits.keep(runs, r.run)
    return keep


def _documents(exp):
    st.subheader("4. Beside the course documents")
    ours = {v: r["test_accuracy"]["mean"] for v, r in exp.table().items()}
    c = st.columns(2)
    c[0].markdown(f"**{DOC.CS577_TITLE}**")
    c[0].dataframe(pd.DataFrame([{"variant": v, "report": what, "report accuracy": acc, "this run": ours.get(v)}
                                 for v, what, acc in DOC.CS577]), hide_index=True)
    c[0].caption(DOC.CS577_DIFFERS)
    c[1].markdown(f"**{DOC.CS671_TITLE}**")
    c[1].dataframe(pd.DataFrame([{"variant": v, "report": what, "report accuracy": acc, "this run": ours.get(v)}
                                 for v, what, acc in DOC.CS671]), hide_index=True)
    c[1].caption(DOC.CS671_DIFFERS)


def _traps(exp):
    st.subheader("5. The traps")
    spec = exp.spec
    model_runs = [r for r in exp.runs if r.run is not None and r.variant != "scratch"]
    if not model_runs:
        st.caption("Run a frozen or fine-tuned variant to measure the traps.")
        return
    r = model_runs[0]
    if spec.bn_trap:
        st.warning("Frozen BatchNorm ran with batch statistics while training (keras issue 9214): the head learned "
                   "on features normalised batch by batch; at inference the base normalises with its stored "
                   "ImageNet statistics, so the same training images score lower.")
    else:
        st.caption("Default path: frozen layers run in inference mode while training (Keras 3's trainable=False; "
                   "in PyTorch the workbench puts frozen layers in eval mode, which requires_grad=False alone "
                   "does not). Toggle the trap above and run again to see the gap open.")
    st.dataframe(pd.DataFrame([{"variant": r.variant, **gap(r)}]), hide_index=True, key="xf_gap")
    if spec.wrong_scale:
        st.warning("The base was fed [0, 1] pixels instead of its ImageNet normalisation: its first layers see "
                   "inputs far from what they were trained on, and its stored statistics no longer fit.")
    with ui.guard("measure the BatchNorm statistics"):
        backend = lookup.backend(spec.backend)
        x = _train_images(exp)
        if len(x):
            st.markdown("**Per layer: the batch's statistics at each BatchNorm's input against the stored ones** "
                        "(0 and 1 when they fit these images)")
            st.dataframe(pd.DataFrame(batch_norm_statistics(backend, r.run.model, x)), hide_index=True)


def _train_images(exp):
    from dataclasses import replace

    from workbench.transfer.bases import base
    from workbench.transfer.experiment import prepare_base

    prepared = prepare_base(replace(exp.spec, limit=16), lookup.dataset(exp.spec.dataset),
                            base(exp.spec.base, exp.spec.from_layer))
    return prepared.splits["train"][0][:16]


def render():
    st.title("Transfer learning")
    st.caption("Scratch vs a frozen pretrained base vs fine-tuning (head first, then unfreeze) vs fine-tuning with "
               "augmentation vs the base's features in a logistic regression, on the same split and budget, "
               "over seeds, in TensorFlow or PyTorch.")
    url = UrlState("transfer", FIELDS, PRESETS)
    _strategy()
    spec = _controls(url)
    url.reports()
    live = st.session_state.get(LIVE)
    if st.button("Run the experiment", type="primary", key="xf_run", disabled=live is not None):
        with ui.guard("start the experiment"):
            job = QueuedExperiment(spec, owner=ui.session_id(), on_done=_keep_runs(ui.trained_runs()))
            st.session_state[LIVE] = live = job.start()
    if live is not None:
        with ui.guard("run the experiment"):
            _follow(live)
            if live.result is not None:
                st.session_state[DONE] = live.result
    exp = st.session_state.get(DONE)
    if exp is not None:
        with ui.guard("show the results"):
            _results(exp)

"""Training lesson: choose data, architecture, backend, optimizer and augmentation; watch the
learning curves live; read the confusion matrix (click a cell to see those test images); compare
the runs of this session. Every number comes from the chosen backend's real training."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from workbench import augment as A
from workbench import data as D
from workbench import folders, graph, lookup, ui
from workbench.backend import TrainConfig
from workbench.codegen import Settings
from workbench.jobs import limits
from workbench.jobs.train import QueuedRun
from workbench.runs import RunSpec, TrainedRun
from workbench.training import OPTIMIZERS, check_config, input_normalization, with_dataset_head
from workbench.urlstate import Preset, UrlState
from workbench_pages import take_home

LIVE = "training_live"  # the QueuedRun of this session while it waits or trains; finished runs: ui.trained_runs()
# URL name -> widget key (workbench.urlstate): the settings a link carries
FIELDS = {"dataset": "tr_dataset", "folder": "tr_folder", "arch": "tr_arch", "backend": "tr_backend",
          "optimizer": "tr_optimizer", "lr": "tr_lr", "epochs": "tr_epochs", "batch": "tr_batch", "limit": "tr_limit",
          "patience": "tr_patience", "standardize": "tr_standardize", "from": "tr_from",
          **{k: f"tr_aug_{k}" for k in A.Augment().as_dict()}}
_AUGMENTED = {k: str(v).lower() if isinstance(v, bool) else str(v)  # the slides' settings that are not the default
              for k, v in A.SEED_001.as_dict().items() if v != A.Augment().as_dict()[k]}
PRESETS = (
    Preset("mnist-cnn", "The MNIST CNN", {"dataset": "mnist-5k", "arch": "mnist-cnn", "epochs": "3"}, "cnn-slides",
           "the first ConvNet: Total params 93,322 (conv 320, 18,496, 36,928; dense 36,928 and 650)."),
    Preset("cats-vs-dogs-augmentation", "Cats vs dogs, augmented",
           {"dataset": "cats-vs-dogs", "arch": "cats-vs-dogs-cnn", "batch": "20", "epochs": "30", **_AUGMENTED},
           "cnn-slides", "ImageDataGenerator(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, "
           "shear_range=0.2, zoom_range=0.2, horizontal_flip=True, fill_mode='nearest'); 150x150 images in "
           "batches of 20, 30 epochs."),
    Preset("cnn1-standardised", "cnn1, standardised per pixel",
           {"dataset": "mnist-5k", "arch": "cnn1", "standardize": "true", "epochs": "5"}, "cnns-part-2",
           "cnn1 on 4,000 MNIST images: \u201conly after standardizing the input data the CNN could be trained "
           "properly\u201d, (X − mean) / (std + 0.0001) per pixel."),
    Preset("cnn1-raw", "cnn1, not standardised", {"dataset": "mnist-5k", "arch": "cnn1", "epochs": "5"},
           "cnns-part-2", "cnn1 on 4,000 MNIST images without standardisation: the lecture says it could not be "
           "trained properly."),
)


# -- cached data ----------------------------------------------------------------------------
@st.cache_resource(show_spinner="Reading the model's layers ...", max_entries=8)
def _native_layers(arch_name: str, backend_name: str) -> list[str]:
    """A native (pretrained) model's layer names, read off the real model once per server."""
    backend = lookup.backend(backend_name)
    return backend.layer_names(backend.build(lookup.architecture(arch_name)))


def _dataset(name: str):
    return _dataset_cached(name, folders.dataset_contents(name))


@st.cache_resource(show_spinner="Loading the dataset ...", max_entries=4)
def _dataset_cached(name: str, contents):
    ds = lookup.dataset(name)
    ds.load("train")
    return ds


def _datasets() -> dict[str, str]:
    """name -> label; downloads are marked, folder:PATH is its own choice."""
    out = {}
    for name, ds in ui.registry().datasets().items():
        if hasattr(ds, "load"):
            out[name] = name + ("" if getattr(ds, "offline", True) else "  (downloads once)")
    out["folder"] = "folder:PATH (your own images)"
    return out


def _images(x: np.ndarray, cols: int, tile: int = 56) -> np.ndarray:
    """A grid of images, enlarged (nearest) so small digits are visible; grey as 2-D."""
    scale = max(1, tile // x.shape[1])
    g = np.clip(D.grid(x, cols), 0, 1)
    g = g.repeat(scale, axis=0).repeat(scale, axis=1)
    return g[..., 0] if g.shape[2] == 1 else g


# -- figures --------------------------------------------------------------------------------
def curves(runs: list, title: str = "") -> go.Figure:
    """Loss and accuracy per epoch, train (solid) vs validation (dashed), one colour per run (each
    a TrainedRun or a QueuedRun: a label and a history)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    palette = ["#1f77b4", "#e4572e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22"]
    for i, run in enumerate(runs):
        h = pd.DataFrame(list(run.history))
        if h.empty:
            continue
        color = palette[i % len(palette)]
        for col, metric in ((1, "loss"), (2, "accuracy")):
            for key, dash, label in ((metric, "solid", "train"), (f"val_{metric}", "dash", "val")):
                if key in h and h[key].notna().any():
                    fig.add_trace(go.Scatter(x=h["epoch"].tolist(), y=h[key].tolist(), mode="lines+markers", line=dict(color=color, dash=dash),
                                             name=f"{run.label} {label}", legendgroup=run.label,
                                             showlegend=col == 1), row=1, col=col)
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_layout(title=title, height=340, margin=dict(l=10, r=10, t=60, b=10))
    return fig


def confusion_figure(cm: np.ndarray, names) -> go.Figure:
    """The counts as a heatmap, and over it one nearly transparent square marker per cell: Streamlit
    reports clicks on scatter points but not on heatmap cells (streamlit issue 8760)."""
    names = [str(n) for n in names]
    cm = np.asarray(cm).tolist()  # plain lists: small, and readable in the figure's JSON
    height = min(620, 120 + 40 * len(names))
    fig = go.Figure(go.Heatmap(z=cm, x=names, y=names, colorscale="Blues", text=cm, texttemplate="%{text}",
                               hoverinfo="skip"))
    cells = [(t, p) for t in names for p in names]
    fig.add_trace(go.Scatter(
        x=[p for _, p in cells], y=[t for t, _ in cells], mode="markers", showlegend=False,
        marker=dict(symbol="square", size=max(8, (height - 120) // len(names) - 4), color="white", opacity=0.02),
        customdata=[cm[names.index(t)][names.index(p)] for t, p in cells],
        hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>",
        selected=dict(marker=dict(opacity=0.02)), unselected=dict(marker=dict(opacity=0.02))))
    fig.update_yaxes(autorange="reversed", title="true class", type="category")
    fig.update_xaxes(title="predicted class", type="category")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), clickmode="event+select")
    return fig


def clicked_cell(event) -> tuple[str, str] | None:
    """(true, predicted) class of the cell a click on the confusion matrix selected, or None."""
    try:
        points = list(event["selection"]["points"])
    except (KeyError, TypeError):
        return None
    return (str(points[0]["y"]), str(points[0]["x"])) if points else None


# -- the controls ---------------------------------------------------------------------------
def _augment_controls(url: UrlState, image: np.ndarray | None, backend) -> A.Augment:
    with st.expander("Data augmentation (ImageDataGenerator settings)"):
        if st.button("Use the settings of the lecture slides “Convolutional Neural Networks (CNN)”",
                     key="tr_aug_seed"):
            for k, v in A.SEED_001.as_dict().items():
                st.session_state[f"tr_aug_{k}"] = v
        c = st.columns(4)
        values = {
            "rotation_range": url.bind(c[0].slider, "rotation_range (deg)", 0, 180, 0, key="tr_aug_rotation_range"),
            "width_shift_range": url.bind(c[1].slider, "width_shift_range", 0.0, 0.5, 0.0, 0.05, key="tr_aug_width_shift_range"),
            "height_shift_range": url.bind(c[2].slider, "height_shift_range", 0.0, 0.5, 0.0, 0.05,
                                              key="tr_aug_height_shift_range"),
            "shear_range": url.bind(c[3].slider, "shear_range (deg)", 0.0, 45.0, 0.0, 0.1, key="tr_aug_shear_range"),
        }
        c = st.columns(4)
        values["zoom_range"] = url.bind(c[0].slider, "zoom_range", 0.0, 0.5, 0.0, 0.05, key="tr_aug_zoom_range")
        values["horizontal_flip"] = url.bind(c[1].checkbox, "horizontal_flip", key="tr_aug_horizontal_flip")
        values["vertical_flip"] = url.bind(c[2].checkbox, "vertical_flip", key="tr_aug_vertical_flip")
        values["fill_mode"] = url.bind(c[3].selectbox, "fill_mode", A.FILL_MODES, key="tr_aug_fill_mode")
        spec = A.parse(values)
        if spec.active and image is not None:
            with ui.guard("preview the augmentation"):
                preview = A.preview(backend, image, spec, n=8, seed=int(time.time()) % 1000)
                st.image(_images(preview, 8), caption=f"8 augmented copies of one training image ({backend.name})")
        elif not spec.active:
            st.caption("No augmentation: every epoch sees the same images.")
    return spec


def _controls(url: UrlState):
    st.subheader("1. Data, architecture, backend")
    c = st.columns(3)
    names = _datasets()
    keys = list(names)
    ds_key = url.bind(c[0].selectbox, "Dataset", keys, index=keys.index("mnist-5k") if "mnist-5k" in keys else 0,
                            format_func=names.get, key="tr_dataset")
    if ds_key == "folder":
        path = url.bind(c[0].text_input, "Folder", placeholder="/path/to/images (train/val/test/<class>/ or <class>/)",
                               key="tr_folder")
        if not path:
            st.info("Type the path of a folder of images, one sub-folder per class.")
            st.stop()
        ds_key = ui.app_folder(path, c[0])
    registered = ui.registry().architectures()
    # spec architectures start from scratch; pretrained ones that take a new head fine-tune: transfer learning
    archs = sorted((n for n, a in registered.items() if a.is_spec or a.new_head),
                   key=lambda n: (not registered[n].is_spec, n))
    arch_name = url.bind(c[1].selectbox, "Architecture", archs, index=archs.index("mnist-cnn") if "mnist-cnn" in archs else 0,
                               format_func=lambda n: n if registered[n].is_spec else f"{n} (pretrained: fine-tune)",
                               key="tr_arch")
    backends = sorted(ui.registry().backends())
    if not backends:
        st.error("No backend is installed: pip install 'cnn-workbench[tensorflow]' or '[torch]'.")
        st.stop()
    backend_name = url.bind(c[2].selectbox, "Backend", backends,
                                  index=backends.index("tensorflow") if "tensorflow" in backends else 0,
                                  key="tr_backend")
    st.subheader("2. Optimizer and schedule")
    c = st.columns(6)
    opt_names = list(OPTIMIZERS)
    optimizer = url.bind(c[0].selectbox, "Optimizer", opt_names, index=opt_names.index("adam"), format_func=OPTIMIZERS.get,
                               key="tr_optimizer")
    lr = url.bind(c[1].number_input, "Learning rate", 1e-6, 1e7, 1e-3, format="%.6g", key="tr_lr")
    epochs = url.bind(c[2].number_input, "Epochs", 1, 100, 1, key="tr_epochs")
    batch = url.bind(c[3].number_input, "Batch size", 1, 1024, 64, key="tr_batch")
    limit = url.bind(c[4].number_input, "Training images (0 = all)", 0, 100000, 0, step=500, key="tr_limit")
    patience = url.bind(c[5].number_input, "Early stopping patience (0 = off)", 0, 50, 0, key="tr_patience")
    own = None
    with ui.guard("read the model's input normalisation"):
        own = input_normalization(registered[arch_name], backend_name)
    standardize = url.bind(st.checkbox, "Standardise each pixel with the training split's mean and std (the lecture slides "
                              "“CNNs part II”)",
                              key="tr_standardize", disabled=own is not None,
                              help="off for a pretrained model: it is fed its own (ImageNet) normalisation"
                              if own is not None else None) and own is None
    return ds_key, arch_name, backend_name, TrainConfig(
        epochs=int(epochs), batch_size=int(batch), optimizer=optimizer, learning_rate=float(lr),
        early_stopping=int(patience) or None), int(limit), standardize


# -- training -------------------------------------------------------------------------------
def _start(spec: RunSpec, continue_model) -> QueuedRun:
    """Train (or continue training) as a job of the server's queue (workbench.jobs: a worker
    process, or a Ray cluster), the CLI's run. The live run is in the session until it ends, and
    joins the session's runs only if it ends without error."""
    runs = ui.trained_runs()
    label = f"run {len(runs) + 1}: {spec.backend} {spec.config.optimizer} lr={spec.config.learning_rate:g}"
    # on_done runs once, in the script run that first sees the job done: the run joins the session's runs
    job = QueuedRun(spec, label, on_done=lambda run: limits.keep(runs, run), owner=ui.session_id(),
                    model=continue_model)
    st.session_state[LIVE] = job
    return job.start()


def _follow(job: QueuedRun) -> None:
    """Show the live run until it ends. A click (Stop, or any widget) reruns the page: the new
    script run finds the run here again, so one model never trains twice at once."""
    epochs = job.spec.config.epochs
    st.button("Stop", key="tr_stop", on_click=job.stop, disabled=job.stop_event.is_set(),
              help="ends the run after the current batch; what it learned is kept and tested")
    bar, chart = st.progress(0.0, text="training ..."), st.empty()
    shown, t0 = 0, time.perf_counter()
    while job.running:
        if len(job.history) > shown:
            shown = len(job.history)
            chart.plotly_chart(curves([job], "learning curves (live)"), key=f"tr_live_{shown}")
        # every pass sends the bar, which is also where Streamlit ends a script run it replaced
        bar.progress(min(shown / epochs, 1.0), text=_status(job, list(job.history), epochs, time.perf_counter() - t0))
        time.sleep(0.3)
    chart.empty()  # the results below draw the whole run; a half-drawn live chart would linger
    if st.session_state.get(LIVE) is job:
        del st.session_state[LIVE]
    if job.error is not None:
        raise job.error  # the page's guard says what went wrong; the run is not recorded
    bar.progress(1.0, text=job.stopped or "done")


def _status(job, history, epochs, seconds) -> str:
    waiting = ui.queued(job, seconds)
    if waiting is not None:
        return waiting
    if job.stop_event.is_set():
        return f"stopping after the current batch ... ({seconds:.0f} s)"
    if not history:
        return f"epoch 1/{epochs} ... ({seconds:.0f} s)"
    r = history[-1]
    return (f"epoch {r['epoch']}/{epochs}: loss {r['loss']:.4f}, accuracy {r['accuracy']:.3f} "
            f"({r['seconds']:.1f} s); epoch {min(r['epoch'] + 1, epochs)} running ...")


# -- results --------------------------------------------------------------------------------
def _results(run: TrainedRun):
    raw_test = _dataset(run.spec.dataset).load("test")[0]  # shown as they are; the model saw them prepared
    yt, pred = run.test_labels, run.test_pred
    st.subheader(f"3. Results of {run.label}")
    if run.stopped:
        (st.warning if "diverged" in run.stopped else st.info)(run.stopped)
    ui.show(curves([run], "learning curves"), key="tr_curves")
    names = list(run.class_names)
    cm = run.confusion()
    st.metric("Test accuracy", f"{run.test_accuracy:.1%}", help=f"{len(yt)} test images")
    c = st.columns([3, 2])
    with c[0]:
        st.markdown("**Confusion matrix** (click a cell to see its test images)")
        event = st.plotly_chart(confusion_figure(cm, names), key="tr_confusion", on_select="rerun",
                                selection_mode=("points",), config={"displayModeBar": False})
    with c[1]:
        per_class = np.diag(cm) / np.maximum(cm.sum(1), 1)
        st.markdown("**Per-class accuracy**")
        st.dataframe(pd.DataFrame({"class": names, "accuracy": per_class.round(3), "test images": cm.sum(1)}),
                     hide_index=True)
    c = st.columns(2)
    clicked = clicked_cell(event)
    if clicked and clicked != st.session_state.get("tr_clicked"):  # a new click sets both boxes
        st.session_state["tr_clicked"] = clicked
        st.session_state["tr_true"], st.session_state["tr_pred"] = clicked
    true = c[0].selectbox("True class", names, key="tr_true")
    predicted = c[1].selectbox("Predicted class", names, key="tr_pred")
    idx = np.flatnonzero((yt == names.index(true)) & (pred == names.index(predicted)))
    if len(idx):
        st.image(_images(raw_test[idx[:24]], min(12, len(idx))),
                 caption=f"{len(idx)} test images of class {true} predicted as {predicted} (first 24)")
    else:
        st.caption(f"No test image of class {true} was predicted as {predicted}.")


def _history_table(runs: list[TrainedRun]):
    st.subheader("4. Runs of this session")
    rows = [{"run": r.label, "dataset": r.spec.dataset, "architecture": r.spec.arch, "backend": r.backend,
             "optimizer": r.spec.config.optimizer, "lr": r.spec.config.learning_rate,
             "batch": r.spec.config.batch_size, "epochs run": len(r.history), "images": r.images,
             "augment": ", ".join(f"{k}={v}" for k, v in r.spec.config.augment.items() if k != "fill_mode") or "-",
             "final val accuracy": r.history[-1].get("val_accuracy") if r.history else None,
             "test accuracy": r.test_accuracy, "note": r.stopped or ""} for r in runs]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    ui.show(curves(runs, "all runs, overlaid"), key="tr_all_curves")


def render():
    st.title("Training a CNN")
    st.caption("Train the MNIST CNN of the lecture slides “Convolutional Neural Networks (CNN)” (or any "
               "architecture) with TensorFlow or PyTorch's own optimizers, "
               "augmentation and data pipelines; watch train vs validation curves; read the confusion matrix.")
    url = UrlState("training", FIELDS, PRESETS)
    live = st.session_state.get(LIVE)  # a run that goes on while the page reruns
    ds_key, arch_name, backend_name, config, limit, standardize = _controls(url)
    url.reports()
    backend = lookup.backend(backend_name)
    dataset = None
    with ui.guard("load the dataset"):
        dataset = _dataset(ds_key)
        st.image(_images(dataset.samples("train", per_class=6)[0], 6, tile=40),
                 caption=f"{dataset.name}: {dataset.description} Rows: " + ", ".join(map(str, dataset.class_names)))
        for note in dataset.notes[:5]:
            st.warning(note)
    if dataset is None:
        return
    augment = _augment_controls(url, dataset.load("train")[0][0], backend)
    with ui.guard("write the code"):
        take_home.code_section(with_dataset_head(lookup.architecture(arch_name), dataset.num_classes),
                               Settings.of(check_config(config, augment=augment.as_dict()), standardize),
                               key="tr_code")
    runs = ui.trained_runs()
    last = runs[-1] if runs else None
    c = st.columns(2)
    layers = None
    with ui.guard("read the architecture's layers"):
        arch = lookup.architecture(arch_name)
        layers = graph.layer_names(arch) if arch.is_spec else _native_layers(arch_name, backend.name)
    from_layer = url.bind(c[0].selectbox, "Train from layer (freeze the layers before it)", ["(all layers)"] + (layers or []),
                                key="tr_from", help="transfer learning: a pretrained model's new head alone is "
                                "'logits'; then continue from a later block to fine-tune it")
    compatible = last is not None and (last.spec.dataset, last.spec.arch, last.backend) == (ds_key, arch_name,
                                                                                           backend.name)
    cont = c[1].checkbox("Continue training the last run's model (fine-tuning)", disabled=not compatible,
                         key="tr_continue")
    if st.button("Train", type="primary", key="tr_train", disabled=live is not None or layers is None):
        with ui.guard("train"):
            spec = RunSpec(ds_key, arch_name, backend.name, check_config(config, augment=augment.as_dict()),
                           from_layer=None if from_layer == "(all layers)" else from_layer, standardize=standardize,
                           limit=limit or None)
            live = _start(spec, last.model if cont and compatible else None)
    if live is not None:
        with ui.guard("train"):
            _follow(live)
    runs = ui.trained_runs()
    ui.exercises("training", runs=runs or None)
    if runs:
        with ui.guard("show the results"):
            _results(runs[-1])
        take_home.export_run(runs[-1], key="tr_export")
        _history_table(runs)

"""Lesson: explanation methods side by side (all five course documents; workbench.sources), on any model, in either backend.

Everything heavy (the grid of methods, the sanity strip, LIME's stability) runs behind a button as
a job of the server's queue (workbench.jobs.explain: a worker process, or a Ray cluster), and its
result is kept in st.session_state; the model travels to the worker by its registered name, or as
its files when the student trained or imported it. The algorithms live in workbench.explain; this
page only chooses, submits and shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from workbench import image_decoder, samples, ui
from workbench.explain.compare import parse_value
from workbench.explain.inputs import model_inputs
from workbench.explain.render import overlay, pictures, superpixel_boundaries, to_uint8
from workbench.jobs import limits
from workbench.jobs.explain import QueuedExplanation, QueuedMatrix, QueuedSanity, QueuedStability, model_args
from workbench.model_facts import arch_of
from workbench.urlstate import Preset, UrlState
from workbench_pages import take_home

TEN = ["feature-maps", "filters", "filter-patterns", "max-patches", "saliency", "guided-backprop", "grad-cam",
       "guided-grad-cam", "occlusion", "lime"]
DEFAULT_METHODS = TEN  # the "done when": all ten side by side on the pretrained model
SANITY_FAMILIES = ("gradient", "cam", "perturbation")  # the methods that make a map of the image
RESULT = "ex_result"
LIVE, SANITY_LIVE, STABILITY_LIVE, MATRIX_LIVE = "ex_live", "ex_sanity_live", "ex_stab_live", "ex_matrix_live"  # jobs still waiting or running
# URL name -> widget key (workbench.urlstate); each method parameter is "method.parameter" (fields())
FIELDS = {"model": "ex_model", "backend": "ex_backend", "photos": "ex_samples", "dataset": "ex_dataset",
          "dataset_images": "ex_dataset_count", "methods": "ex_methods", "sanity_method": "ex_sanity_method",
          "sanity_stages": "ex_sanity_stages", "sanity_lime_samples": "ex_sanity_lime_samples",
          "lime_seeds": "ex_stab_seeds", "lime_samples": "ex_stab_samples", "occlude": "ex_occ_on",
          "occlude_row": "ex_occ_row", "occlude_col": "ex_occ_col", "occlude_size": "ex_occ_size"}
PRESETS = (
    Preset("grad-cam", "Grad-CAM and Guided Grad-CAM", {"methods": "grad-cam,guided-grad-cam"}, "gradcam-project",
           "Grad-CAM's class heat map and Guided Grad-CAM, the product of Grad-CAM with guided backpropagation."),
    Preset("part-2", "Occlusion, saliency and LIME", {"methods": "occlusion,saliency,lime"}, "cnns-part-2",
           "occlusion (slide a grey square, watch the class probability), saliency maps (the gradient of the class "
           "score) and LIME (a linear model on superpixels)."),
    Preset("cs671", "Feature maps, max-patches, guided backprop", {"methods": "feature-maps,max-patches,guided-backprop"},
           "cs671-report", "feature maps per layer, maximally activating patches traced back through receptive "
                           "fields, guided backpropagation of single neurons."),
)


def fields(explainers) -> dict:
    """The page's URL fields, each registered explainer's parameters included."""
    return {**FIELDS, **{f"{e.name}.{p.name}": f"ex_p_{e.name}_{p.name}" for e in explainers.values() for p in e.params}}


@st.cache_resource(show_spinner=False, max_entries=4)
def _model(backend_name: str, arch_name: str):
    """A registered architecture's model (pretrained ones load their weights), built once per server."""
    backend = ui.registry().backends()[backend_name]
    return backend.build(ui.registry().architectures()[arch_name])


def _choose_model(url: UrlState):
    """(backend, model, arch, label, sent) from the widgets; trained models come from the training
    page. ``sent()``: the model as a job takes it (workbench.jobs.explain): a registered
    architecture by name, built in the worker; a trained or imported one as its files."""
    registry = ui.registry()
    # models trained in the Training lesson this session (workbench.runs.TrainedRun), by label
    trained = {run.label: run for run in ui.trained_runs()}
    archs = sorted(registry.architectures())
    first = [a for a in archs if "explain" in registry.architectures()[a].roles][:1]  # a pretrained model
    with st.expander("Import a model file (.keras, or .safetensors + its architecture .json)"):
        imported = take_home.imported_model(sorted(registry.backends()), key="ex_import")
    own = [f"imported: {imported[2]}"] if imported else []  # the file just brought comes first
    if imported and st.session_state.get("ex_import_shown") is not imported[1]:
        st.session_state["ex_model"] = own[0]  # a newly imported model is the one to explain
        st.session_state["ex_import_shown"] = imported[1]
    options = own + first + [f"trained: {name}" for name in trained] + [a for a in archs if a not in first]
    cols = st.columns(2)
    label = url.bind(cols[0].selectbox, "Model", options, key="ex_model",
                              help="EfficientNet-Lite0 is pretrained on ImageNet and works offline; other "
                                   "architectures have random weights unless you trained them in the Training lesson.")
    if label.startswith("imported: ") and imported:
        backend_name, model, _, files = imported
        cols[1].selectbox("Backend", [backend_name], key="ex_backend_imported", disabled=True)
        return registry.backends()[backend_name], model, arch_of(model), label, lambda: {"model": files}
    if label.startswith("trained: "):
        run = trained[label.removeprefix("trained: ")]
        cols[1].selectbox("Backend", [run.backend], key="ex_backend_trained", disabled=True)
        backend = registry.backends()[run.backend]
        return backend, run.model, run.arch, label, lambda: model_args(backend, None, run.model)
    backends = sorted(registry.backends())
    backend_name = url.bind(cols[1].selectbox, "Backend", backends, key="ex_backend",
                                     index=backends.index("pytorch") if "pytorch" in backends else 0)
    with st.spinner(f"Loading {label} in {backend_name}..."):
        model = _model(backend_name, label)
    return registry.backends()[backend_name], model, registry.architectures()[label], label, lambda: {"arch": label}


def _choose_images(url: UrlState) -> tuple[list[str], list[np.ndarray]]:
    names = samples.names()
    picked = url.bind(st.multiselect, "Sample photos", names, default=["chelsea", "coffee"], key="ex_samples",
                            format_func=lambda n: f"{n}: {samples.SAMPLES[n].description}")
    titles, photos = list(picked), [samples.load(n) for n in picked]
    with st.expander("Upload photos, or take images from a dataset"):
        uploads = st.file_uploader("Your own photos", accept_multiple_files=True, key="ex_upload") or []
        if len(uploads) > limits.photos_per_request():
            st.warning(f"{len(uploads)} photos uploaded; the first {limits.photos_per_request()} are explained "
                       "(the server's limit per grid)", icon=":material/photo_library:")
        for upload in uploads[:limits.photos_per_request()]:
            try:
                photos.append(image_decoder.decode_upload(upload))
                titles.append(upload.name)
            except ValueError as exc:
                st.error(str(exc), icon=":material/broken_image:")
        datasets = ["(none)"] + sorted(n for n, d in ui.registry().datasets().items() if hasattr(d, "load"))
        dataset = url.bind(st.selectbox, "Dataset", datasets, key="ex_dataset")
        if dataset != "(none)":
            count = url.bind(st.number_input, "Test images", 1, 8, 2, key="ex_dataset_count")
            with ui.guard(f"load {dataset}"):
                ds = ui.registry().datasets()[dataset]
                x, y = ds.load("test")
                for i in range(int(count)):
                    photos.append((np.clip(x[i], 0, 1) * 255).astype(np.uint8))
                    titles.append(f"{dataset} #{i} ({ds.class_names[int(y[i])]})")
    return titles, photos


def _param_widgets(url: UrlState, explainer) -> tuple[dict, int]:
    """One widget per parameter, from its default and bounds: (only the changed values, how many
    values were refused). A value the method cannot take is refused under its own widget."""
    values, refused = {}, 0
    for p in explainer.params:
        key = f"ex_p_{explainer.name}_{p.name}"
        if p.choices is not None:
            value = url.bind(st.selectbox, p.name, p.choices, index=list(p.choices).index(p.default), key=key, help=p.help)
        elif isinstance(p.default, bool):
            value = url.bind(st.checkbox, p.name, p.default, key=key, help=p.help)
        elif isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
            cast = float if isinstance(p.default, float) else int
            value = url.bind(st.number_input, p.name, min_value=None if p.low is None else cast(p.low),
                                    max_value=None if p.high is None else cast(p.high), value=p.default, key=key,
                                    help=p.help)
        else:
            text = url.bind(st.text_input, p.name, "" if p.default is None else str(p.default), key=key, help=p.help)
            value = parse_value(text.strip()) if text.strip() else None
        try:
            value = p.check(value)
        except ValueError as exc:
            st.error(str(exc), icon=":material/tune:")
            refused += 1
            continue
        if value != p.default:
            values[p.name] = value
    return values, refused


def mebibytes(count: int | None) -> str:
    return "" if count is None else f"{count / 2**20:,.0f} MiB"


def cost_text(cost) -> str:
    """A method's cost in a few words: time, passes, and peak memory where the backend reports it (GPU)."""
    text = f"{cost.seconds:.2f} s  \n{cost.forward_passes} fwd, {cost.backward_passes} bwd"
    return text + (f"  \n{mebibytes(cost.peak_memory)} peak" if cost.peak_memory is not None else "")


def _grid(result, titles, shown):
    """Methods down, images across: the picture (one tab per layer where there are several), then
    what it cost."""
    header = st.columns([1] + [2] * len(titles))
    header[0].markdown("**method**")
    for col, title, image in zip(header[1:], titles, shown):
        col.image(to_uint8(image), caption=title, width="stretch")
    for name, e in result["explanations"].items():
        row = st.columns([1] + [2] * len(titles))
        row[0].markdown(f"**{name}**  \n{cost_text(e.cost)}")
        for n, (col, image) in enumerate(zip(row[1:], shown)):
            pics = pictures(e, n, image)
            if len(pics) == 1:
                col.image(pics[0][1], width="stretch")
            else:
                for tab, (label, pic) in zip(col.tabs([label for label, _ in pics]), pics):
                    tab.image(pic, width="stretch")
            col.caption(f"{name} · image {n + 1}")


def _scores(result):
    keys = ["seconds", "forward_passes", "backward_passes", "deletion_auc", "insertion_auc"]
    rows = [{"method": name, **{k: s[k] for k in keys}} for name, s in result["scores"].items()]
    if any(s.get("peak_memory") is not None for s in result["scores"].values()):  # a GPU backend tells
        for row, s in zip(rows, result["scores"].values()):
            row["peak memory"] = mebibytes(s.get("peak_memory"))
    rows.append({"method": "random order", **result["random_baseline"]})
    st.dataframe(pd.DataFrame(rows).set_index("method"), width="stretch")
    st.caption("Deletion: blur the most important 8-pixel squares first; a faithful map makes the class "
               "probability fall fast (lower area is better). Insertion: un-blur them first (higher is better). "
               "Both are averaged over the images; a random order (the mean of three) is the bar to clear. "
               "Deletion can flatter a random order on textures (fur, coins): blurring scattered squares "
               "destroys texture everywhere at once, whatever the object. Insertion is harder to fool.")
    figs = {kind: go.Figure() for kind in ("deletion", "insertion")}
    for name, curves in result["curves"].items():
        for kind, fig in figs.items():
            mean = np.mean([c[kind] for c in curves], axis=0)
            fig.add_scatter(x=np.linspace(0, 1, len(mean)), y=mean, name=name,
                            line=dict(dash="dot" if name == "random" else "solid"))
    cols = st.columns(2)
    for col, (kind, fig) in zip(cols, figs.items()):
        fig.update_layout(title=f"{kind} curve", xaxis_title="fraction of pixels", yaxis_title="probability",
                          height=320, margin=dict(l=10, r=10, t=40, b=10))
        with col:
            ui.show(fig, key=f"ex_curve_{kind}")


def _activation_steps(ex):
    """Where max-patches and filter patterns looked, and what they could not show."""
    if "max-patches" in ex:
        steps = ex["max-patches"].steps
        st.markdown(f"**Max-patches at `{steps['layer']}`**, ranked by the values at `{steps['ranked_at']}`: "
                    "each patch is the input window its neuron sees.")
        st.dataframe(pd.DataFrame(steps["patches"]), hide_index=True, width="stretch")
        for line in steps["untraced"]:
            st.warning(f"Shown black: {line}.")
    if "filter-patterns" in ex:
        steps = ex["filter-patterns"].steps
        gains = ", ".join(f"{c}: +{g:.2f}" for c, g in zip(steps["channels"], steps["activation_gain"]))
        st.markdown(f"**Filter patterns at `{steps['layer']}`** (climbed at `{steps['climbed']}`): mean activation "
                    f"gained per channel {gains}.")
        if steps["skipped"]:
            st.caption(f"Skipped channels {', '.join(map(str, steps['skipped']))}: their activation did not grow "
                       "from the noise (dead there, or at their ceiling).")


def _inner_steps(result, shown):
    ex = result["explanations"]
    _activation_steps(ex)
    if "grad-cam" in ex:
        steps = ex["grad-cam"].steps
        st.markdown(f"**Grad-CAM at `{steps['layer']}`**: the channel weights (mean gradient per channel) of image 1, "
                    "and the weighted sum before upsampling.")
        weights = steps["channel_weights"][0]
        best = np.argsort(-np.abs(weights))[:24]
        cols = st.columns(2)
        with cols[0]:
            ui.show(go.Figure(go.Bar(x=[str(c) for c in best], y=weights[best])).update_layout(
                height=260, xaxis_title="channel", margin=dict(l=10, r=10, t=10, b=10)), key="ex_cam_weights")
        with cols[1]:
            ui.show(ui.heatmap(steps["cam"][0], colorscale="jet", height=260), key="ex_cam_low")
    if "guided-backprop" in ex:
        masks = ex["guided-backprop"].steps
        if "forward_mask" in masks:
            st.markdown(f"**Guided backprop's masks at `{masks['mask_layer']}`** (fraction of channels): where the "
                        "forward activation is positive, where the gradient is positive, and where both hold.")
            cols = st.columns(3)
            for col, key in zip(cols, ("forward_mask", "backward_mask", "passes")):
                col.image(to_uint8(masks[key][0]), caption=key, width="stretch")
        else:
            st.caption("Tick guided-backprop's show_masks parameter to see its ReLU masks.")
    if "lime" in ex:
        steps = ex["lime"].steps
        st.markdown("**LIME**: the superpixels of image 1 and the surrogate's coefficient for each.")
        cols = st.columns(2)
        cols[0].image(superpixel_boundaries(shown[0], steps["superpixels"][0]), width="stretch",
                      caption=f"{steps['superpixels'][0].max() + 1} superpixels")
        coef = steps["coefficients"][0]
        with cols[1]:
            ui.show(go.Figure(go.Bar(x=list(range(len(coef))), y=coef)).update_layout(
                height=260, xaxis_title="superpixel", margin=dict(l=10, r=10, t=10, b=10)), key="ex_lime_coef")
        st.caption(f"Surrogate fit R² on the samples: {steps['fit_r2'][0]:.3f}")


def _class_matrix(source, x, shown, preds):
    st.markdown("The CS671 assignment report *Convolution Neural Network*, Table 13: Grad-CAM of each class (rows) on each image (columns).")
    classes = list(dict.fromkeys(p[0]["index"] for p in preds))
    classes += [p["index"] for p in preds[0][1:] if p["index"] not in classes][:max(0, 3 - len(classes))]
    names = {p["index"]: p["name"] for top in preds for p in top}
    if st.button("Compute the class x image matrix", key="ex_matrix_run", disabled=MATRIX_LIVE in st.session_state):
        st.session_state.pop("ex_matrix", None)
        job = QueuedMatrix({**source(), "images": x, "classes": classes}, owner=ui.session_id(), label="class x image matrix",
                           on_done=lambda result: st.session_state.__setitem__("ex_matrix", (classes, result["maps"])))
        st.session_state[MATRIX_LIVE] = job.start()
    if MATRIX_LIVE in st.session_state:
        ui.follow_job(st.session_state[MATRIX_LIVE], _working("Grad-CAM for every class"), MATRIX_LIVE)
    ui.job_failed(MATRIX_LIVE, "compute the class matrix")
    if "ex_matrix" in st.session_state:
        classes, maps = st.session_state["ex_matrix"]
        for c, row in zip(classes, maps):
            cols = st.columns([1] + [2] * len(shown))
            cols[0].markdown(f"**{names.get(c, c)}**")
            for n, (col, m, image) in enumerate(zip(cols[1:], row, shown)):
                col.image(overlay(image, m), width="stretch", caption=f"{names.get(c, c)} · image {n + 1}")


def _working(text: str):
    """A job's progress for ui.follow_job when it streams none: the time so far."""
    return lambda job, seconds: (0.5, f"{text} ... ({seconds:.0f} s)")


def _sanity(url, source, shown, targets, explained):
    st.markdown("Adebayo et al. (2018): randomise the model's layers from the top down. A map that does not "
                "change is explaining the image, not the model. Spearman rank correlation with the original map below.")
    explainers = ui.registry().explainers()
    # every method that makes a map of the image; LIME with few samples, it runs once per stage
    choices = [m for m in explained if m in explainers and explainers[m].family in SANITY_FAMILIES] or ["grad-cam"]
    cols = st.columns(3)
    method = url.bind(cols[0].selectbox, "Method", choices, key="ex_sanity_method")
    stages = url.bind(cols[1].slider, "Stages", 2, 8, 4, key="ex_sanity_stages")
    params = dict(explained[method].params) if method in explained else {}  # as in the grid above
    if method == "lime":
        params["samples"] = int(url.bind(cols[2].number_input, "LIME samples per stage", 50, 2000, 150, step=50,
                                                     key="ex_sanity_lime_samples"))
    if st.button("Run the randomisation check", key="ex_sanity_run", disabled=SANITY_LIVE in st.session_state):
        st.session_state.pop("ex_sanity", None)
        job = QueuedSanity({**source(), "targets": list(targets[:1]), "method": method, "stages": stages,
                            "params": params}, owner=ui.session_id(), label="sanity check",
                           on_done=lambda strip: st.session_state.__setitem__("ex_sanity", (method, strip)))
        st.session_state[SANITY_LIVE] = job.start()
    if SANITY_LIVE in st.session_state:
        ui.follow_job(st.session_state[SANITY_LIVE], _working("randomising and re-explaining"), SANITY_LIVE)
    ui.job_failed(SANITY_LIVE, "run the sanity check")
    if "ex_sanity" in st.session_state:
        method, strip = st.session_state["ex_sanity"]
        cols = st.columns(len(strip))
        for col, step in zip(cols, strip):
            label = "original" if not step["randomised"] else f"top {step['randomised']} layers"
            col.image(overlay(shown[0], step["maps"][0]), caption=f"{label}: ρ = {step['spearman']:.2f}", width="stretch")


def _lime_stability(url, source, shown, targets):
    cols = st.columns(2)
    seeds = url.bind(cols[0].slider, "Seeds", 2, 6, 3, key="ex_stab_seeds")
    count = url.bind(cols[1].number_input, "Samples per run", 50, 5000, 300, step=50, key="ex_stab_samples")
    if st.button("Run LIME with each seed", key="ex_stab_run", disabled=STABILITY_LIVE in st.session_state):
        st.session_state.pop("ex_stab", None)
        args = source()
        job = QueuedStability({**args, "image": args.pop("images")[0], "target": targets[0],
                               "seeds": list(range(seeds)), "samples": int(count)}, owner=ui.session_id(),
                              label="LIME stability", on_done=lambda result: st.session_state.__setitem__("ex_stab", result))
        st.session_state[STABILITY_LIVE] = job.start()
    if STABILITY_LIVE in st.session_state:
        ui.follow_job(st.session_state[STABILITY_LIVE], _working("LIME, once per seed"), STABILITY_LIVE)
    ui.job_failed(STABILITY_LIVE, "measure LIME's stability")
    if "ex_stab" in st.session_state:
        result = st.session_state["ex_stab"]
        c = st.columns(2)
        c[0].metric("Top-5 superpixels, mean Jaccard between seeds", f"{result['top_jaccard']:.2f}")
        c[1].metric("Coefficients, mean Spearman between seeds", f"{result['coefficient_spearman']:.2f}")
        cols = st.columns(len(result["runs"]))
        for col, seed, run in zip(cols, result["seeds"], result["runs"]):
            col.image(overlay(shown[0], run.maps[0]), caption=f"seed {seed}", width="stretch")


def _occlude_yourself(url, backend, model, arch, x, shown):
    """A grey square of the student's choosing over the first image, and the model's answer: the
    explanation lesson's exercise (workbench.exercises) checks it."""
    box = None
    with st.expander("Occlude a square yourself"):
        if url.bind(st.toggle, "Hide a square of the first image", key="ex_occ_on"):
            h, w = x.shape[1:3]
            c = st.columns(3)
            size = url.bind(c[2].slider, "Side", 4, max(4, min(h, w)), max(4, min(h, w) // 4), key="ex_occ_size")
            top = url.bind(c[0].slider, "Top", 0, max(0, h - size), max(0, (h - size) // 2), key="ex_occ_row")
            left = url.bind(c[1].slider, "Left", 0, max(0, w - size), max(0, (w - size) // 2), key="ex_occ_col")
            box = (top, left, size)
            scale = shown[0].shape[0] / h  # the photo as shown may be larger than the model's input
            grey = np.array(shown[0], dtype=float, copy=True)
            r0, c0, side = int(top * scale), int(left * scale), int(np.ceil(size * scale))
            grey[r0:r0 + side, c0:c0 + side] = 0.5 * (grey.max() if grey.max() > 1 else 1)
            st.image(to_uint8(grey), caption="the first image with the square hidden (filled with 0 in the "
                                             "model's input units)", width=300)
    ui.exercises("explanations", backend=backend, model=model, image=x[0] if box else None, box=box,
                 class_names=getattr(arch, "class_names", None))


def _method_progress(job, seconds):
    """The grid's progress: the method the worker is on (one event per method)."""
    events = job.events
    if not events:
        return 0.0, f"starting ... ({seconds:.0f} s)"
    return events[-1]["fraction"], f"running {events[-1]['method']} ... ({seconds:.0f} s)"


def render():
    st.title("Explanations")
    st.markdown("Which pixels made the model decide? Ten methods from the course notes side by side, with what "
                "each one costs and how faithful it is. Every method is written once and runs in either backend.")
    explainers = ui.registry().explainers()
    url = UrlState("explanations", fields(explainers), PRESETS)
    backend, model, arch, label, sent = _choose_model(url)
    titles, photos = _choose_images(url)
    if not photos:
        st.info("Pick at least one photo.")
        return
    available = [m for m in TEN if m in explainers] + [m for m in explainers if m not in TEN]
    methods = url.bind(st.multiselect, "Methods", available, default=[m for m in DEFAULT_METHODS if m in explainers],
                             key="ex_methods")
    params, refused = {}, 0
    with st.expander("Method parameters", expanded=False):
        for name in methods:
            if explainers[name].params:
                st.markdown(f"**{name}**: {explainers[name].description}")
                params[name], bad = _param_widgets(url, explainers[name])
                refused += bad
    if refused:
        st.warning(f"{refused} method parameter(s) cannot be used as typed (see Method parameters); "
                   "fix them to explain.", icon=":material/tune:")
    x = shown = None
    with ui.guard("prepare the images for this model"):
        x, shown = model_inputs(arch, backend.name, photos, model)  # standardised as in training, if it was
    if x is None:
        return
    _occlude_yourself(url, backend, model, arch, x, shown)
    url.reports()
    config = (label, backend.name, tuple(titles), tuple(methods), repr(params))

    def source() -> dict:
        """The model and the first image as a job takes them."""
        return {"backend": backend.name, "images": x[:1], **sent()}

    if st.button("Explain", type="primary", key="ex_run", disabled=bool(refused) or LIVE in st.session_state):
        for key in ("ex_matrix", "ex_sanity", "ex_stab"):
            st.session_state.pop(key, None)
        names = getattr(arch, "class_names", None)
        with ui.guard("explain the images"):  # a model that cannot be sent says so here
            job = QueuedExplanation({**source(), "images": x, "methods": methods, "params": params, "steps": 10,
                                     "class_names": list(names) if names else None}, owner=ui.session_id(),
                                    label="explanations",
                                    on_done=lambda out: st.session_state.__setitem__(RESULT, (config, out["predictions"], out)))
            st.session_state[LIVE] = job.start()
    if LIVE in st.session_state:
        ui.follow_job(st.session_state[LIVE], _method_progress, LIVE)
    ui.job_failed(LIVE, "explain the images")
    stored = st.session_state.get(RESULT)
    if not stored or stored[0] != config:
        st.info("Choose the model, photos and methods, then press **Explain**.")
        return
    _, preds, result = stored
    # each section guards itself: one that fails says so in its place, and the others still show
    st.subheader("Predictions")
    with ui.guard("show the predictions"):
        st.dataframe(pd.DataFrame([{"image": t, **{f"top {k + 1}": f"{p['name']} ({p['probability']:.2f})"
                                                   for k, p in enumerate(top[:3])}}
                                   for t, top in zip(titles, preds)]), hide_index=True, width="stretch")
    st.subheader("Methods x images")
    with ui.guard("draw the methods x images grid"):
        _grid(result, titles, shown)
    st.subheader("Cost and faithfulness")
    with ui.guard("show the cost and faithfulness"):
        _scores(result)
    with st.expander("Inner steps"), ui.guard("show the inner steps"):
        _inner_steps(result, shown)
    with st.expander("Class x image matrix (Grad-CAM)"), ui.guard("show the class x image matrix"):
        _class_matrix(source, x, shown, preds)
    with st.expander("Sanity check: randomise the model"), ui.guard("show the sanity check"):
        _sanity(url, source, shown, result["targets"], result["explanations"])
    with st.expander("LIME's stability across seeds"), ui.guard("show LIME's stability"):
        _lime_stability(url, source, shown, result["targets"])

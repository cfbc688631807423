"""Home: what the workbench is, the path through the lessons, the course documents they reproduce,
the plugins and the devices."""

from __future__ import annotations

import importlib.metadata

import pandas as pd
import streamlit as st

from workbench import sources, ui
from workbench.urlstate import UrlState


def render() -> None:
    st.title("CNN Workbench")
    UrlState("home", {})  # nothing to set here: its link, and a notice for a link meant for a lesson
    st.markdown(
        "A workbench for learning how **convolutional neural networks** see. Every number the course "
        "notes work out on paper is computed here live, on real images and real models, in "
        "**TensorFlow/Keras** and **PyTorch** side by side, and everything runs offline."
    )

    st.subheader("The lessons, in order")
    st.markdown(
        "Start with a single kernel sliding over a photo, then stack layers and count what they cost, "
        "look at the networks that won ImageNet, train your own, and finally ask a trained network "
        "*why* it decided what it did."
    )
    for step, lesson in enumerate(l for l in ui.lessons() if l.order > 0):
        with st.container(border=True):
            cols = st.columns([5, 1], vertical_alignment="center")
            cols[0].markdown(f"**{step + 1}. {lesson.title}** · *{lesson.section}*  \n{lesson.description}")
            page = ui.lesson_page(lesson.name)
            if page is not None:
                cols[1].page_link(page, label="Open", icon=":material/arrow_forward:")

    _sources()
    _plugins()
    _devices()


def _sources() -> None:
    st.subheader("Sources")
    st.markdown("The workbench was made from five course documents. Each lesson reproduces, live, what "
                "they work out on paper: the same formulas, worked numbers, architectures and experiments.")
    titles = {lesson.name: lesson.title for lesson in ui.lessons()}
    for doc in sources.SOURCES.values():
        with st.container(border=True, key=f"source_{doc.key}"):
            st.markdown(f"**{doc.title}** · *{doc.kind}*  \n{doc.covers}")
            for lesson, what in doc.lessons:
                if lesson not in titles:  # a lesson whose plugin is not installed
                    continue
                cols = st.columns([2, 5], vertical_alignment="center")
                page = ui.lesson_page(lesson)
                if page is not None:
                    cols[0].page_link(page, label=titles[lesson], icon=":material/arrow_forward:")
                else:
                    cols[0].markdown(f"**{titles[lesson]}**")
                cols[1].markdown(what)


def _plugins() -> None:
    st.subheader("Installed plugins")
    registry = ui.registry()
    rows = [
        {
            "plugin": p.name,
            "version": p.version or "",
            "hooks": ", ".join(h.removeprefix("register_") for h in p.hooks),
            "status": "error" if p.error else "warning" if p.warnings else "ok",
            "error": p.error or "",
            "warnings": "; ".join(p.warnings),
        }
        for p in registry.plugins()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for p in registry.plugins():
        if p.error:
            what = "had an error (what it registered in that hook was skipped)" if p.hooks else "did not load and was skipped"
            st.warning(f"Plugin **{p.name}** {what}: {p.error}")
        for warning in p.warnings:
            st.warning(f"Plugin **{p.name}**: {warning}")
    counts = {kind: len(getattr(registry, kind)()) for kind in ("backends", "architectures", "explainers", "datasets", "lessons")}
    st.caption(" · ".join(f"{n} {kind}" for kind, n in counts.items())
               + f" · cnn-workbench {importlib.metadata.version('cnn-workbench')}")


def _devices() -> None:
    st.subheader("Where the computing happens")
    backends = sorted(ui.registry().backends())
    if not backends:
        st.info("No deep-learning backend is installed: the convolution lesson and the calculator still work. "
                "Install one with `pip install -e '.[torch]'` or `'.[tensorflow]'`.")
        return
    waiting = len(ui.backend_devices()) < len(backends)

    # Each backend imports its framework to answer (seconds): poll until all have, then stop polling.
    @st.fragment(run_every=1.0 if waiting else None)
    def devices():
        answers = ui.backend_devices()
        for col, name in zip(st.columns(len(backends)), backends):
            device = answers.get(name)
            if device is None:
                col.metric(name, "…", "checking", delta_color="off", delta_arrow="off", border=True)
            elif isinstance(device, Exception):
                col.error(f"{name} could not say which device it uses: {ui.friendly(device)}")
            else:
                kind = "GPU" if any(g in device.lower() for g in ("cuda", "gpu", "mps")) else "CPU"
                col.metric(name, kind, device, delta_color="off", delta_arrow="off", border=True)
        if waiting and len(answers) == len(backends):
            st.rerun(scope="app")

    devices()

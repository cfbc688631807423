"""Shared Streamlit helpers for the lesson pages: cached registry and devices, an error guard,
the image picker (photos from workbench.samples, or an upload) and plotly figures in one style.

No deep-learning framework is imported here; a backend is only touched when a page asks it.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from workbench import image_decoder, samples
from workbench.registry import get_registry

# -- cached registry objects --------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def registry():
    """The plugin registry, loaded once per server process."""
    return get_registry()


def lessons() -> list:
    """Registered lessons in navigation order (the home page first)."""
    return sorted(registry().lessons().values(), key=lambda lesson: (lesson.order, lesson.title))


@st.cache_resource(show_spinner=False)
def _device_probe() -> dict:
    """Ask every backend for its device in a background thread, once per server process.

    device() imports the framework (seconds each), so the home page must not wait for it:
    the dict fills in as answers arrive (a device string, or the exception it raised).
    """
    backends = dict(registry().backends())
    answers: dict = {}

    def probe():
        for name, backend in backends.items():
            try:
                device = backend.device()
                named = getattr(backend, "device_name", None)  # optional: a third-party backend may lack it
                answers[name] = f"{device} · {named()}" if named else device
            except Exception as exc:  # noqa: BLE001 - shown on the page as a clear message
                answers[name] = exc

    threading.Thread(target=probe, name="workbench-device-probe", daemon=True).start()
    return answers


def backend_devices() -> dict:
    """{backend name: device string or exception} for the backends that have answered so far."""
    return dict(_device_probe())


@st.cache_resource(show_spinner=False)
def job_queue():
    """The server's job queue (workbench.jobs.queue.server_queue), started with the server so that its
    workers are up (and, with WORKBENCH_WARM, their frameworks imported) before the first student."""
    from workbench.jobs.queue import server_queue

    return server_queue()


# The Training lesson's finished runs (workbench.runs.TrainedRun), oldest first: the explanation
# lesson offers their models.
TRAINED_RUNS = "training_runs"


def session_id() -> str:
    """This browser session's own id, the owner of its jobs (workbench.jobs)."""
    import uuid

    return st.session_state.setdefault("workbench_session", uuid.uuid4().hex)


def queue_status(job, seconds: float) -> str | None:
    """"queued, position N: ..." while a job (workbench.jobs.follow.QueuedJob) waits for a worker, else None."""
    position = getattr(job, "position", None)
    if position is not None:
        return f"queued, position {position}: waiting for a free worker ... ({seconds:.0f} s)"
    return None


def follow_job(job, describe: Callable[[object, float], tuple[float, str]], key: str) -> None:
    """Show a job's place in the queue, then its progress (``describe(job, seconds)`` -> (fraction,
    text)), until it ends; then drop it from ``st.session_state[key]`` and rerun the page, which
    shows what the job's ``on_done`` kept (and its buttons enabled again), or ``job_failed``'s
    message. Stop cancels a waiting job and asks a running one to end (a grid: before its next
    method). A rerun while it runs ends this script run only: the next one finds the job under
    ``key`` and follows it again."""
    import time

    st.button("Stop", key=f"{key}_stop", on_click=job.stop, disabled=job.stop_event.is_set())
    bar, t0 = st.progress(0.0, text="queued ..."), time.perf_counter()
    while job.running:
        seconds = time.perf_counter() - t0
        waiting = queue_status(job, seconds)
        fraction, text = (0.0, waiting) if waiting else describe(job, seconds)
        bar.progress(min(max(fraction, 0.0), 1.0), text=text)  # also where Streamlit ends a replaced run
        time.sleep(0.3)
    if st.session_state.get(key) is job:
        del st.session_state[key]
        if job.error is not None:
            st.session_state[f"{key}_failed"] = friendly(job.error)
    st.rerun()


def job_failed(key: str, what: str) -> None:
    """The message of the job ``follow_job(..., key)`` saw fail, once, as ``guard`` says it."""
    message = st.session_state.pop(f"{key}_failed", None)
    if message is not None:
        st.error(f"Could not {what}: {message}", icon=":material/error:")


def trained_runs() -> list:
    """This session's finished training runs (workbench.runs.TrainedRun), the list itself."""
    return st.session_state.setdefault(TRAINED_RUNS, [])


def lesson_page(name: str):
    """The st.Page the app registered for a lesson (for st.page_link), or None outside the app."""
    return st.session_state.get("workbench_pages", {}).get(name)


# -- exercises ----------------------------------------------------------------------------
def exercises(lesson: str, **work) -> None:
    """The lesson's registered exercises (workbench.exercises), each checked against ``work``:
    passed, or not yet and why."""
    from workbench.exercises import for_lesson

    found = for_lesson(registry(), lesson)
    if not found:
        return
    verdicts = [(e, e.judge(**work)) for e in found]
    done = sum(v.passed for _, v in verdicts)
    with st.expander(f"Exercises ({done} of {len(verdicts)} passed)", icon=":material/task_alt:"):
        for e, v in verdicts:
            with st.container(border=True, key=f"exercise_{e.name}"):
                st.markdown(f"**{e.title}**  \n{e.task}")
                # markdown, not st.info / st.success: a lesson's own notices stay the only boxes
                st.markdown(f":green[:material/check_circle: **Passed**:] {v.why}" if v.passed
                            else f":orange[:material/pending: **Not yet**:] {v.why}")


# -- errors -------------------------------------------------------------------------------
def friendly(exc: BaseException) -> str:
    """One sentence for a student: the exception's own message, without a traceback."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, ModuleNotFoundError):
        return f"a module it needs is not installed ({exc.name})"
    return str(exc) or type(exc).__name__


class guard(contextlib.ContextDecorator):
    """Turn any exception inside into a clear ``st.error`` (no traceback); the page goes on.

    Use as ``with guard("compute the output"):`` or as a decorator ``@guard("render the lesson")``.
    Streamlit's own stop/rerun signals are BaseExceptions and pass through untouched.
    """

    def __init__(self, what: str = "finish this step"):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not isinstance(exc, Exception):
            return False
        st.error(f"Could not {self.what}: {friendly(exc)}", icon=":material/error:")
        return True


def app_folder(path: str, where=st) -> str:
    """`folder:PATH` for a folder inside the server's data roots (workbench.folders); otherwise the
    refusal is shown where the path was typed and the page stops there (nothing below has data)."""
    from workbench import folders

    try:
        folders.confine(path)
    except (PermissionError, ValueError) as exc:
        where.error(friendly(exc), icon=":material/folder_off:")
        st.stop()
    return f"folder:{path}"


# -- images -------------------------------------------------------------------------------
def image_picker(key: str, default: str = "camera", max_side: int | None = 256, url=None) -> np.ndarray | None:
    """A sample photo (workbench.samples) or an upload, as a grey float image; None (after a
    clear message) if it fails. With ``url`` (a workbench.urlstate.UrlState) the photo is in the link."""
    cols = st.columns([2, 3])
    names = samples.names()
    selectbox = cols[0].selectbox if url is None else functools.partial(url.bind, cols[0].selectbox)
    name = selectbox("Image", names, index=names.index(default),
                     format_func=lambda n: samples.SAMPLES[n].description.capitalize(), key=f"{key}_sample")
    upload = cols[1].file_uploader("... or upload your own", type=None, key=f"{key}_upload")
    try:
        image = samples.to_grey(image_decoder.decode_upload(upload)) if upload else samples.grey(name)
    except ValueError as exc:
        st.error(str(exc), icon=":material/broken_image:")
        return None
    return samples.fit(image, max_side) if max_side else image


# -- figures ------------------------------------------------------------------------------
def heatmap(
    z: np.ndarray,
    title: str = "",
    colorscale: str = "gray",
    zmid: float | None = None,
    text: bool = False,
    highlight: tuple[int, int, int, int] | None = None,
    height: int | None = None,
    robust: bool = False,
) -> go.Figure:
    """An image or feature map as a plotly heatmap: rows downwards, square pixels.

    ``text`` writes each value in its cell (small matrices); ``highlight`` outlines a window
    (top, left, bottom, right) in cell coordinates; ``robust`` clips the colour range to the
    1st-99th percentile so a few extreme pixels (the padded border) do not wash out the rest.
    """
    z = np.asarray(z, dtype=float)
    zmin = zmax = None
    if robust and z.size:
        lo, hi = np.percentile(z, [1, 99])
        if zmid is not None:
            lo, hi = -max(abs(lo), abs(hi)), max(abs(lo), abs(hi))
        zmin, zmax = (lo, hi) if hi > lo else (None, None)
    shapes = []
    if highlight is not None:
        top, left, bottom, right = highlight
        shapes.append(dict(type="rect", x0=left - 0.5, x1=right - 0.5, y0=top - 0.5, y1=bottom - 0.5,
                           line=dict(color="#e4572e", width=3)))
    side = height or min(420, max(220, 40 * z.shape[0] + 80)) if text else (height or 380)
    # data and layout in one constructor: plotly validates once, where update_* calls validate again
    # (7x faster; the convolution lesson draws 20 of these per rerun)
    return go.Figure(
        go.Heatmap(
            z=z,
            colorscale=colorscale,
            zmid=zmid, zmin=zmin, zmax=zmax,
            text=np.vectorize(_cell)(z) if text else None,
            texttemplate="%{text}" if text else None,
            hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>",
            showscale=not text,
        ),
        layout=dict(yaxis=dict(autorange="reversed", scaleanchor="x", constrain="domain", showgrid=False),
                    xaxis=dict(constrain="domain", showgrid=False), shapes=shapes, title=title, height=side,
                    margin=dict(l=10, r=10, t=40 if title else 10, b=10)),
    )


def _cell(v: float) -> str:
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.2f}"


def show(fig: go.Figure, key: str | None = None) -> None:
    st.plotly_chart(fig, width="stretch", key=key)


def number(n: float) -> str:
    """138357544 -> '138,357,544' (the way Keras' summary prints it)."""
    return f"{int(n):,}"


def run_page(render: Callable[[], None], title: str) -> None:
    """Render one lesson; any error becomes one clear message instead of a traceback."""
    with guard(f"show the lesson '{title}'"):
        render()

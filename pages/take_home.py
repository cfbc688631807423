"""What a student takes home from a lesson, as sections the lessons call: the code of the current
architecture and settings (workbench.codegen), a trained model exported and checked
(workbench.export), and a model file brought back in (the explanation lesson)."""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

from workbench import export as E
from workbench import ui
from workbench.codegen import GENERATORS, Settings

FRAMEWORKS = {"keras": "Keras", "pytorch": "PyTorch"}
DESCRIBED = {"onnx": "ONNX (onnxruntime, any language)", "keras": ".keras (Keras)",
             "safetensors": "safetensors + architecture file (either backend of the workbench)"}


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def code_section(arch, settings: Settings | None = None, key: str = "code") -> None:
    """The Keras and the PyTorch file for ``arch`` and ``settings``, each with a download button."""
    with st.expander("Show the code: Keras and PyTorch, as written by hand"):
        if not arch.is_spec:
            st.info(f"{arch.name} is a pretrained model with no layer table to write out; pick a spec "
                    "architecture to see its code.")
            return
        st.caption("Each file runs as it is, on random stand-in images of the right shape: replace them with "
                   "your data. The model has the calculator's parameter count in both frameworks.")
        for tab, framework in zip(st.tabs(list(FRAMEWORKS.values())), FRAMEWORKS):
            with tab, ui.guard(f"write the {FRAMEWORKS[framework]} code"):
                code = GENERATORS[framework](arch, settings)
                st.code(code, language="python")
                st.download_button(f"Download the {FRAMEWORKS[framework]} code", code,
                                   f"{slug(arch.name)}_{framework}.py", "text/x-python",
                                   icon=":material/download:", key=f"{key}_{framework}_download")


def _payload(path: Path, fmt: str) -> tuple[str, bytes]:
    """(file name, bytes) to download: the file, or for safetensors a zip of it and its companions."""
    if fmt != "safetensors":
        return path.name, path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for companion in sorted(path.parent.iterdir()):
            z.write(companion, companion.name)
    return path.with_suffix(".zip").name, buffer.getvalue()


def export_section(backend, model, images, name: str, key: str = "export") -> None:
    """Export the trained model, check the file against it on ``images`` (pixels in [0, 1]) and offer it."""
    with st.expander("Export the trained model (ONNX, .keras, safetensors), checked"):
        formats = E.available_formats(backend, model)
        fmt = st.radio("Format", formats, format_func=DESCRIBED.get, horizontal=True, key=f"{key}_format")
        st.caption(f"The file takes {E.LAYOUT} {E.PIXELS} and gives class probabilities: the model's own "
                   "preprocessing and standardisation are folded in (for safetensors they are the files beside "
                   "the weights). It is read back and compared with the model on test images.")
        state_key = f"{key}_report"
        if st.button("Export and check", key=f"{key}_run", icon=":material/output:"):
            with st.spinner(f"Exporting to {fmt} and reading it back ..."), ui.guard(f"export the model to {fmt}"):
                with tempfile.TemporaryDirectory() as folder:
                    report = E.export(backend, model, fmt, Path(folder) / slug(name), images)
                    st.session_state[state_key] = (id(model), fmt, report, *_payload(Path(report.path), fmt))
        stored = st.session_state.get(state_key)
        if not stored or stored[:2] != (id(model), fmt):
            return
        _, _, report, filename, data = stored
        (st.success if report.faithful else st.warning)(
            f"Checked on {report.checked_images} test images with {', '.join(report.checked_with)}: the largest "
            f"difference in probabilities is {report.max_abs_diff:.1e}"
            + (f" (within {E.TOLERANCE:g})." if report.faithful else f", more than {E.TOLERANCE:g}."))
        st.json({**report.as_dict(), "path": filename}, expanded=False)
        st.download_button(f"Download {filename}", data, filename, "application/octet-stream",
                           icon=":material/download:", key=f"{key}_download")


def export_run(run, key: str = "export") -> None:
    """The export section for a finished training run (workbench.runs.TrainedRun), checked on the
    first test images of its dataset."""
    from workbench import lookup

    backend = lookup.backend(run.backend)
    images = None
    with ui.guard("take the test images to check the export on"):
        images = E.check_images(run.arch, 16, lookup.dataset(run.spec.dataset))
    if images is not None:
        export_section(backend, run.model, images, f"{run.arch.name}-{run.backend}", key=key)


def imported_model(backend_names: list[str], key: str = "import"):
    """A model file a student brings (.keras, or .safetensors with its architecture .json): (backend
    name, model, file name, its files as workbench.jobs.train.load_model takes them: how a job gets
    the model) once loaded, else None. Loaded safely: Keras' safe mode, safetensors (no pickles)."""
    files = st.file_uploader("A .keras file, or a .safetensors file with its architecture .json (and "
                             ".standardizer.npz, if it has one)", type=["keras", "safetensors", "json", "npz"],
                             accept_multiple_files=True, key=f"{key}_files")
    if not files:
        return None
    by_suffix = {Path(f.name).suffix.lower(): f for f in files}
    if ".keras" in by_suffix:
        # a backend that writes .keras files loads them back (Backend.export / load)
        backends = ui.registry().backends()
        wanted = [name for name in backend_names if "keras" in backends[name].export_formats()]
        if not wanted:
            st.error("No installed backend reads .keras files (the TensorFlow backend does).")
            return None
        backend_name, names = wanted[0], {".keras": "model.keras"}
    elif ".safetensors" in by_suffix and ".json" in by_suffix:
        backend_name = st.selectbox("Load it in", backend_names, key=f"{key}_backend")
        names = {".safetensors": "model.safetensors", ".json": "model.json", ".npz": "model.standardizer.npz"}
    else:
        st.info("Add the architecture .json that goes with the .safetensors weights.")
        return None
    signature = (backend_name, tuple((f.name, f.size) for f in files))
    cached = st.session_state.get(f"{key}_model")
    if cached is not None and cached[0] == signature:
        return cached[1]
    with ui.guard("load the model file"):
        backend = ui.registry().backends()[backend_name]
        with tempfile.TemporaryDirectory() as folder:
            for suffix, target in names.items():
                if suffix in by_suffix:
                    (Path(folder) / target).write_bytes(by_suffix[suffix].getvalue())
            model = backend.load(Path(folder) / names[".keras" if ".keras" in names else ".safetensors"])
        shown = (by_suffix.get(".keras") or by_suffix[".safetensors"]).name
        sent = {"weights": names[".keras" if ".keras" in names else ".safetensors"],
                "files": {target: by_suffix[suffix].getvalue() for suffix, target in names.items() if suffix in by_suffix}}
        st.session_state[f"{key}_model"] = (signature, (backend_name, model, shown, sent))
        return st.session_state[f"{key}_model"][1]
    return None


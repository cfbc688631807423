"""Lesson: the output-shape and parameter calculator, checked against the real models."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from workbench import layer_table as T
from workbench import shapes, spec, ui
from workbench.urlstate import Preset, UrlState, pack, unpack
from workbench_pages import take_home

DEFAULT = "mnist-cnn"  # seed 001's first ConvNet: 93,322 parameters
# The architecture is in the link: a registered one by name, an edited one packed (workbench.urlstate.pack).
FIELDS = {"arch": None}
PRESETS = (
    Preset("mnist-cnn", "The MNIST CNN (93,322)", {"arch": "mnist-cnn"}, "cnn-slides",
           "model.summary(): 26x26x32, 13x13x32, 11x11x64, 5x5x64, 3x3x64, then Dense 64 and 10; "
           "Total params: 93,322."),
    Preset("architecture-1", "Architecture 1", {"arch": "architecture-1"}, "cs671-report",
           "Table 3: 224x224x3 → 54x54x8 → 26x26x8 → 22x22x16 → 10x10x16, each (W − F + 2P)/S + 1."),
    Preset("architecture-2", "Architecture 2", {"arch": "architecture-2"}, "cs671-report",
           "Architecture 2: ... → 10x10x16 → 8x8x32 → 3x3x32, each (W − F + 2P)/S + 1."),
    Preset("architecture-3", "Architecture 3", {"arch": "architecture-3"}, "cs671-report",
           "Table 5: ... → 10x10x16 → 8x8x32 → 6x6x64 → 2x2x64, each (W − F + 2P)/S + 1."),
    Preset("cnn1", "cnn1 (~251k)", {"arch": "cnn1"}, "cnns-part-2", "cnn1 has ~251k weights."),
    Preset("cnn2", "cnn2 (~36k)", {"arch": "cnn2"}, "cnns-part-2", "cnn2 has less parameters (~36k) than cnn1."),
)


def render() -> None:
    st.title("Shape calculator")
    st.markdown(
        "Every layer changes the shape of what flows through the network. For a convolution or a pooling "
        "window the course notes' formula is **W_out = ⌊(W − F + 2P) / S⌋ + 1** (Keras' `same` padding "
        "keeps ⌈W / S⌉). A Conv2D with F×F kernels on C input channels has **F·F·C·filters + filters** "
        "parameters; a Dense layer **inputs·units + units**. Edit the table and watch every column follow."
    )
    url = UrlState("shape_calculator", FIELDS, PRESETS)
    state = st.session_state
    if "calc_arch" not in state:
        archs = ui.registry().architectures()
        state.calc_arch = archs[DEFAULT] if DEFAULT in archs else _fallback()
        state.calc_version = 0
    _from_link(url)
    _loaders()

    arch = state.calc_arch
    c = st.columns([2, 1, 1, 1, 1])
    name = c[0].text_input("Name", arch.name, key=f"calc_name_{state.calc_version}")
    # no upper bounds: any valid architecture file must load (a 16x16x512 feature-map input, say)
    h = c[1].number_input("Input height", 1, None, arch.input_shape[0], key=f"calc_h_{state.calc_version}")
    w = c[2].number_input("Input width", 1, None, arch.input_shape[1], key=f"calc_w_{state.calc_version}")
    ch = c[3].number_input("Channels", 1, None, arch.input_shape[2], key=f"calc_c_{state.calc_version}")
    classes = c[4].number_input("Classes", 1, None, arch.num_classes, key=f"calc_k_{state.calc_version}",
                                help="the units of the last Dense layer")
    st.caption("One row per layer. Sizes are written 3 or 3x5; a block's inner layers and rarer keys are JSON in 'more'. "
               "Add a row at the bottom, delete one by selecting it.")
    frame = st.data_editor(
        T.to_frame(arch), key=f"calc_table_{state.calc_version}", num_rows="dynamic", width="stretch",
        column_config={
            "type": st.column_config.SelectboxColumn("type", options=list(spec.LAYER_TYPES), required=True),
            "padding": st.column_config.TextColumn("padding", help="valid or same (ZeroPadding2D: 1 or [1, 2])"),
            "activation": st.column_config.SelectboxColumn("activation", options=list(spec.ACTIVATIONS)),
            "filters": st.column_config.NumberColumn("filters", min_value=1, step=1, format="%d"),
            "units": st.column_config.NumberColumn("units", min_value=1, step=1, format="%d"),
            "rate": st.column_config.NumberColumn("rate", min_value=0.0, max_value=0.99, step=0.05),
            "more": st.column_config.TextColumn("more", width="medium"),
        },
    )

    try:
        edited = T.from_frame(frame, name or "my-architecture", (h, w, ch), classes)
    except spec.SpecError as exc:
        st.error(_spec_message(exc), icon=":material/table_rows:")
        return
    synced = _sync_classes(edited, arch.num_classes)
    if synced is not None:  # the Classes box and the last Dense layer's units are one number
        _set(synced)
        st.rerun()
    try:
        table = shapes.compute(edited)
    except shapes.ShapeError as exc:
        row = T.table_row(exc.where)
        inside = f" (inside the block on row {row})" if "." in (exc.where or "") else ""
        st.error(f"Row {row or exc.row}{inside}: layer '{exc.name}' ({exc.layer_type}) is impossible: {exc.reason}.",
                 icon=":material/table_rows:")
        return

    url.put("arch", _link_value(edited), default=DEFAULT)
    _totals(table)
    url.reports()
    ui.exercises("shape_calculator", architecture=edited)
    results = _backends(edited, table)
    st.dataframe(_result_frame(table, results), hide_index=True, width="stretch",
                 height=min(36 * (len(table.rows) + 1) + 4, 640))
    d = st.columns(2)
    d[0].download_button("Download as JSON", spec.dumps_architecture(edited, "json"), f"{edited.name}.json",
                         "application/json", icon=":material/download:")
    d[1].download_button("Download as YAML", spec.dumps_architecture(edited, "yaml"), f"{edited.name}.yaml",
                         "application/yaml", icon=":material/download:")
    take_home.code_section(edited, key="calc_code")  # the training settings' defaults


def _from_link(url: UrlState) -> None:
    """A link's architecture (a registered name or a packed file) replaces the table, once."""
    raw = url.take("arch")
    archs = ui.registry().architectures()
    if raw is None:
        if url.opened and DEFAULT in archs and st.session_state.calc_arch is not archs[DEFAULT]:
            _set(archs[DEFAULT])  # a link without an architecture: the default one
        return
    try:
        if raw in archs and archs[raw].is_spec:
            _set(archs[raw])
        else:
            _set(spec.loads_architecture(unpack(raw), ".json"))
    except (ValueError, spec.SpecError) as exc:
        url.invalid("arch", raw, f"not a registered architecture or a readable file: {exc}")


def _link_value(arch: spec.Architecture) -> str | None:
    """The architecture as its link writes it: a registered one's name (the table keeps no description
    or source, so those are not compared), else packed."""
    archs = ui.registry().architectures()
    bare = lambda a: {k: v for k, v in a.to_dict().items() if k not in ("description", "source")}  # noqa: E731
    if arch.name in archs and archs[arch.name].is_spec and bare(archs[arch.name]) == bare(arch):
        return arch.name
    return pack(spec.dumps_architecture(arch, "json"))


def _fallback() -> spec.Architecture:
    """Seed 001's MNIST CNN, if the architectures plugin is missing."""
    conv = {"type": "Conv2D", "kernel_size": 3, "activation": "relu"}
    return spec.parse_architecture({
        "name": DEFAULT, "input_shape": [28, 28, 1], "num_classes": 10,
        "layers": [{**conv, "filters": 32}, {"type": "MaxPooling2D"}, {**conv, "filters": 64}, {"type": "MaxPooling2D"},
                   {**conv, "filters": 64}, {"type": "Flatten"}, {"type": "Dense", "units": 64, "activation": "relu"},
                   {"type": "Dense", "units": 10, "activation": "softmax"}],
    })


def _sync_classes(edited: spec.Architecture, shown: int) -> spec.Architecture | None:
    """The architecture with the Classes box and the last Dense layer agreeing, or None if they do.
    A changed box resizes the layer; a layer edited in the table changes the box."""
    dense = [layer for layer in edited.layers if isinstance(layer, spec.Dense)]
    units = dense[-1].units if dense else edited.num_classes
    if units == edited.num_classes:
        return None
    if edited.num_classes != shown:
        return edited.with_classes(edited.num_classes)
    return dataclasses.replace(edited, num_classes=units)


def _set(arch: spec.Architecture) -> None:
    st.session_state.calc_arch = arch
    st.session_state.calc_version += 1  # a fresh editor: the old one's edits belong to the old table


def _loaders() -> None:
    archs = ui.registry().architectures()
    spec_archs = sorted(n for n, a in archs.items() if a.is_spec)
    left, right = st.columns(2)
    with left:
        c = st.columns([3, 1], vertical_alignment="bottom")
        choice = c[0].selectbox("Load a registered architecture", spec_archs, key="calc_pick",
                                index=spec_archs.index(DEFAULT) if DEFAULT in spec_archs else 0)
        if c[1].button("Load", key="calc_load", disabled=not spec_archs):
            _set(archs[choice])
        native = sorted(set(archs) - set(spec_archs))
        if native:
            st.caption(f"Native zoo models without a layer spec ({', '.join(native)}) are in the gallery.")
    with right:
        upload = st.file_uploader("... or upload an architecture file", type=["json", "yaml", "yml"], key="calc_upload")
        state = st.session_state
        if upload is not None and state.get("calc_uploaded") != upload.file_id:
            state.calc_uploaded, state.calc_upload_error = upload.file_id, None
            try:
                # bounded before anything is parsed or built (workbench.model.limits): one student's
                # hostile file costs milliseconds, not the server
                _set(spec.loads_architecture(upload.getvalue(), "." + upload.name.rsplit(".", 1)[-1]))
            except spec.SpecError as exc:
                state.calc_upload_error = f"{upload.name}: {_spec_message(exc)}"
        if upload is not None and state.get("calc_upload_error"):  # stays while that file is in the box
            st.error(state.calc_upload_error, icon=":material/description:")


def _spec_message(exc: spec.SpecError) -> str:
    """'layers[2], key kernel_size: ...' -> 'Row 3, column 'kernel_size': ...' (rows as the table shows them)."""
    row = T.table_row(exc.where)
    at = f"Row {row}" if row else exc.where
    inner = exc.where.split("]", 1)[1].lstrip(".") if row and "]" in exc.where else ""
    return f"{at}{f' ({inner})' if inner else ''}{f', column {exc.key!r}' if exc.key else ''}: {exc.reason}"


def _totals(table: shapes.ShapeTable) -> None:
    m = st.columns(5)
    m[0].metric("Total parameters", ui.number(table.total_params))
    m[1].metric("Trainable", ui.number(table.trainable_params))
    m[2].metric("Non-trainable", ui.number(table.non_trainable_params))
    m[3].metric("Multiply-adds", _si(table.total_macs))
    m[4].metric("Output", " x ".join(map(str, table.output_shape)))


def _si(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(int(n))


def _result_frame(table: shapes.ShapeTable, backends: dict | None) -> pd.DataFrame:
    rows = []
    for r in table.rows:
        rf = r.receptive_field
        row = {
            "row": r.row, "layer": "  " * r.depth + ("↳ " if r.depth else "") + r.name, "type": r.type,
            "output shape": str(tuple(r.output_shape)), "formula": r.formula, "params": r.params,
            "trainable": r.trainable, "non-trainable": r.non_trainable,
            "receptive field": f"{rf.size[0]}x{rf.size[1]} (jump {rf.jump[0]})" if rf else "",
            "MACs": r.macs, "memory": _bytes(r.memory_bytes),
        }
        if backends:
            agree = True
            for b, info in backends.items():
                got = info.get(r.name)
                row[f"{b} shape"] = str(tuple(got[0])) if got else "–"
                row[f"{b} params"] = got[1] if got else None
                agree &= bool(got) and tuple(got[0]) == tuple(r.output_shape) and got[1] == r.params
            row["match"] = "✓" if agree else "✗"
        rows.append(row)
    return pd.DataFrame(rows)


def _bytes(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _backends(arch: spec.Architecture, table: shapes.ShapeTable) -> dict | None:
    """Build the model in every installed backend (on request) and return their per-layer numbers."""
    backends = ui.registry().backends()
    if not backends:
        st.info("No backend is installed, so the calculator cannot be checked against a real model here.")
        return None
    key = spec.dumps_architecture(arch)
    if st.button(f"Build it in {' and '.join(sorted(backends))} and compare", icon=":material/construction:",
                 key="calc_build"):
        results = {}
        for name in sorted(backends):
            with st.spinner(f"Building {arch.name} in {name} ..."), ui.guard(f"build {arch.name} in {name}"):
                backend = backends[name]
                model = backend.build(arch)
                results[name] = {i.name: (tuple(i.output_shape), i.params) for i in backend.summary(model)}
                del model
        st.session_state.calc_backends = {key: results}  # only the latest architecture's, to keep memory small
    results = st.session_state.get("calc_backends", {}).get(key)
    for name, info in (results or {}).items():
        total = sum(p for _, p in info.values())
        if total == table.total_params:
            st.success(f"**{name}** built it: {ui.number(total)} parameters, the same as the calculator.")
        else:
            st.warning(f"**{name}** built it: {ui.number(total)} parameters; the calculator says "
                       f"{ui.number(table.total_params)}.")
    return results

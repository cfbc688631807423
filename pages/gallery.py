"""Lesson: the architecture gallery, and the ImageNet history table of the lecture slides "Convolutional Neural Networks (CNN)"."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from workbench import shapes, sources, ui
from workbench import spec as S
from workbench.urlstate import Preset, UrlState

# The ImageNet history: the summary table of the lecture slides "Convolutional Neural Networks (CNN)" as
# printed (None where the slides leave a cell empty), then the landmarks the workbench registers, each from
# its paper: top-5 error on ImageNet where the paper gives one (None where it reports top-1 only). A
# landmark's parameters are not typed here: they are its registered architecture's, computed by the
# calculator. The last column is the workbench model of each row.
LECTURE = "the lecture's summary table"
HISTORY = pd.DataFrame(
    [
        (1998, "LeNet (8)", "Yann LeCun et al", None, None, LECTURE, 60e3, "lenet-5"),
        (2012, "AlexNet (7)", "Alex Krizhevsky, Geoffrey Hinton, Ilya Sutskever", "1st", 15.3, LECTURE, 60e6, "alexnet"),
        (2013, "ZFNet", "Matthew Zeiler and Rob Fergus", "1st", 14.8, LECTURE, None, None),
        (2014, "GoogLeNet (19)", "Google", "1st", 6.67, LECTURE, 4e6, "googlenet"),
        (2014, "VGG Net (16)", "Simonyan, Zisserman", "2nd", 7.3, LECTURE, 138e6, "vgg16"),
        (2015, "ResNet (152)", "Kaiming He", "1st", 3.6, LECTURE, None, None),
        (2015, "ResNet-18", "Kaiming He et al.", None, None, "He et al. 2015 (top-1 only)", None, "resnet18"),
        (2015, "ResNet-50", "Kaiming He et al.", None, 6.71, "He et al. 2015, table 3 (10 crops)", None, "resnet50"),
        (2017, "Xception", "François Chollet", None, 5.5, "Chollet 2017, table 1 (top-5 accuracy 0.945)", None,
         "xception"),
        (2017, "MobileNet", "Andrew G. Howard et al.", None, None, "Howard et al. 2017 (top-1 only: 70.6%)", None,
         "mobilenet"),
        (2017, "DenseNet-121", "Gao Huang, Zhuang Liu, Laurens van der Maaten, Kilian Q. Weinberger", None, 7.71,
         "Huang et al. 2017, table 3 (single crop)", None, "densenet121"),
        (2018, "MobileNetV2", "Mark Sandler et al.", None, None, "Sandler et al. 2018 (top-1 only: 72.0%)", None,
         "mobilenet-v2"),
        (2019, "EfficientNet-B0", "Mingxing Tan, Quoc V. Le", None, 6.7, "Tan & Le 2019, table 2 (top-5 accuracy 93.3%)",
         None, "efficientnet-b0"),
    ],
    columns=["year", "network", "developed by", "place", "top-5 error (%)", "error from", "parameters",
             "workbench model"],
)

FIELDS = {"arch": "gallery_pick"}
PRESETS = (
    Preset("lenet-5", "LeNet-5 (60 thousand)", {"arch": "lenet-5"}, "cnn-slides",
           "the summary table: LeNet (1998), 60 thousand parameters."),
    Preset("vgg16", "VGG16 (138 million)", {"arch": "vgg16"}, "cnn-slides",
           "the summary table: VGG Net (16), 2014, 138 million parameters, top-5 error 7.3%."),
    Preset("architecture-1", "Architecture 1", {"arch": "architecture-1"}, "cs671-report",
           "Table 3: 224x224x3 → 54x54x8 → 26x26x8 → 22x22x16 → 10x10x16."),
    Preset("architecture-2", "Architecture 2", {"arch": "architecture-2"}, "cs671-report",
           "Architecture 2: ... → 10x10x16 → 8x8x32 → 3x3x32, the report's best model."),
    Preset("architecture-3", "Architecture 3", {"arch": "architecture-3"}, "cs671-report",
           "Table 5: ... → 10x10x16 → 8x8x32 → 6x6x64 → 2x2x64."),
    Preset("naive-cnn-cifar10", "The naive CIFAR-10 CNN (374,986)", {"arch": "naive-cnn-cifar10"}, "cs577-report",
           "Fig. 2's model summary: Total params 374,986, Trainable params 374,858, Non-trainable params 128."),
)

# a colour per kind of layer (each layer type says its kind: workbench.model.layers' ``family``)
COLOURS = {
    "convolution": "#4c78a8", "depthwise convolution": "#72b7b2", "pooling": "#e45756",
    "global pooling": "#ff9da6", "dense": "#54a24b", "reshape": "#bab0ac", "regularisation": "#d3d3d3",
    "normalisation": "#eeca3b", "activation": "#b279a2", "padding": "#9d755d", "attention": "#e377c2", "block": "#f58518",
}


def family(layer_type: str) -> str:
    found = S.LAYER_TYPES.get(layer_type)
    return found.family if found is not None else "other"


@st.cache_data(show_spinner=False)
def _table(name: str) -> shapes.ShapeTable:
    return shapes.compute(ui.registry().architectures()[name])


def render() -> None:
    st.title("Architecture gallery")
    st.markdown("The networks of the course notes, from LeNet's digits to the ImageNet winners, each built "
                "from the same layer vocabulary you can edit in the shape calculator.")
    url = UrlState("gallery", FIELDS, PRESETS)
    archs = ui.registry().architectures()
    if not archs:
        st.warning("No architecture is registered: install the architectures plugin (it ships with cnn-workbench).")
    else:
        with ui.guard("show the architectures"):
            _overview(archs)
            _one(archs, url)
    with ui.guard("show the history table"):
        _history(archs)


def _params(name: str, arch) -> int | None:
    return _table(name).total_params if arch.is_spec else None


def _overview(archs) -> None:
    rows = []
    for name in sorted(archs):
        a = archs[name]
        with ui.guard(f"compute {name}'s shapes"):
            rows.append({
                "architecture": name, "input": " x ".join(map(str, a.input_shape)), "classes": a.num_classes,
                "parameters": _params(name, a), "kind": "spec" if a.is_spec else "native (" + ", ".join(a.native) + ")",
                "description": a.description.split(". ")[0].split(": ")[0], "source": sources.cite(a.source),
            })
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"parameters": st.column_config.NumberColumn(format="localized")})


def _one(archs, url: UrlState) -> None:
    names = sorted(archs)
    name = url.bind(st.selectbox, "Look closer at", names, index=names.index("vgg16") if "vgg16" in names else 0,
                    key="gallery_pick")
    arch = archs[name]
    st.subheader(name)
    st.markdown(arch.description or "*(no description)*")
    if arch.source:
        st.caption(f"Source: {sources.cite(arch.source)}")
    if not arch.is_spec:
        _native(arch)
        return
    table = _table(name)
    st.metric("Parameters", ui.number(table.total_params), help="computed by workbench.shapes from the spec")
    url.reports()
    ui.show(diagram(table), key="gallery_diagram")
    st.dataframe(
        pd.DataFrame([{"layer": "  " * r.depth + r.name, "type": r.type, "output shape": str(tuple(r.output_shape)),
                       "params": r.params} for r in table.rows]),
        hide_index=True, width="stretch", column_config={"params": st.column_config.NumberColumn(format="localized")},
    )


def _native(arch) -> None:
    """A zoo model without a spec: only a backend can say what is inside."""
    backends = {n: b for n, b in ui.registry().backends().items() if n in arch.native}
    st.info(f"{arch.name} is a native model ({', '.join(arch.native) or 'no backend'}); "
            "its layer table comes from building it in a backend.")
    for name, backend in backends.items():
        if st.button(f"Build it in {name}", key=f"gallery_build_{name}"):
            with st.spinner(f"Building {arch.name} in {name} ..."), ui.guard(f"build {arch.name} in {name}"):
                info = backend.summary(backend.build(arch))
                st.metric("Parameters", ui.number(sum(i.params for i in info)))
                st.dataframe(pd.DataFrame([{"layer": i.name, "type": i.type, "output shape": str(i.output_shape),
                                            "params": i.params} for i in info]), hide_index=True, width="stretch")


def diagram(table: shapes.ShapeTable) -> go.Figure:
    """Top-level layers left to right; a box's height grows with its feature map, its label gives the shape."""
    rows = [r for r in table.rows if r.depth == 0]
    heights = [math.sqrt(r.output_shape[0]) if len(r.output_shape) == 3 else 1.0 for r in rows]
    fig = go.Figure(go.Bar(
        x=list(range(len(rows))), y=[2 * h for h in heights], base=[-h for h in heights],
        marker_color=[COLOURS.get(family(r.type), "#999") for r in rows], width=0.8,
        text=["x".join(map(str, r.output_shape)) for r in rows], textposition="inside", textangle=-90,
        customdata=[[r.name, r.type, r.params] for r in rows],
        hovertemplate="%{customdata[0]} (%{customdata[1]})<br>output %{text}<br>%{customdata[2]:,} params<extra></extra>",
        showlegend=False,
    ))
    for kind in dict.fromkeys(family(r.type) for r in rows):  # a legend entry per kind of layer
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=kind,
                                 marker=dict(size=12, symbol="square", color=COLOURS.get(kind, "#999"))))
    fig.update_layout(height=320, showlegend=True, bargap=0.1, margin=dict(l=10, r=10, t=30, b=10),
                      title=f"{table.architecture}: input {'x'.join(map(str, table.input_shape))} → "
                            f"output {'x'.join(map(str, table.output_shape))}")
    fig.update_xaxes(tickvals=list(range(len(rows))), ticktext=[r.name for r in rows], tickangle=-60)
    fig.update_yaxes(visible=False)
    return fig


def _history(archs) -> None:
    st.header("ImageNet, year by year")
    table = HISTORY.copy()
    ours = [m if isinstance(m, str) and m in archs and archs[m].is_spec else None for m in HISTORY["workbench model"]]
    table["workbench model"] = ours
    table["its parameters"] = [_table(m).total_params if m else None for m in ours]
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "parameters": st.column_config.NumberColumn(format="compact"),
        "its parameters": st.column_config.NumberColumn(format="localized"),
    })
    st.caption("The first six rows are the summary table of the lecture slides *Convolutional Neural Networks "
               "(CNN)*, as printed; the slides round parameter counts. The rows after them are the landmark "
               "models of this gallery, their errors from their papers (single models on the validation set, "
               "while the slides' GoogLeNet and ResNet numbers are the competition's ensembles). The last two "
               "columns give the exact count of this workbench's version (its AlexNet is the cats-vs-dogs "
               "variant of the master's project *Applying Deep Learning Techniques and Understand the CNN with "
               "Grad-CAM Visualization*, so it has fewer; its GoogLeNet is torchvision's, with batch "
               "normalisation and the 1000-way classifier).")
    # the slides' round number where they give one, else the registered architecture's own count
    table["plotted parameters"] = table["parameters"].fillna(table["its parameters"])
    known = table.dropna(subset=["top-5 error (%)", "plotted parameters"])
    fig = go.Figure(go.Scatter(
        x=known["plotted parameters"], y=known["top-5 error (%)"], mode="markers+text",
        text=[f"{n} ({y})" for n, y in zip(known["network"], known["year"])], textposition="bottom center",
        marker=dict(size=14, color=known["year"], colorscale="Viridis", showscale=True,
                    colorbar=dict(title="year", dtick=1)),
    ))
    fig.update_xaxes(type="log", title="parameters (log scale)", range=[6.2, 8.6])
    fig.update_yaxes(title="top-5 error on ImageNet (%)", rangemode="tozero")
    fig.update_layout(height=420, title="More parameters did not mean fewer errors: GoogLeNet beat VGG with 4 M")
    ui.show(fig, key="gallery_history")
    missing = table.loc[~table.index.isin(known.index), "network"]
    st.caption(f"Not plotted (no top-5 error or parameter count to plot): {', '.join(missing)}.")

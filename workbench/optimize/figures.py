"""The lesson's plotly figures: the surface with log-spaced contours and every path animated
together (frames, play / pause, a step slider), loss per step, and the learning-rate sweep."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from workbench.optimize.surfaces import Surface, contour_levels
from workbench.training import OPTIMIZERS

PALETTE = ["#1f77b4", "#e4572e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f",
           "#ff7f0e"]
COLOURS = dict(zip(OPTIMIZERS, PALETTE))
MAX_FRAMES = 60
MAX_POINTS = 150


def _thin(points: np.ndarray, n: int = MAX_POINTS) -> np.ndarray:
    if len(points) <= n:
        return points
    return points[np.unique(np.linspace(0, len(points) - 1, n).round().astype(int))]


def surface_figure(surf: Surface, paths: dict[str, np.ndarray], start=None, labels: dict[str, str] | None = None,
                   dashes: dict[str, str] | None = None, height: int = 560, clickable: bool = True) -> go.Figure:
    """Contours (log-spaced levels) and each path; the paths drawn step by step in frames."""
    xs, ys, z = surf.grid(140)
    levels = contour_levels(z, 26)
    # contour on the log of the (shifted) values: plotly spaces levels evenly, the log makes them geometric
    shift = 0.0 if z.min() > 0 else -z.min() + 1e-3 * (z.max() - z.min())
    fig = go.Figure(go.Contour(x=xs, y=ys, z=np.log10(z + shift), colorscale="Viridis", showscale=False,
                               contours=dict(start=np.log10(levels[0] + shift), end=np.log10(levels[-1] + shift),
                                             size=np.diff(np.log10(levels + shift)).mean()),
                               opacity=0.75, hoverinfo="skip", name="f"))
    if clickable:  # Streamlit reports clicks on scatter points, not on contours: a faint grid to click
        gx, gy = np.meshgrid(np.linspace(*surf.box[:2], 31), np.linspace(*surf.box[2:], 31))
        fig.add_trace(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", marker=dict(size=9, opacity=0.01,
                                 color="white"), hovertemplate="start here: (%{x:.2f}, %{y:.2f})<extra></extra>",
                                 showlegend=False, name="click to start here"))
    if surf.minimum is not None:
        fig.add_trace(go.Scatter(x=[surf.minimum[0]], y=[surf.minimum[1]], mode="markers", name="minimum",
                                 marker=dict(symbol="star", size=16, color="gold", line=dict(color="black", width=1))))
    if start is not None:
        fig.add_trace(go.Scatter(x=[start[0]], y=[start[1]], mode="markers", name="start",
                                 marker=dict(symbol="x", size=11, color="white", line=dict(color="black", width=1))))
    first = len(fig.data)
    steps = max((len(p) for p in paths.values()), default=1) - 1
    for name, p in paths.items():
        label, colour = (labels or {}).get(name, name), COLOURS.get(name.split(" ")[0], None)
        thin = _thin(np.asarray(p))
        fig.add_trace(go.Scatter(x=thin[:, 0], y=thin[:, 1], mode="lines", name=label, legendgroup=label,
                                 line=dict(color=colour, width=2, dash=(dashes or {}).get(name, "solid"))))
        fig.add_trace(go.Scatter(x=[p[-1, 0]], y=[p[-1, 1]], mode="markers", legendgroup=label, showlegend=False,
                                 marker=dict(color=colour, size=9, line=dict(color="white", width=1)),
                                 hovertemplate=f"{label}: (%{{x:.4g}}, %{{y:.4g}})<extra></extra>"))
    marks = np.unique(np.linspace(0, steps, min(MAX_FRAMES, steps + 1)).round().astype(int))
    frames = []
    for k in marks:
        data = []
        for p in paths.values():
            upto = _thin(np.asarray(p)[:k + 1])
            at = np.asarray(p)[min(k, len(p) - 1)]
            data += [go.Scatter(x=upto[:, 0], y=upto[:, 1]), go.Scatter(x=[at[0]], y=[at[1]])]
        frames.append(go.Frame(data=data, name=str(k), traces=list(range(first, first + 2 * len(paths)))))
    fig.frames = frames
    play = dict(frame=dict(duration=60, redraw=False), transition=dict(duration=0), fromcurrent=False, mode="immediate")
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.12),
        xaxis=dict(range=list(surf.box[:2]), title="x"), yaxis=dict(range=list(surf.box[2:]), title="y"),
        clickmode="event+select", title=f"f(x, y) = {surf.formula.text}",
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=1.08, showactive=False, buttons=[
            dict(label="▶ Play", method="animate", args=[None, play]),
            dict(label="❚❚ Pause", method="animate",
                 args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=len(frames) - 1, x=0.12, len=0.88, y=1.1, currentvalue=dict(prefix="step "),
                      steps=[dict(label=f.name, method="animate",
                                  args=[[f.name], dict(mode="immediate", frame=dict(duration=0, redraw=False))])
                             for f in frames])])
    return fig


def loss_figure(losses: dict[str, np.ndarray], title: str = "loss per step", labels=None, dashes=None,
                height: int = 360) -> go.Figure:
    fig = go.Figure()
    for name, loss in losses.items():
        loss = np.asarray(loss, float)
        positive = loss > 0
        fig.add_trace(go.Scatter(x=np.arange(len(loss))[positive].tolist(), y=loss[positive].tolist(), mode="lines",
                                 name=(labels or {}).get(name, name),
                                 line=dict(color=COLOURS.get(name.split(" ")[0]), dash=(dashes or {}).get(name, "solid"))))
    fig.update_yaxes(type="log", title="loss")
    fig.update_xaxes(title="step")
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def sweep_figure(grid, results: dict[str, dict[str, list[float]]]) -> go.Figure:
    """Final loss against the learning rate, one line per optimizer, one dash per backend."""
    fig = go.Figure()
    for i, (backend, per_opt) in enumerate(results.items()):
        for name, losses in per_opt.items():
            y = [v if np.isfinite(v) and v > 0 else None for v in losses]
            fig.add_trace(go.Scatter(x=list(grid), y=y, mode="lines+markers", name=f"{name} ({backend})",
                                     line=dict(color=COLOURS.get(name), dash=["solid", "dash"][i % 2])))
    fig.update_xaxes(type="log", title="learning rate")
    fig.update_yaxes(type="log", title="final loss (missing: diverged)")
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10))
    return fig

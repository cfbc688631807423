"""Page behaviour the mutation audit found unguarded (issue 17, mutation 7): a click on an
OFF-diagonal cell of the training lesson's confusion matrix (true and predicted differ, so a swap
shows) selects that (true, predicted) pair and shows exactly its test images; the per-class
accuracy table is the matrix's diagonal over its row sums."""

import json

import numpy as np
import streamlit

from conftest import no_errors
from workbench import lookup


def click(at, key: str, points: list[dict]):
    """What the browser sends when a plotly point is clicked: the chart's selection as its widget value
    (a JSON string, as Streamlit's frontend sends it). AppTest has no setter for a chart's selection."""
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id)
    tree = at._tree
    plain = tree.get_widget_states

    def with_click():
        states = plain()
        state = states.widgets.add()
        state.id = chart.proto.id
        state.string_value = json.dumps({"selection": {"points": points, "point_indices": [p["point_index"] for p in points],
                                                       "box": [], "lasso": []}})
        return states
    tree.get_widget_states = with_click
    return at.run()


def tiles(grid: np.ndarray, n: int, cols: int, h: int, w: int) -> list[np.ndarray]:
    """The n images of a grid of `cols` columns, 1 px apart, enlarged by a whole factor (nearest)."""
    scale = grid.shape[1] // (cols * (w + 1) - 1)
    small = grid[::scale, ::scale]
    return [small[r * (h + 1):r * (h + 1) + h, k * (w + 1):k * (w + 1) + w] for r, k in (divmod(i, cols) for i in range(n))]


def test_an_off_diagonal_click_shows_that_pairs_test_images(lesson_app, monkeypatch):
    shown = []
    real_image = streamlit.image
    monkeypatch.setattr(streamlit, "image", lambda image, *a, **k: (shown.append((np.asarray(image), k.get("caption"))),
                                                                     real_image(image, *a, **k))[1])
    at = lesson_app("training")
    at.selectbox(key="tr_backend").set_value("pytorch").run()
    at.number_input(key="tr_limit").set_value(300).run()
    at.number_input(key="tr_epochs").set_value(1).run()
    at.button(key="tr_train").click().run()
    assert no_errors(at) == []
    (run,) = at.session_state["training_runs"]
    raw, truth = lookup.dataset(run.dataset_name).load("test")
    pred = np.asarray(run.test_pred)
    names = [str(n) for n in lookup.dataset(run.dataset_name).class_names]
    k = len(names)
    cm = np.zeros((k, k), int)
    np.add.at(cm, (truth, pred), 1)
    heat = next(t for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"] if t.get("type") == "heatmap")
    np.testing.assert_array_equal(heat["z"], cm)  # rows are the true class, columns the predicted

    # the per-class accuracy table: diagonal / row sums, and the row sums as the image counts
    table = next(d.value for d in at.dataframe if "accuracy" in d.value.columns)
    assert table["class"].tolist() == names and table["test images"].tolist() == cm.sum(1).tolist()
    np.testing.assert_allclose(table["accuracy"], np.round(np.diag(cm) / cm.sum(1), 3))

    # an off-diagonal cell whose mirror holds another count: a swap of true and predicted shows
    cells = [(int(cm[t, p]), t, p) for t in range(k) for p in range(k) if t != p and cm[t, p] != cm[p, t] and cm[t, p]]
    assert cells, f"an untrained model should confuse some classes: {cm}"
    count, t, p = max(cells)
    shown.clear()
    at = click(at, "tr_confusion", [{"curve_number": 1, "point_number": t * k + p, "point_index": t * k + p,
                                     "x": names[p], "y": names[t]}])
    assert no_errors(at) == []
    assert at.selectbox(key="tr_true").value == names[t] and at.selectbox(key="tr_pred").value == names[p]
    caption = f"{count} test images of class {names[t]} predicted as {names[p]} (first 24)"
    (grid,) = [image for image, cap in shown if cap == caption]
    expected = np.flatnonzero((truth == t) & (pred == p))[:24]
    h, w = raw.shape[1:3]
    for tile, index in zip(tiles(grid, len(expected), min(12, count), h, w), expected, strict=True):
        np.testing.assert_allclose(tile.reshape(h, w, -1), np.clip(raw[index], 0, 1), atol=1e-6)

"""The training lesson in Streamlit's AppTest: a short run completes and shows learning curves,
a confusion matrix whose cells lead to test images, and the session's runs; Stop ends a run after
the current batch and keeps it, a failed run is reported and not kept, EfficientNet fine-tunes."""

import json

import numpy as np
import pytest

from conftest import no_errors


def charts(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.fixture
def at(lesson_app):
    return lesson_app("training")


def test_renders_offline_with_samples(at):
    assert no_errors(at) == []
    assert at.title[0].value == "Training a CNN"
    assert at.selectbox(key="tr_dataset").value == "mnist-5k" and at.selectbox(key="tr_arch").value == "mnist-cnn"
    assert len(at.get("image")) >= 1  # the sample grid


def test_a_short_run_shows_curves_and_confusion_matrix(at):
    at.number_input(key="tr_limit").set_value(600).run()
    at.number_input(key="tr_epochs").set_value(2).run()
    at.button(key="tr_train").click().run()
    assert no_errors(at) == []
    assert any(s.value.startswith("3. Results of run 1") for s in at.subheader)
    specs = charts(at)
    traces = [t for spec in specs for t in spec["data"]]
    curves = [t for t in traces if t.get("type") == "scatter" and "name" in t]
    assert {t["name"] for t in curves} >= {"run 1: tensorflow adam lr=0.001 train",
                                           "run 1: tensorflow adam lr=0.001 val"}
    assert all(len(t["x"]) == 2 for t in curves)  # two epochs
    heat = next(t for t in traces if t.get("type") == "heatmap")
    cm = heat["z"]
    assert len(cm) == 10 and sum(map(sum, cm)) == 500  # the mnist-5k test split
    accuracy = sum(cm[i][i] for i in range(10)) / 500
    assert at.metric[0].value == f"{accuracy:.1%}"
    # the selectbox fallback of a cell click: the images of one true/predicted pair
    at.selectbox(key="tr_true").set_value("3").run()
    at.selectbox(key="tr_pred").set_value("3").run()
    assert no_errors(at) == []
    shown = [c for c in at.get("image")]
    assert len(shown) >= 2
    # a second run is added to the session's table, curves overlaid
    at.selectbox(key="tr_backend").set_value("pytorch").run()
    at.number_input(key="tr_epochs").set_value(1).run()
    at.number_input(key="tr_limit").set_value(200).run()
    at.button(key="tr_train").click().run()
    assert no_errors(at) == []
    assert len(at.dataframe[-1].value) == 2
    names = {t["name"] for spec in charts(at) for t in spec["data"] if t.get("type") == "scatter" and "name" in t}
    assert any(n.startswith("run 1") for n in names) and any(n.startswith("run 2") for n in names)


def test_divergence_is_explained_not_a_traceback(at):
    at.number_input(key="tr_limit").set_value(128).run()
    at.selectbox(key="tr_backend").set_value("pytorch").run()
    at.selectbox(key="tr_optimizer").set_value("sgd").run()
    at.number_input(key="tr_lr").set_value(1e6).run()
    at.button(key="tr_train").click().run()
    assert no_errors(at) == []
    assert any("diverged" in w.value and "too large" in w.value for w in at.warning)


def test_bad_folder_is_a_clear_message(at, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(tmp_path))  # the app reads folders inside its data roots only
    at.selectbox(key="tr_dataset").set_value("folder").run()
    at.text_input(key="tr_folder").set_value(str(tmp_path)).run()
    assert [e.value for e in at.exception] == []
    assert any("no class sub-folders" in e.value for e in at.error)


def in_process(monkeypatch):
    """The server's job queue runs its jobs in threads of this process (workbench.jobs'
    ThreadExecutor), so that the backend patched here is the one that trains."""
    from workbench.jobs import queue as Q
    from workbench.jobs.executors import ThreadExecutor

    monkeypatch.setattr(Q, "_SERVER", Q.JobQueue(ThreadExecutor(slots=1)))


def gated_train(monkeypatch, calls):
    """The TensorFlow backend's real training, held at the end of epoch 1 until Stop is asked for
    (as a long run is when a student clicks Stop during epoch 2)."""
    from workbench_plugins.tensorflow_backend import training as T

    in_process(monkeypatch)
    real = T.train

    def train(backend, model, data, config, on_epoch=None):
        calls.append(data)

        def hold(record):
            on_epoch(record)
            if record["epoch"] == 1:
                assert data.stop.wait(120), "Stop never came"
        return real(backend, model, data, config, hold)

    monkeypatch.setattr(T, "train", train)


def test_stop_ends_the_run_after_the_current_batch_and_keeps_it(at, monkeypatch):
    calls = []
    gated_train(monkeypatch, calls)
    at.number_input(key="tr_limit").set_value(300).run()
    at.number_input(key="tr_epochs").set_value(5).run()
    at.button(key="tr_train").click()
    # The browser's Stop click makes Streamlit abandon this script run (fastReruns) and start a
    # new one; here the abandoned run is the one that times out while the training goes on.
    with pytest.raises(RuntimeError, match="timed out"):
        at.run(timeout=8)
    job = at.session_state["training_live"]  # a workbench.jobs.train.QueuedRun
    assert job.running and [r["epoch"] for r in job.history] == [1]
    assert len(calls) == 1 and calls[0].stop is job.stop_event  # the event the Stop button sets
    job.stop()  # Stop's on_click
    at.run()
    assert no_errors(at) == []
    assert len(calls) == 1  # the rerun followed the run, it did not start another on the same model
    assert "training_live" not in at.session_state
    (run,) = at.session_state["training_runs"]
    # epoch 2 ended after its first batch: stopped there, with what it had learned kept and tested
    assert [r["epoch"] for r in run.history] == [1, 2]
    assert run.history[-1]["stopped"].startswith("stopped by the user") and run.stopped == run.history[-1]["stopped"]
    assert any(i.value.startswith("stopped by the user") for i in at.info)
    heat = next(t for spec in charts(at) for t in spec["data"] if t.get("type") == "heatmap")
    assert sum(map(sum, heat["z"])) == 500 and at.metric[0].value == f"{run.test_accuracy:.1%}"
    assert at.dataframe[-1].value["note"].tolist()[0].startswith("stopped by the user")


def test_a_failed_run_is_reported_and_not_recorded(at, monkeypatch):
    from workbench_plugins.tensorflow_backend import training as T

    def broken(backend, model, data, config, on_epoch=None):
        raise RuntimeError("the GPU ran out of memory")

    in_process(monkeypatch)
    monkeypatch.setattr(T, "train", broken)
    at.number_input(key="tr_limit").set_value(100).run()
    at.button(key="tr_train").click().run()
    assert [e.value for e in at.exception] == []
    assert any("Could not train: the GPU ran out of memory" in e.value for e in at.error)
    assert "training_live" not in at.session_state and not at.session_state["training_runs"]
    assert not any(s.value.startswith(("3. Results", "4. Runs")) for s in at.subheader)
    at.run()  # nothing comes back as "stopped by the user" on the next rerun
    assert not at.session_state["training_runs"] and not at.info


def test_confusion_matrix_cells_are_clickable_points():
    from workbench_pages.training import clicked_cell, confusion_figure

    names = ["cat", "dog", "fox"]
    fig = confusion_figure(np.arange(9).reshape(3, 3), names)
    heat, points = fig.data
    assert heat.type == "heatmap" and heat.hoverinfo == "skip"
    # one square marker at every cell, carrying its count, nearly transparent over the heatmap
    assert points.type == "scatter" and points.marker.symbol == "square" and points.marker.opacity < 0.1
    cells = list(zip(points.y, points.x, points.customdata))
    assert len(cells) == 9 and ("dog", "fox", 5) in cells and ("fox", "cat", 6) in cells
    # what Streamlit hands back for a click on the point of true dog, predicted fox
    event = {"selection": {"points": [{"curve_number": 1, "point_index": 5, "x": "fox", "y": "dog"}],
                           "point_indices": [5]}}
    assert clicked_cell(event) == ("dog", "fox")
    assert clicked_cell({"selection": {"points": []}}) is None and clicked_cell(None) is None


@pytest.mark.slow  # about 30 s on a CPU: 360 shapes resized to 224x224, EfficientNet's forward on them
def test_the_pretrained_model_fine_tunes_its_new_head(at):
    at.selectbox(key="tr_dataset").set_value("shapes").run()
    at.selectbox(key="tr_arch").set_value("efficientnet-lite0").run()
    at.selectbox(key="tr_backend").set_value("pytorch").run()
    assert at.checkbox(key="tr_standardize").disabled  # it is fed its own (ImageNet) normalisation
    assert at.selectbox(key="tr_from").options[-1] == "logits"
    at.selectbox(key="tr_from").set_value("logits").run()
    at.number_input(key="tr_limit").set_value(8).run()
    at.number_input(key="tr_batch").set_value(4).run()
    at.button(key="tr_train").click().run()
    assert no_errors(at) == []
    (run,) = at.session_state["training_runs"]
    assert run.arch.num_classes == 3 and run.images == 8 and run.spec.from_layer == "logits"
    assert run.arch.class_names == ("circle", "square", "triangle") == run.class_names
    heat = next(t for spec in charts(at) for t in spec["data"] if t.get("type") == "heatmap")
    assert len(heat["z"]) == 3 and sum(map(sum, heat["z"])) == 180

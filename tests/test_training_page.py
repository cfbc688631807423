"""The training lesson in Streamlit's AppTest: a short run completes and shows learning curves,
a confusion matrix whose cells lead to test images, and the session's runs."""

import json

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
    curves = [t for t in traces if t.get("type") == "scatter"]
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
    names = {t["name"] for spec in charts(at) for t in spec["data"] if t.get("type") == "scatter"}
    assert any(n.startswith("run 1") for n in names) and any(n.startswith("run 2") for n in names)


def test_divergence_is_explained_not_a_traceback(at):
    at.number_input(key="tr_limit").set_value(128).run()
    at.selectbox(key="tr_backend").set_value("pytorch").run()
    at.selectbox(key="tr_optimizer").set_value("sgd").run()
    at.number_input(key="tr_lr").set_value(1e6).run()
    at.button(key="tr_train").click().run()
    assert no_errors(at) == []
    assert any("diverged" in w.value and "too large" in w.value for w in at.warning)


def test_bad_folder_is_a_clear_message(at, tmp_path):
    at.selectbox(key="tr_dataset").set_value("folder").run()
    at.text_input(key="tr_folder").set_value(str(tmp_path)).run()
    assert [e.value for e in at.exception] == []
    assert any("no class sub-folders" in e.value for e in at.error)


def test_a_run_interrupted_by_stop_is_kept(at):
    # Stop reruns the page mid-training; the next run finds the live record and keeps it.
    from workbench.backend import TrainConfig

    at.session_state["training_live"] = {
        "label": "run 1: tensorflow adam lr=0.001", "dataset": "mnist-5k", "arch": "mnist-cnn",
        "backend": "tensorflow", "model": None, "config": TrainConfig(), "standardize": False, "images": 100,
        "history": [{"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.5, "seconds": 1.0}]}
    at.run()
    assert no_errors(at) == []
    assert any(i.value == "stopped by the user" for i in at.info)
    assert at.dataframe[-1].value["note"].tolist() == ["stopped by the user"]

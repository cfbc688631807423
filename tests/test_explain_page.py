"""The explanation lesson through AppTest: the methods x images grid renders for two methods in
both backends on the pretrained model, with the cost table, and without an error."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
pytest.importorskip("torch")
pytest.importorskip("tensorflow")

from conftest import no_errors  # noqa: E402


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_grid_renders_two_methods_in_both_backends(lesson_app):
    at = lesson_app("explanations")
    assert not no_errors(at)
    at.multiselect(key="ex_samples").set_value(["coffee"])
    at.multiselect(key="ex_methods").set_value(["saliency", "grad-cam"])
    for backend in ("pytorch", "tensorflow"):
        at.selectbox(key="ex_backend").set_value(backend)
        at.run()
        at.button(key="ex_run").click()
        at.run()
        assert not no_errors(at), backend
        shown = captions(at)
        assert "saliency · image 1" in shown and "grad-cam · image 1" in shown, backend
        table = at.dataframe[1].value  # predictions first, then cost and faithfulness
        assert list(table.index) == ["saliency", "grad-cam", "random order"]
        assert table.loc["grad-cam", "backward_passes"] == 1
        assert "espresso" in at.dataframe[0].value.iloc[0, 1]


def test_a_model_trained_in_the_training_lesson_can_be_explained(lesson_app):
    """The hand-off between lessons: a run of the training page is offered as a model here, with
    its dataset's class names, and explained on that dataset's test images."""
    train = lesson_app("training")
    train.selectbox(key="tr_backend").set_value("pytorch").run()
    train.number_input(key="tr_epochs").set_value(1).run()
    train.number_input(key="tr_limit").set_value(200).run()
    train.button(key="tr_train").click().run()
    assert not no_errors(train)
    runs = train.session_state["training_runs"]

    at = lesson_app("explanations", run=False)
    at.session_state["training_runs"] = runs
    at.run()
    label = f"trained: {runs[0]['label']}"
    assert label in at.selectbox(key="ex_model").options
    at.selectbox(key="ex_model").set_value(label).run()
    at.multiselect(key="ex_samples").set_value([]).run()
    at.selectbox(key="ex_dataset").set_value("mnist-5k").run()
    at.multiselect(key="ex_methods").set_value(["saliency", "grad-cam"]).run()
    at.button(key="ex_run").click().run()
    assert not no_errors(at)
    assert "grad-cam · image 2" in captions(at)
    predicted = at.dataframe[0].value.iloc[0, 1]
    assert any(predicted.startswith(str(digit)) for digit in range(10)), predicted  # digit names, not "class 3"

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

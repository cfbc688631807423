"""The explanation lesson on a greyscale model, the README's path: a model trained on mnist-5k in
the Training lesson, explained with the default ten methods. Every section shows, LIME's
superpixels included; a parameter the method cannot take is refused under its own widget."""

import re

import numpy as np
import pytest

from conftest import no_errors, require

require("torch")


@pytest.fixture(scope="module")
def grey_run():
    from workbench.backend import TrainConfig
    from workbench.runs import RunSpec, run_training

    spec = RunSpec("mnist-5k", "mnist-cnn", "pytorch", TrainConfig(epochs=1, batch_size=64), limit=200)
    return run_training(spec, label="run 1: pytorch adam lr=0.001")


def explained(lesson_app, run, methods=None):
    at = lesson_app("explanations", run=False)
    at.session_state["training_runs"] = [run]
    at.run()
    at.selectbox(key="ex_model").set_value(f"trained: {run.label}").run()
    at.multiselect(key="ex_samples").set_value([]).run()
    at.selectbox(key="ex_dataset").set_value("mnist-5k").run()
    if methods is not None:
        at.multiselect(key="ex_methods").set_value(methods).run()
    return at


def test_the_ten_default_methods_explain_a_greyscale_model_and_every_section_shows(lesson_app, grey_run):
    at = explained(lesson_app, grey_run)
    assert len(at.multiselect(key="ex_methods").value) == 10  # the defaults
    at.number_input(key="ex_p_lime_samples").set_value(100).run()  # LIME's defaults, fewer samples: a CPU
    at.button(key="ex_run").click().run(timeout=300)
    assert no_errors(at) == []
    assert [s.value for s in at.subheader] == ["Predictions", "Methods x images", "Cost and faithfulness"]
    assert list(at.dataframe[1].value.index)[-1] == "random order"
    # LIME's superpixels drawn over the (H, W, 1) digit: the picture scikit-image could not take
    pictures = [c for image in at.image for c in image.captions]
    count = next(int(c.split()[0]) for c in pictures if re.fullmatch(r"\d+ superpixels", c))
    lime = at.session_state["ex_result"][2]["explanations"]["lime"]
    assert count == lime.steps["superpixels"][0].max() + 1 > 1
    assert any(c.value.startswith("Surrogate fit R² on the samples") for c in at.caption)
    for button in ("ex_matrix_run", "ex_sanity_run", "ex_stab_run"):  # the expanders below it render too
        assert at.button(key=button) is not None


def test_superpixel_boundaries_take_a_grey_image():
    from skimage.segmentation import mark_boundaries

    from workbench.explain.render import superpixel_boundaries

    grey = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1)
    segments = np.repeat(np.arange(2), 4)[None, :].repeat(8, 0)
    with pytest.raises(ValueError):
        mark_boundaries(grey, segments)  # the bug: scikit-image refuses (H, W, 1)
    drawn = superpixel_boundaries(grey, segments)
    expected = mark_boundaries(np.repeat(grey, 3, axis=-1), segments)
    assert drawn.shape == (8, 8, 3) and drawn.dtype == np.uint8
    np.testing.assert_array_equal(drawn, (expected * 255).round().astype(np.uint8))


def test_a_parameter_it_cannot_take_is_refused_under_its_widget(lesson_app, grey_run):
    at = explained(lesson_app, grey_run, methods=["occlusion", "saliency"])
    at.text_input(key="ex_p_occlusion_window").set_value("abc").run()
    assert [e.message for e in at.exception] == []
    assert [e.value for e in at.error] == ["window must be a whole number, not 'abc'"]
    assert at.button(key="ex_run").disabled and "cannot be used as typed" in at.warning[0].value
    at.text_input(key="ex_p_occlusion_window").set_value("0").run()
    assert [e.value for e in at.error] == ["window must be at least 1, not 0"]
    at.text_input(key="ex_p_occlusion_window").set_value("7").run()
    assert no_errors(at) == [] and not at.button(key="ex_run").disabled
    at.button(key="ex_run").click().run()
    assert no_errors(at) == []
    assert at.session_state["ex_result"][2]["explanations"]["occlusion"].params["window"] == 7


def test_a_section_that_fails_says_so_in_its_place_and_the_others_show(lesson_app, grey_run, monkeypatch):
    import workbench_pages.explanations as page

    def broken(result):
        raise RuntimeError("the scores could not be drawn")

    monkeypatch.setattr(page, "_scores", broken)
    at = explained(lesson_app, grey_run, methods=["saliency", "lime"])
    at.number_input(key="ex_p_lime_samples").set_value(50).run()
    at.button(key="ex_run").click().run()
    assert [e.message for e in at.exception] == []
    assert [e.value for e in at.error] == ["Could not show the cost and faithfulness: the scores could not be drawn"]
    assert "saliency · image 1" in [c.value for c in at.caption]  # the grid above it
    assert any(re.fullmatch(r"\d+ superpixels", c) for image in at.image for c in image.captions)  # below it
    assert at.button(key="ex_stab_run") is not None


def test_a_trained_models_grid_through_the_job_equals_the_grid_computed_here(lesson_app, grey_run):
    """The trained model travels to the worker process as its saved files: the worker's maps,
    targets and scores are run_methods' on the model in this process, on the page's inputs (the
    first two test images of mnist-5k, prepared as the model was trained)."""
    from workbench import lookup
    from workbench.explain.compare import run_methods
    from workbench.explain.inputs import model_inputs

    methods = ["saliency", "grad-cam"]
    at = explained(lesson_app, grey_run, methods=methods)
    at.button(key="ex_run").click().run()
    assert no_errors(at) == []
    _, preds, result = at.session_state["ex_result"]
    raw = lookup.dataset("mnist-5k").load("test")[0][:2]
    x, _ = model_inputs(grey_run.arch, "pytorch", [(np.clip(r, 0, 1) * 255).astype(np.uint8) for r in raw],
                        grey_run.model)
    expected = run_methods(lookup.backend("pytorch"), grey_run.model, x, methods, steps=10)
    assert result["targets"] == expected["targets"] == [top[0]["index"] for top in preds]
    for name in methods:
        np.testing.assert_allclose(result["explanations"][name].maps, expected["explanations"][name].maps,
                                   rtol=1e-4, atol=1e-6)
        assert result["scores"][name]["deletion_auc"] == pytest.approx(expected["scores"][name]["deletion_auc"],
                                                                       abs=1e-5)

"""URL state in the lessons that train or explain (workbench.urlstate), in AppTest: a link sets every
control it names and is written back, a malformed value is a notice and its default, each preset
sets its controls with the course document's numbers beside them, and one training preset runs.
One session per lesson keeps the cost down: a preset click is a rerun, not a fresh page."""

from __future__ import annotations

import pytest

from conftest import no_errors, notices, opened



def widget(at, key):
    for kind in ("selectbox", "number_input", "slider", "checkbox", "toggle", "multiselect", "text_input", "radio"):
        found = [w for w in getattr(at, kind) if w.key == key]
        if found:
            return found[0]
    return None


def shows(value, text: str) -> bool:
    """A widget's value is what the link wrote (booleans as true/false, lists comma-separated)."""
    if isinstance(value, bool):
        return text == str(value).lower()
    if isinstance(value, (int, float)):
        return float(text) == float(value)
    if isinstance(value, (list, tuple)):
        return text.split(",") == [str(v) for v in value]
    return str(value) == text


def assert_controls(at, fields: dict, params: dict) -> int:
    """Every control the link names that the page drew holds the link's value; how many were drawn."""
    drawn = 0
    for name, text in params.items():
        w = widget(at, fields.get(name))
        if w is not None:
            drawn += 1
            assert shows(w.value, text), (name, w.value, text)
    return drawn


def assert_presets(at, lesson: str, presets, fields: dict, allowed_errors=()) -> None:
    for preset in presets:
        at.button(key=f"_preset_{lesson}_{preset.name}").click().run()
        errors = [e for e in no_errors(at) if not any(a in e for a in allowed_errors)]
        assert errors == [], (preset.name, errors)
        assert set(at.query_params.items()) <= set(preset.params.items()), preset.name
        assert_controls(at, fields, dict(preset.params))
        assert [i.value for i in at.info if preset.reports in i.value], preset.name  # the document's numbers


def test_training_link_presets_and_a_short_run(lesson_app):
    from workbench_pages.training import FIELDS, PRESETS

    link = {"dataset": "digits-8x8", "arch": "lenet-5", "backend": "pytorch", "optimizer": "sgd", "lr": "0.01",
            "batch": "32", "rotation_range": "10", "horizontal_flip": "true"}
    at = opened(lesson_app, "training", **link, epochs="500", bogus="1")
    assert no_errors(at) == []
    [notice] = notices(at)
    assert "epochs='500' (outside 1..100)" in notice and "bogus" in notice
    assert assert_controls(at, FIELDS, link) == len(link) and at.number_input(key="tr_epochs").value == 1
    assert dict(at.query_params) == link
    # every preset sets its controls; cats vs dogs may not be downloaded here, which the page says
    assert_presets(at, "training", PRESETS, FIELDS, allowed_errors=("Could not load the dataset",))
    at.button(key="_preset_training_cnn1-raw").click().run()
    at.number_input(key="tr_epochs").set_value(1).run()
    at.number_input(key="tr_limit").set_value(200).run()
    assert dict(at.query_params) == {"arch": "cnn1", "limit": "200"}  # mnist-5k and 1 epoch: the defaults
    at.button(key="tr_train").click().run()
    assert no_errors(at) == []
    assert any(s.value.startswith("3. Results") for s in at.subheader)
    assert any("Not yet" in m.value and "after 1 epoch" in m.value for m in at.markdown)  # the exercise read the run


def test_transfer_link_and_presets(lesson_app):
    from workbench_pages.transfer import FIELDS, PRESETS

    link = {"dataset": "digits-8x8", "variants": "frozen,features", "epochs": "3", "seeds": "1", "fractions": "0.25",
            "bn_trap": "true"}
    at = opened(lesson_app, "transfer", **link, limit="0")
    assert no_errors(at) == [] and "limit='0' (outside 10..5000)" in notices(at)[0]
    assert assert_controls(at, FIELDS, link) == len(link) and at.number_input(key="xf_limit").value == 60
    assert dict(at.query_params) == link
    assert_presets(at, "transfer", PRESETS, FIELDS)


def test_optimizers_link_presets_and_the_divergence_exercise(lesson_app):
    from workbench_pages.optimizers import FIELDS, PRESETS

    link = {"surface": "beale", "optimizers": "sgd,adam", "steps": "50", "lr": "0.01", "start": "1,1"}
    at = opened(lesson_app, "optimizers", **link, mode="fastest")
    assert no_errors(at) == [] and "mode='fastest'" in notices(at)[0]
    assert assert_controls(at, FIELDS, link) == 3  # the learning rate's key follows the surface: see the race
    assert (at.number_input(key="opt_start_beale_x_(1.0, 1.0)").value, at.number_input(key="opt_start_beale_y_(1.0, 1.0)").value) == (1, 1)
    race = at.dataframe[0].value
    assert race["optimizer"].tolist() == ["sgd", "adam"] and race["lr"].tolist() == pytest.approx([0.01, 0.01])  # float32
    assert dict(at.query_params) == link
    assert_presets(at, "optimizers", PRESETS, FIELDS)
    assert any("Not yet" in m.value and "learning rate 0.001" in m.value for m in at.markdown)  # SGD converges
    at.number_input(key="opt_lr_rosenbrock").set_value(0.01).run()  # the exercise: make SGD diverge
    assert any("Passed" in m.value and "learning rate 0.01" in m.value for m in at.markdown)
    assert at.query_params["lr"] == "0.01"


def test_well_performing_link_and_presets(lesson_app):
    from workbench_pages.well_performing import FIELDS, PRESETS

    link = {"tab": "Dropout", "do_p": "0.25", "do_w0": "1"}
    at = opened(lesson_app, "well_performing", **link, std_modes="raw,nope")
    assert no_errors(at) == [] and "std_modes='raw,nope'" in notices(at)[0]
    assert assert_controls(at, FIELDS, link) == 2 and at.session_state["wp_tab"] == "Dropout"
    # the lecture's sum over the four masks, by hand: each input kept with probability 1 - p
    assert any(m.label == "E[a], four masks" and m.value == f"{(1 - 0.25) * (1 * 2.0 - 0.7 * 1.0):.4g}" for m in at.metric)
    assert dict(at.query_params) == link
    assert_presets(at, "well_performing", PRESETS, FIELDS)


def test_explanations_link_presets_and_the_occlusion_exercise(lesson_app):
    from workbench_pages.explanations import FIELDS, PRESETS

    link = {"photos": "coffee", "methods": "grad-cam,occlusion", "occlusion.fill": "0.5", "occlude": "true",
            "occlude_row": "10", "occlude_col": "20", "occlude_size": "40"}
    at = opened(lesson_app, "explanations", **link, model="trained: run 9")
    assert no_errors(at) == [] and "model='trained: run 9'" in notices(at)[0]
    fields = {**FIELDS, "occlusion.fill": "ex_p_occlusion_fill"}
    assert assert_controls(at, fields, link) == len(link)
    assert dict(at.query_params) == link
    assert any(("Passed" in m.value or "Not yet" in m.value) and "40x40 square at (10, 20)" in m.value
               for m in at.markdown)  # the exercise checked the linked square with the model
    assert_presets(at, "explanations", PRESETS, FIELDS)

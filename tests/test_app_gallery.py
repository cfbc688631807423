"""The gallery lesson in AppTest."""

from conftest import no_errors
from workbench import lookup, shapes


def test_gallery_lists_every_architecture_with_its_parameters(lesson_app):
    at = lesson_app("gallery")
    assert no_errors(at) == []
    overview = at.dataframe[0].value
    from workbench.registry import get_registry

    archs = get_registry().architectures()
    assert sorted(overview["architecture"]) == sorted(archs)
    for name, params in zip(overview["architecture"], overview["parameters"]):
        if archs[name].is_spec:
            assert params == shapes.compute(archs[name]).total_params
    assert at.metric[0].value == "138,357,544"  # VGG16 is shown first


def test_choosing_another_architecture_shows_its_summary(lesson_app):
    at = lesson_app("gallery")
    at.selectbox(key="gallery_pick").set_value("mnist-cnn").run()
    assert no_errors(at) == []
    assert at.metric[0].value == "93,322"
    summary = at.dataframe[1].value
    assert summary["params"].tolist() == [r.params for r in shapes.compute(lookup.architecture("mnist-cnn")).rows]


def test_history_table_is_seed_001s(lesson_app):
    at = lesson_app("gallery")
    history = at.dataframe[-1].value
    assert history["network"].tolist()[:2] == ["LeNet (8)", "AlexNet (7)"]
    row = history[history["network"] == "GoogLeNet (19)"].iloc[0]
    assert (row["year"], row["top-5 error (%)"], row["parameters"]) == (2014, 6.67, 4e6)
    vgg = history[history["network"] == "VGG Net (16)"].iloc[0]
    assert vgg["its parameters"] == 138_357_544


def test_the_gallery_shows_each_landmark(lesson_app):
    from workbench_plugins.architectures.landmarks import LANDMARKS

    at = lesson_app("gallery")
    for name in LANDMARKS:
        at.selectbox(key="gallery_pick").set_value(name).run()
        assert no_errors(at) == [], name
        arch, table = lookup.architecture(name), shapes.compute(lookup.architecture(name))
        assert at.subheader[0].value == name
        assert at.metric[0].value == f"{table.total_params:,}"
        assert arch.description in [m.value for m in at.markdown]
        assert at.dataframe[1].value["layer"].str.strip().tolist() == [r.name for r in table.rows]
        assert "Convolutional Neural Networks (CNN)" in at.caption[0].value  # its source, cited by title


def test_history_table_has_a_row_for_each_landmark_with_its_computed_parameters(lesson_app):
    from workbench_plugins.architectures.landmarks import LANDMARKS

    at = lesson_app("gallery")
    history = at.dataframe[-1].value
    assert history["year"].is_monotonic_increasing
    for name in LANDMARKS:
        row = history[history["workbench model"] == name]
        assert len(row) == 1, name
        assert row.iloc[0]["its parameters"] == shapes.compute(lookup.architecture(name)).total_params
    errors = dict(zip(history["network"], history["top-5 error (%)"]))
    assert errors["GoogLeNet (19)"] == 6.67 and errors["ResNet-50"] == 6.71  # the lecture's, then the paper's

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

"""A lesson's view in its URL (workbench.urlstate), in AppTest: a link built from settings reopens
the same view, a malformed link shows a notice and the defaults, hide= hides, and every preset of
the cheap lessons opens the course document's experiment with the document's numbers beside it.
The lessons that train are in test_urlstate_training.py."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from conftest import no_errors, notices, opened
from workbench import convolution as C
from workbench import lookup, samples, shapes, spec
from workbench.urlstate import pack, unpack



def reports(at) -> list[str]:
    return [i.value for i in at.info]


# -- the core, without a page ------------------------------------------------------------
def test_pack_round_trips_and_refuses_damage():
    text = spec.dumps_architecture(lookup.architecture("vgg16"), "json")
    token = pack(text)
    assert unpack(token) == text and len(token) < len(text) / 4  # short enough for a link
    for bad in ("vgg16", "z.!!!", "z." + token[2:12], pack("x" * 100)[:-3]):
        with pytest.raises(ValueError):
            unpack(bad)
    with pytest.raises(ValueError, match="too large"):
        unpack(pack("0" * 5000), limit=1000)


# -- convolution --------------------------------------------------------------------------
CAMERA = np.round(samples.fit(samples.to_grey(skimage.data.camera()), 192) * 255)


def test_a_convolution_link_reopens_the_same_view(lesson_app):
    link = {"kernel": "Sharpen", "stride": "2", "padding": "0", "row": "3", "col": "4"}
    at = opened(lesson_app, "convolution", **link)
    assert no_errors(at) == [] and notices(at) == []
    assert at.selectbox(key="conv_kernel").value == "Sharpen"
    assert (at.slider(key="conv_stride").value, at.slider(key="conv_padding").value) == (2, 0)
    size = (192 - 3 + 2 * 0) // 2 + 1  # the slides' formula, by hand
    assert any(c.value.startswith(f"Output {size}x{size}") for c in at.caption)
    expected = C.arithmetic(CAMERA, C.SHARPEN, 3, 4, stride=2, padding=0).text
    assert expected in [c.value for c in at.code]
    assert dict(at.query_params) == link  # written back as it came: the copied link is the same
    assert any(c.value.endswith("?" + "&".join(f"{k}={v}" for k, v in link.items())) for c in at.code)  # Copy link
    again = opened(lesson_app, "convolution", **at.query_params)  # a fresh session opens the copied link
    assert expected in [c.value for c in again.code]


def test_a_change_is_written_to_the_link_and_a_default_leaves_it(lesson_app):
    at = lesson_app("convolution")
    assert dict(at.query_params) == {}
    at.selectbox(key="conv_kernel").set_value("Sharpen").run()
    assert dict(at.query_params) == {"kernel": "Sharpen"}
    at.slider(key="conv_stride").set_value(3).run()
    assert dict(at.query_params) == {"kernel": "Sharpen", "stride": "3"}
    at.selectbox(key="conv_kernel").set_value(at.selectbox(key="conv_kernel").options[0]).run()
    assert dict(at.query_params) == {"stride": "3"}


def test_a_malformed_convolution_link_shows_a_notice_and_the_defaults(lesson_app):
    at = opened(lesson_app, "convolution", kernel="Nope", stride="9", padding="x", bogus="1")
    assert no_errors(at) == []
    [notice] = notices(at)
    for name in ("kernel='Nope'", "stride='9'", "padding='x'", "bogus"):
        assert name in notice
    assert at.selectbox(key="conv_kernel").value == at.selectbox(key="conv_kernel").options[0]
    assert (at.slider(key="conv_stride").value, at.slider(key="conv_padding").value) == (1, 1)
    assert dict(at.query_params) == {}  # what could not be used is not carried on


def test_your_own_kernel_travels_in_the_link(lesson_app):
    at = opened(lesson_app, "convolution", kernel="Your own kernel", weights="0,0,0;0,2,0;0,0,0", row="5", col="6")
    assert no_errors(at) == [] and notices(at) == []
    double = np.zeros((3, 3))
    double[1, 1] = 2
    assert C.arithmetic(CAMERA, double, 5, 6, 1, 1).text in [c.value for c in at.code]
    assert at.query_params["weights"] == "0,0,0;0,2,0;0,0,0"
    bad = opened(lesson_app, "convolution", kernel="Your own kernel", weights="1,2;3")
    assert no_errors(bad) == [] and "weights='1,2;3'" in notices(bad)[0]


def test_hide_hides_the_controls_and_keeps_their_link_values(lesson_app):
    at = opened(lesson_app, "convolution", hide="kernel,stride", kernel="Sharpen", stride="2")
    assert no_errors(at) == [] and notices(at) == []
    keys = {w.key for w in at.selectbox} | {w.key for w in at.slider}
    assert "conv_kernel" not in keys and "conv_stride" not in keys and "conv_padding" in keys
    middle = ((192 - 3 + 2 * 1) // 2 + 1) // 2  # the default position: the middle of the stride-2 output
    assert C.arithmetic(CAMERA, C.SHARPEN, middle, middle, 2, 1).text in [c.value for c in at.code]
    at.radio(key="pool_mode").set_value("average").run()  # the class changes what is not hidden
    assert dict(at.query_params) == {"hide": "kernel,stride", "kernel": "Sharpen", "stride": "2", "pool": "average"}
    assert "conv_kernel" not in {w.key for w in at.selectbox}


def test_every_convolution_preset(lesson_app):
    from workbench_pages.convolution import LESSON_PRESETS

    shown = {"sharpen-320": lambda at: any(m.value == "320" for m in at.metric),
             "curve-detector": lambda at: any(m.value == "6600" for m in at.metric),
             "stride-2": lambda at: any("a **3x3** output" in m.value for m in at.markdown),
             "padding-25": lambda at: any("**25** windows of 3x3" in m.value for m in at.markdown)}
    assert set(shown) == {p.name for p in LESSON_PRESETS}
    at = lesson_app("convolution")
    for preset in LESSON_PRESETS:  # one click each, in one session
        at.button(key=f"_preset_convolution_{preset.name}").click().run()
        assert no_errors(at) == []
        assert set(at.query_params.items()) <= set(preset.params.items())  # the preset's (defaults are left out)
        assert [r for r in reports(at) if preset.reports in r]  # the document's own numbers, beside the result
        assert shown[preset.name](at), preset.name
    at.slider(key="step_k").set_value(2).run()  # a control moves away from the preset ...
    assert not [r for r in reports(at) if LESSON_PRESETS[-1].reports in r]  # ... and the document's numbers go
    linked = opened(lesson_app, "convolution", preset="curve-detector")  # a preset is a link
    assert shown["curve-detector"](linked) and [r for r in reports(linked) if "6600" in r]
    copied = opened(lesson_app, "convolution", **linked.query_params)  # and its copied link is the preset too
    assert shown["curve-detector"](copied) and [r for r in reports(copied) if "6600" in r]


def test_an_unknown_preset_is_a_notice(lesson_app):
    at = opened(lesson_app, "convolution", preset="nope")
    assert no_errors(at) == [] and "no preset of this lesson is called 'nope'" in notices(at)[0]


# -- shape calculator ---------------------------------------------------------------------
def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


SMALL_5x5x64 = {  # 28 -> 26 -> 13 -> 11 -> 5, then a 1x1 convolution keeps 5x5x64
    "name": "small", "input_shape": [28, 28, 1], "num_classes": 10,
    "layers": [{"type": "Conv2D", "filters": 32, "kernel_size": 3, "activation": "relu"}, {"type": "MaxPooling2D"},
               {"type": "Conv2D", "filters": 64, "kernel_size": 3, "activation": "relu"}, {"type": "MaxPooling2D"},
               {"type": "Conv2D", "filters": 64, "kernel_size": 1, "activation": "relu"}, {"type": "Flatten"},
               {"type": "Dense", "units": 10, "activation": "softmax"}]}
SMALL_PARAMS = (3 * 3 * 1 * 32 + 32) + (3 * 3 * 32 * 64 + 64) + (64 * 64 + 64) + (5 * 5 * 64 * 10 + 10)


def test_a_calculator_link_carries_an_edited_architecture(lesson_app):
    arch = spec.parse_architecture(SMALL_5x5x64)
    at = opened(lesson_app, "shape_calculator", arch=pack(spec.dumps_architecture(arch, "json")))
    assert no_errors(at) == [] and notices(at) == []
    assert metric(at, "Total parameters") == f"{SMALL_PARAMS:,}" == f"{shapes.compute(arch).total_params:,}"
    assert spec.loads_architecture(unpack(at.query_params["arch"])).to_dict() == arch.to_dict()
    assert any("Passed" in m.value and "5x5x64" in m.value for m in at.markdown)  # the exercise checks it


def test_a_calculator_edit_is_written_to_the_link(lesson_app):
    at = lesson_app("shape_calculator")
    assert "arch" not in at.query_params  # the default architecture
    assert any("Not yet" in m.value and "3x3x64" in m.value for m in at.markdown)
    at.number_input(key="calc_k_0").set_value(5).run()
    linked = spec.loads_architecture(unpack(at.query_params["arch"]))
    assert linked.num_classes == 5 and linked.layers[-1].units == 5
    again = opened(lesson_app, "shape_calculator", **at.query_params)
    assert metric(again, "Total parameters") == f"{shapes.compute(linked).total_params:,}"


def test_a_malformed_calculator_link_shows_a_notice_and_the_default(lesson_app):
    at = opened(lesson_app, "shape_calculator", arch="z.garbage")
    assert no_errors(at) == [] and "arch='z.garbage'" in notices(at)[0]
    assert metric(at, "Total parameters") == "93,322"


def test_every_calculator_preset(lesson_app):
    from workbench_pages.shape_calculator import PRESETS

    at = lesson_app("shape_calculator")
    for preset in PRESETS[::-1]:  # the default architecture last: it must come back from another
        at.button(key=f"_preset_shape_calculator_{preset.name}").click().run()
        assert no_errors(at) == []
        table = shapes.compute(lookup.architecture(preset.params["arch"]))
        assert metric(at, "Total parameters") == f"{table.total_params:,}"
        assert at.dataframe[-1].value["output shape"].tolist() == [str(tuple(r.output_shape)) for r in table.rows]
        assert [r for r in reports(at) if preset.reports in r], preset.name


# -- gallery and home ---------------------------------------------------------------------
def test_every_gallery_preset(lesson_app):
    from workbench_pages.gallery import PRESETS

    at = lesson_app("gallery")
    for preset in PRESETS:
        at.button(key=f"_preset_gallery_{preset.name}").click().run()
        assert no_errors(at) == []
        name = preset.params["arch"]
        assert at.selectbox(key="gallery_pick").value == name
        assert metric(at, "Parameters") == f"{shapes.compute(lookup.architecture(name)).total_params:,}"
        assert [r for r in reports(at) if preset.reports in r], name


def test_a_gallery_link_and_a_malformed_one(lesson_app):
    at = opened(lesson_app, "gallery", arch="lenet-5")
    assert at.selectbox(key="gallery_pick").value == "lenet-5" and at.subheader[0].value == "lenet-5"
    bad = opened(lesson_app, "gallery", arch="no-such-net")
    assert no_errors(bad) == [] and "arch='no-such-net'" in notices(bad)[0]
    assert bad.selectbox(key="gallery_pick").value == "vgg16"


def test_home_names_a_link_meant_for_a_lesson(lesson_app):
    at = opened(lesson_app, "home", kernel="Sharpen")
    assert no_errors(at) == [] and "not a setting of this lesson: kernel" in notices(at)[0]

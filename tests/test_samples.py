"""One catalogue of sample photos (workbench.samples): the convolution lesson's picker and the
explanation lesson offer the same photos, and the grey views equal scikit-image's own."""

import numpy as np
import pytest
import skimage.color
import skimage.data

from conftest import no_errors
from workbench import samples, ui


def test_one_catalogue_with_kinds():
    assert not hasattr(ui, "SAMPLE_IMAGES") and not hasattr(ui, "sample_image")  # ui keeps Streamlit helpers only
    assert samples.names("texture") == ["brick"]
    assert set(samples.names("photo")) | {"brick"} == set(samples.names()) and "chelsea" in samples.names("photo")
    with pytest.raises(ValueError, match="photo, texture"):
        samples.names("landscape")


@pytest.mark.parametrize("name", ["brick", "camera", "chelsea"])
def test_grey_views_equal_scikit_images(name):
    raw = getattr(skimage.data, name)()
    expected = raw / 255.0 if raw.ndim == 2 else skimage.color.rgb2gray(raw)
    np.testing.assert_allclose(samples.grey(name), expected, atol=1e-6)


def test_fit_shrinks_and_never_enlarges():
    image = samples.grey("brick")  # 512x512
    assert samples.fit(image, 128).shape == (128, 128) and samples.fit(image, 1024) is image


def test_both_lessons_offer_the_catalogue(lesson_app):
    conv = lesson_app("convolution")
    assert no_errors(conv) == []
    picker = conv.selectbox(key="conv_sample")
    assert picker.options == [samples.SAMPLES[n].description.capitalize() for n in samples.names()]
    picker.set_value("brick").run()
    assert no_errors(conv) == [] and conv.selectbox(key="conv_sample").value == "brick"
    explain = lesson_app("explanations")
    assert explain.multiselect(key="ex_samples").options == [f"{n}: {samples.SAMPLES[n].description}"
                                                             for n in samples.names()]

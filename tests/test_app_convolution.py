"""The convolution lesson in Streamlit's AppTest: it renders, and its interactions change what is shown."""

import base64
import io
import json

import numpy as np
import pytest
import skimage.data
from PIL import Image

from conftest import no_errors
from workbench import convolution as C
from workbench import image_decoder, samples


@pytest.fixture
def at(lesson_app):
    return lesson_app("convolution")


def output_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Output "))


def test_renders_without_errors(at):
    assert no_errors(at) == []
    assert at.title[0].value.startswith("Convolution")


def test_another_kernel_changes_the_output(at):
    first = output_caption(at)
    at.selectbox(key="conv_kernel").set_value("Gaussian 5x5 (sigma 1)").run()
    assert no_errors(at) == []
    assert output_caption(at) != first


def test_arithmetic_on_the_photo_is_the_cores(at):
    at.selectbox(key="conv_kernel").set_value("Sharpen").run()
    at.number_input(key="conv_row").set_value(3).run()
    at.number_input(key="conv_col").set_value(4).run()
    image = np.round(samples.fit(samples.to_grey(skimage.data.camera()), 192) * 255)
    expected = C.arithmetic(image, C.SHARPEN, 3, 4, stride=1, padding=1).text
    assert expected in [c.value for c in at.code]


def test_stride_and_padding_change_the_output_size(at):
    at.slider(key="conv_stride").set_value(2).run()
    at.slider(key="conv_padding").set_value(0).run()
    # the camera photo is scaled to 192x192; a 3x3 kernel at stride 2 without padding: (192-3)//2+1 = 95
    assert output_caption(at).startswith("Output 95x95")


def test_the_320_preset_shows_320(at):
    assert "320" in at.radio(key="conv_preset").value  # the default preset is the seed's sharpen example
    assert "= 320" in [c.value for c in at.code][-1]
    assert any(m.value == "320" for m in at.metric)


def test_the_curve_detector_preset_gives_6600_then_0(at):
    radio = at.radio(key="conv_preset")
    radio.set_value(next(o for o in radio.options if "6600" in o)).run()
    assert any(m.value == "6600" for m in at.metric)
    assert "(50*30)+(20*30)+(50*30)+(50*30)+(50*30) = 6600" in [c.value for c in at.code]
    at.select_slider(key="conv_preset_pos_7").set_value(1).run()
    assert any(m.value == "0" and "(0, 1)" in m.label for m in at.metric)


def test_stride_tab_steps_7x7_to_5x5_and_3x3_and_25_patches(at):
    sizes = lambda: [m.value for m in at.markdown if "windows of" in m.value]  # noqa: E731
    assert "a **5x5** output" in sizes()[0]
    at.slider(key="step_stride").set_value(2).run()
    assert "a **3x3** output" in sizes()[0]
    at.slider(key="step_stride").set_value(1).run()
    at.slider(key="step_n").set_value(5).run()
    at.slider(key="step_padding").set_value(1).run()
    assert "**25** windows of 3x3" in sizes()[0]
    at.slider(key="step_pos").set_value(24).run()
    assert any("Window 25 of 25" in c.value for c in at.caption)


def test_pooling_steps_the_window(at):
    at.radio(key="pool_mode").set_value("average").run()
    assert no_errors(at) == []
    caption = next(c.value for c in at.caption if "of each window" in c.value)
    assert "The average of each window" in caption
    # the plotted 3x3 output is the average pool of the seeded 6x6 input, checked against skimage
    from skimage.measure import block_reduce

    grid = np.random.default_rng(1).integers(0, 10, (6, 6)).astype(float)
    chart = next(c for c in at.get("plotly_chart") if json.loads(c.proto.spec)["layout"]["title"]["text"] == "output 3x3")
    np.testing.assert_allclose(plotted_z(chart), block_reduce(grid, (2, 2), np.mean))
    first = f"Window 1 of 9 → output (0, 0) = {grid[:2, :2].mean():g}."
    assert any(c.value.startswith(first) for c in at.caption)


def test_a_tiny_upload_is_explained_in_each_tab_without_internal_errors(at):
    buf = io.BytesIO()
    Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4) * 16).save(buf, format="PNG")
    at.file_uploader(key="conv_upload").set_value(("tiny.png", buf.getvalue(), "image/png")).run()
    assert not at.exception
    at.selectbox(key="conv_kernel").set_value(next(k for k in C.KERNELS if "urve" in k)).run()  # 7x7: too big
    at.slider(key="conv_padding").set_value(0).run()
    errors = [e.value for e in at.error]
    assert errors and all("does not fit" in e or "too big" in e or "larger" in e for e in errors), errors
    assert not any("local variable" in e or "Traceback" in e for e in errors)
    assert not at.exception


def test_an_impossible_window_gets_a_clear_message(at):
    at.slider(key="step_n").set_value(3).run()
    at.slider(key="step_k").set_value(5).run()
    assert any("does not fit" in e.value for e in at.error)
    assert not at.exception


def test_a_broken_upload_gets_a_clear_message(at):
    at.file_uploader(key="conv_upload").set_value(("holiday.jpg", b"not really a jpeg", "image/jpeg")).run()
    assert any("holiday.jpg is not an image" in e.value for e in at.error)
    assert not at.exception


def test_an_uploaded_image_is_used(at):
    buf = io.BytesIO()
    Image.fromarray(np.tile(np.arange(0, 250, 10, dtype=np.uint8), (20, 1))).save(buf, format="PNG")
    at.file_uploader(key="conv_upload").set_value(("ramp.png", buf.getvalue(), "image/png")).run()
    assert no_errors(at) == []
    assert output_caption(at).startswith("Output 20x25")  # padding 1 keeps the 20x25 size


def test_convolution_theorem_difference_is_tiny(at):
    metric = next(m for m in at.metric if "difference" in m.label)
    assert float(metric.value) < 1e-8


def chart_titles(at) -> list[str]:
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def test_pooling_the_photo_halves_it(at):
    assert {"192x192", "96x96 after 1x max pool", "48x48 after 2x max pool"} <= set(chart_titles(at))


def plotted_z(chart) -> np.ndarray:
    z = json.loads(chart.proto.spec)["data"][0]["z"]  # plotly's typed-array form: dtype, base64 bytes, shape
    return np.frombuffer(base64.b64decode(z["bdata"]), z["dtype"]).reshape([int(n) for n in z["shape"].split(",")])


def test_the_output_map_is_the_cores_correlation(at):
    at.selectbox(key="conv_kernel").set_value("Laplacian").run()
    chart = next(c for c in at.get("plotly_chart") if "output" in json.loads(c.proto.spec)["layout"]["title"]["text"])
    z = plotted_z(chart)
    image = np.round(samples.fit(samples.to_grey(skimage.data.camera()), 192) * 255)
    np.testing.assert_allclose(z, C.correlate2d(image, C.LAPLACIAN, padding=1))


def test_an_edited_custom_kernel_changes_the_output(at):
    at.selectbox(key="conv_kernel").set_value("Your own kernel").run()
    identity = output_caption(at)
    assert identity.startswith("Output 192x192: min ")
    at.session_state["conv_custom_3"] = {"edited_rows": {1: {"1": 2.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert no_errors(at) == []
    doubled = output_caption(at)
    lo, hi = (float(v.rstrip(",")) for v in identity.split()[3:6:2])
    assert doubled.startswith(f"Output 192x192: min {2 * lo:.1f}, max {2 * hi:.1f}")


def test_uploads_in_other_modes_become_grey_images():
    for mode, size in (("RGBA", (30, 20)), ("L", (12, 9)), ("P", (8, 8)), ("I;16", (5, 7))):
        buf = io.BytesIO()
        Image.new(mode, size).save(buf, format="PNG")
        grey = samples.to_grey(image_decoder.decode(buf.getvalue(), f"x.{mode}.png"))
        assert grey.shape == (size[1], size[0]) and grey.dtype == float
    with pytest.raises(ValueError, match="empty.png is empty"):
        image_decoder.decode(b"", "empty.png")


def png_bytes(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height), 128).save(buf, format="PNG")  # one grey: a few kilobytes
    return buf.getvalue()


def test_an_upload_over_the_sessions_pixel_limit_is_refused_and_the_page_goes_on(at):
    # 4500x3000 is under the decoder's 16-megapixel cap (a file on the command line may be that big)
    # but over the 12 megapixels a session may upload (workbench.jobs.limits.image_pixels)
    big = png_bytes(4500, 3000)
    assert image_decoder.decode(big, "scan.png").shape == (3000, 4500, 3)
    at.file_uploader(key="conv_upload").set_value(("scan.png", big, "image/png")).run()
    assert [e.value for e in at.error] == ["scan.png is 4500x3000; please use an image under 12 megapixels"]
    assert not at.exception
    at.file_uploader(key="conv_upload").set_value(("ramp.png", png_bytes(25, 20), "image/png")).run()
    assert no_errors(at) == []
    assert output_caption(at).startswith("Output 20x25")


def test_the_upload_pixel_limit_is_the_servers_setting(at, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_IMAGE_MEGAPIXELS", "0.0625")  # 65,536 pixels: 256x256
    at.file_uploader(key="conv_upload").set_value(("wide.png", png_bytes(300, 256), "image/png")).run()
    assert [e.value for e in at.error] == ["wide.png is 300x256; please use an image under 0.0625 megapixels"]
    at.file_uploader(key="conv_upload").set_value(("square.png", png_bytes(256, 256), "image/png")).run()
    assert no_errors(at) == [] and output_caption(at).startswith("Output 192x192")  # fitted to the lesson's 192
    monkeypatch.setenv("WORKBENCH_MAX_IMAGE_MEGAPIXELS", "100")  # never above the decoder's own cap
    from workbench.jobs.limits import image_pixels

    assert image_pixels() == image_decoder.MAX_PIXELS

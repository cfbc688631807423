"""The one image decoder (workbench.image_decoder): uploads, photo files and dataset images alike."""

import io

import numpy as np
import pytest
from PIL import Image

from workbench import image_decoder as D
from workbench import samples


def png(array=None, mode=None, size=None) -> bytes:
    buffer = io.BytesIO()
    (Image.fromarray(array, mode) if array is not None else Image.new(mode, size)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_decode_upload_and_broken_file():
    coffee = png(samples.load("coffee"))
    np.testing.assert_array_equal(D.decode(coffee), samples.load("coffee"))
    assert D.decode(png(np.full((5, 7), 9, np.uint8))).shape == (5, 7, 3)
    with pytest.raises(D.ImageDecodeError, match=r"^notes.txt is not an image that can be read \(PNG, JPEG"):
        D.decode(b"this is not a picture", "notes.txt")  # and no '<_io.BytesIO object at 0x...>' in it
    with pytest.raises(D.ImageDecodeError, match="cut.png is a damaged image .*truncated"):
        D.decode(coffee[:200], "cut.png")
    with pytest.raises(D.ImageDecodeError, match="5000x4000; please use an image under 16 megapixels"):
        D.decode(png(mode="L", size=(5000, 4000)), "scan.png")
    with pytest.raises(D.ImageDecodeError, match="empty"):
        D.decode(b"")


def bomb_png(side=40_000) -> bytes:
    """A PNG that says it is side x side (1.6 gigapixels) in a few hundred bytes: PIL refuses it
    with DecompressionBombError while opening, before our own size check can run."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_one_clear_message():
    with pytest.raises(D.ImageDecodeError, match=r"^bomb.png is 1,600,000,000 pixels; please use an image under 16"):
        D.decode(bomb_png(), "bomb.png")


def test_a_folder_given_as_an_image_is_named(tmp_path):
    with pytest.raises(D.ImageDecodeError, match=f"^{tmp_path} is a folder, not an image file \\(name the images inside it\\)$"):
        D.decode(tmp_path)


def test_sixteen_bit_png_is_scaled_not_clipped():
    """A 16-bit gradient 0..65535 reads as 0..1 (and 0..255 in RGB): PIL's convert('L') would make
    every value over 255 white (99.6% of this ramp)."""
    ramp = np.linspace(0, 65535, 256 * 16).astype(np.uint16).reshape(16, 256)
    data = png(ramp)
    x = D.decode_resized(data, (16, 256), 1)
    np.testing.assert_allclose(x[..., 0], ramp / 65535.0, atol=1e-6)
    assert (x >= 0.999).mean() < 0.01
    rgb = D.decode(data)
    np.testing.assert_array_equal(rgb[..., 0], np.round(ramp / 65535.0 * 255).astype(np.uint8))
    assert D.peek(data) == (16, 256, 1)

"""The one image decoder: every image file the workbench reads goes through here.

A photo to explain (CLI, API, page upload), a convolution lesson's upload and every image of a
folder or downloaded dataset: each is opened by ``opened``, which turns whatever PIL raises
(a decompression bomb, a truncated or damaged file, something that is not an image, a folder
given as a file) into one ``ImageDecodeError`` that names the file, and refuses images over
MAX_PIXELS before decoding them. What a session uploads goes through ``decode_upload``, under the
server's smaller per-session limit (workbench.jobs.limits.image_pixels). 16-bit images are scaled
from 0..65535, not clipped at 255.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 4096 * 4096  # a phone photo fits; a 100-megapixel scan would stall a classroom server
MAX_BYTES = 64 << 20
EXPECTED = "PNG, JPEG, BMP, GIF, TIFF or WebP expected"
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # "I": 32-bit integers, how PIL may hold 16-bit PNGs

# PIL warns from 89 megapixels; every such image is over MAX_PIXELS, which ``opened`` refuses
# with a message of its own, so the warning would only repeat it on the server's console.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageDecodeError(ValueError):
    """A file that is not a readable image: the message names it and says why."""


def read_file(path: str | Path) -> bytes:
    """An image file's bytes, or a clear ImageDecodeError (missing, a folder, too big)."""
    path = Path(path)
    if path.is_dir():
        raise ImageDecodeError(f"{path} is a folder, not an image file (name the images inside it)")
    if not path.is_file():
        raise ImageDecodeError(f"no image file {path}")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ImageDecodeError(f"{path} is {size / 2**20:.0f} MiB; images of up to {MAX_BYTES >> 20} MiB are read")
    return path.read_bytes()


@contextlib.contextmanager
def opened(source: bytes | str | Path, name: str | None = None, max_pixels: int = MAX_PIXELS):
    """The decoded PIL image of ``source`` (bytes, or a file path), or an ImageDecodeError."""
    if not isinstance(source, (bytes, bytearray)):
        name = name or str(source)
        source = read_file(source)
    name = name or "the file"
    if not source:
        raise ImageDecodeError(f"{name} is empty")
    try:
        with Image.open(io.BytesIO(source)) as image:
            if image.width * image.height > min(max_pixels, MAX_PIXELS):
                raise ImageDecodeError(_too_big(name, f"{image.width}x{image.height}", max_pixels))
            image.load()  # decode now: a truncated file fails here, not later
            yield image
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:  # over twice PIL's own limit: refused while opening
        pixels = re.search(r"\d+", str(exc))
        raise ImageDecodeError(_too_big(name, f"{int(pixels.group()):,} pixels" if pixels else "huge",
                                        max_pixels)) from None
    except UnidentifiedImageError:  # its message is only the buffer's repr
        raise ImageDecodeError(f"{name} is not an image that can be read ({EXPECTED})") from None
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds (OSError, SyntaxError, struct.error...) for a damaged file
        raise ImageDecodeError(f"{name} is a damaged image ({exc}); {EXPECTED}") from None


def _too_big(name: str, size: str, max_pixels: int = MAX_PIXELS) -> str:
    return f"{name} is {size}; please use an image under {min(max_pixels, MAX_PIXELS) / 2**20:g} megapixels"


def _sixteen_bit(image: Image.Image) -> np.ndarray | None:
    """A 16-bit image's grey values as floats in [0, 1] (None for an 8-bit image)."""
    if image.mode not in SIXTEEN_BIT:
        return None
    return np.clip(np.asarray(image, dtype=np.float32) / 65535.0, 0.0, 1.0)


def decode(source: bytes | str | Path, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An image (bytes or a path) -> HxWx3 uint8 RGB, or a clear ImageDecodeError."""
    if hasattr(source, "read"):
        source = source.read()
    with opened(source, name, max_pixels) as image:
        grey = _sixteen_bit(image)
        if grey is not None:
            return np.repeat(np.round(grey * 255).astype(np.uint8)[..., None], 3, axis=2)
        return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def decode_upload(upload) -> np.ndarray:
    """An image a session uploaded (Streamlit's UploadedFile: ``getvalue()`` and ``name``) -> HxWx3
    uint8 RGB, refused over the server's per-session pixel limit with a message that names it."""
    from workbench.jobs.limits import image_pixels

    return decode(upload.getvalue(), upload.name, image_pixels())


def decode_resized(source: bytes | str | Path, size: tuple[int, int], channels: int,
                   name: str | None = None) -> np.ndarray:
    """An image as (H, W, C) float32 in [0, 1] at ``size`` (bilinear), grey (C=1) or RGB."""
    with opened(source, name) as image:
        grey = _sixteen_bit(image)
        if grey is not None:
            x = np.asarray(Image.fromarray(grey, "F").resize((size[1], size[0]), Image.BILINEAR), np.float32)
            return x[..., None] if channels == 1 else np.repeat(x[..., None], 3, axis=2)
        image = image.convert("L" if channels == 1 else "RGB").resize((size[1], size[0]), Image.BILINEAR)
        x = np.asarray(image, dtype=np.float32) / 255.0
    return x[..., None] if channels == 1 else x


def peek(source: bytes | str | Path) -> tuple[int, int, int]:
    """(height, width, channels) of an image, from its header only (1 for grey, 3 for colour)."""
    name = str(source) if not isinstance(source, (bytes, bytearray)) else "the file"
    data = read_file(source) if not isinstance(source, (bytes, bytearray)) else source
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.height, image.width, 1 if image.mode in ("L", "1", *SIXTEEN_BIT) else 3
    except Exception as exc:  # noqa: BLE001 - as in opened
        raise ImageDecodeError(f"{name} is not an image that can be read ({type(exc).__name__})") from None

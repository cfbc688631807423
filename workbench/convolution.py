"""Convolution worked by hand, in numpy: the maths of the first lesson, as a student reads it.

A convolutional layer computes a *cross-correlation*: slide the kernel over the (zero-padded)
image, multiply pixel by weight and sum. A true convolution flips the kernel first; the two
agree for symmetric kernels (sharpen, blur, Laplacian) and differ in sign for Sobel.

Every function takes a 2-D float array (one grey channel) and returns a 2-D array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# -- kernels -----------------------------------------------------------------------------
# Sobel as seed 001 writes it: Gx responds to vertical edges, Gy to horizontal ones.
SOBEL_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=float)
SOBEL_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)
SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float)
BOX_BLUR = np.full((3, 3), 1 / 9)
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)
EMBOSS = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=float)

# Seed 001's curve detector: a 7x7 filter whose weights (30) trace a curve.
CURVE_DETECTOR = np.array(
    [
        [0, 0, 0, 0, 0, 30, 0],
        [0, 0, 0, 0, 30, 0, 0],
        [0, 0, 0, 30, 0, 0, 0],
        [0, 0, 0, 30, 0, 0, 0],
        [0, 0, 0, 30, 0, 0, 0],
        [0, 0, 0, 30, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ],
    dtype=float,
)
# The part of the image the filter sees where the mouse's back has that curve ...
CURVE_ON = np.array(
    [
        [0, 0, 0, 0, 0, 0, 30],
        [0, 0, 0, 0, 50, 50, 50],
        [0, 0, 0, 20, 50, 0, 0],
        [0, 0, 0, 50, 50, 0, 0],
        [0, 0, 0, 50, 50, 0, 0],
        [0, 0, 0, 50, 50, 0, 0],
        [0, 0, 0, 50, 50, 0, 0],
    ],
    dtype=float,
)
# ... and where it does not (the seed's "continue scanning (no edge)").
CURVE_OFF = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0],
        [0, 40, 0, 0, 0, 0, 0],
        [40, 0, 40, 0, 0, 0, 0],
        [40, 20, 0, 0, 0, 0, 0],
        [0, 50, 0, 0, 0, 0, 0],
        [0, 0, 50, 0, 0, 0, 0],
        [25, 25, 0, 50, 0, 0, 0],
    ],
    dtype=float,
)
# Seed 001's sharpen example: a 5x5 image, zero-padded by 1; output (0, 0) is 320.
SEED_IMAGE = np.array(
    [
        [105, 102, 100, 97, 96],
        [103, 99, 103, 101, 102],
        [101, 98, 104, 102, 100],
        [99, 101, 106, 104, 99],
        [104, 104, 104, 100, 98],
    ],
    dtype=float,
)


def gaussian_kernel(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    """A sampled 2-D Gaussian, normalised to sum 1 (so blurring keeps the brightness)."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return k / k.sum()


KERNELS: dict[str, np.ndarray] = {
    "Sobel Gx (vertical edges)": SOBEL_X,
    "Sobel Gy (horizontal edges)": SOBEL_Y,
    "Sharpen": SHARPEN,
    "Box blur 3x3": BOX_BLUR,
    "Gaussian 5x5 (sigma 1)": gaussian_kernel(5, 1.0),
    "Laplacian": LAPLACIAN,
    "Emboss": EMBOSS,
    "Curve detector (the lecture slides, 7x7)": CURVE_DETECTOR,
}


# -- sizes and windows -------------------------------------------------------------------
def output_size(n: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """W_out = floor((W - F + 2P) / S) + 1, the course notes' formula."""
    return (n - k + 2 * padding) // stride + 1


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if np.isscalar(value) else (int(value[0]), int(value[1]))


def pad(image: np.ndarray, padding) -> np.ndarray:
    """Zero padding on every side (an int, or (rows, cols))."""
    ph, pw = _pair(padding)
    return np.pad(np.asarray(image, dtype=float), ((ph, ph), (pw, pw)), mode="constant")


def _check(image: np.ndarray, kshape: tuple[int, int], stride: int, padding) -> None:
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D (grey) image, got shape {image.shape}")
    ph, pw = _pair(padding)
    if stride < 1 or min(ph, pw) < 0:
        raise ValueError(f"stride must be >= 1 and padding >= 0, got stride {stride}, padding {padding}")
    h, w = image.shape
    if min(output_size(h, kshape[0], stride, ph), output_size(w, kshape[1], stride, pw)) < 1:
        raise ValueError(
            f"a {kshape[0]}x{kshape[1]} window does not fit a {h}x{w} image padded by {padding}; "
            "add padding or use a smaller kernel"
        )


def patches(image: np.ndarray, size, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Every window the kernel visits: shape (out_h, out_w, kh, kw)."""
    kh, kw = _pair(size)
    image = np.asarray(image, dtype=float)
    _check(image, (kh, kw), stride, padding)
    return sliding_window_view(pad(image, padding), (kh, kw))[::stride, ::stride]


def window(i: int, j: int, size, stride: int = 1) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of output (i, j)'s window, in padded-image coordinates."""
    kh, kw = _pair(size)
    return i * stride, j * stride, i * stride + kh, j * stride + kw


# -- the operations ----------------------------------------------------------------------
def correlate2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """What a Conv2D layer computes: sum over the window of pixel * weight, at every position."""
    kernel = np.asarray(kernel, dtype=float)
    windows = patches(image, kernel.shape, stride, padding)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def convolve2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """A true (mathematical) convolution: cross-correlation with the kernel flipped both ways."""
    return correlate2d(image, np.flip(np.asarray(kernel, dtype=float)), stride, padding)


def gradient_magnitude(image: np.ndarray, padding: int = 1) -> np.ndarray:
    """Edge strength sqrt(Gx^2 + Gy^2), whatever the edge's direction."""
    return np.hypot(correlate2d(image, SOBEL_X, padding=padding), correlate2d(image, SOBEL_Y, padding=padding))


def pool2d(image: np.ndarray, size: int = 2, stride: int | None = None, mode: str = "max") -> np.ndarray:
    """Max or average pooling: one number per window (stride defaults to the window, as in Keras)."""
    if mode not in ("max", "average"):
        raise ValueError(f"mode must be 'max' or 'average', got {mode!r}")
    windows = patches(image, size, stride or size)
    return windows.max(axis=(2, 3)) if mode == "max" else windows.mean(axis=(2, 3))


# -- the arithmetic at one position ------------------------------------------------------
@dataclass(frozen=True)
class Arithmetic:
    pixels: np.ndarray  # the window of the padded image
    weights: np.ndarray  # the kernel
    value: float

    @property
    def text(self) -> str:
        """Term by term, one kernel row per group, as seed 001 writes it:
        0*0+0*-1+0*0 +0*-1+105*5+102*-1 +0*0+103*-1+99*0 = 320"""
        rows = ["+".join(f"{_num(p)}*{_num(w)}" for p, w in zip(pr, wr)) for pr, wr in zip(self.pixels, self.weights)]
        return " +".join(rows) + f" = {_num(self.value)}"

    @property
    def nonzero_text(self) -> str:
        """Only the products that count, as the seed writes the curve detector's:
        (50*30)+(50*30)+(20*30)+(50*30)+(50*30) = 6600"""
        terms = [f"({_num(p)}*{_num(w)})" for p, w in zip(self.pixels.ravel(), self.weights.ravel()) if p * w != 0]
        return ("+".join(terms) or "every product is 0") + f" = {_num(self.value)}"


def _num(x: float) -> str:
    x = float(x)
    return str(int(round(x))) if abs(x - round(x)) < 1e-9 else f"{x:.4g}"


def arithmetic(image: np.ndarray, kernel: np.ndarray, i: int, j: int, stride: int = 1, padding: int = 0) -> Arithmetic:
    """The multiplications and the sum behind output (i, j)."""
    kernel = np.asarray(kernel, dtype=float)
    windows = patches(image, kernel.shape, stride, padding)
    if not (0 <= i < windows.shape[0] and 0 <= j < windows.shape[1]):
        raise ValueError(f"position ({i}, {j}) is outside the {windows.shape[0]}x{windows.shape[1]} output")
    pixels = windows[i, j]
    return Arithmetic(pixels.copy(), kernel, float((pixels * kernel).sum()))


# -- the convolution theorem -------------------------------------------------------------
@dataclass(frozen=True)
class TheoremCheck:
    spatial: np.ndarray  # full convolution, computed by sliding the kernel
    fourier: np.ndarray  # the same, as the inverse FFT of the product of the two FFTs
    max_difference: float


def convolution_theorem(image: np.ndarray, kernel: np.ndarray) -> TheoremCheck:
    """F(image * kernel) = F(image) . F(kernel): check it on a real image.

    Both are zero-padded to (H + kh - 1, W + kw - 1) so that the FFT's circular convolution
    equals the linear ("full") one.
    """
    image, kernel = np.asarray(image, dtype=float), np.asarray(kernel, dtype=float)
    kh, kw = kernel.shape
    shape = (image.shape[0] + kh - 1, image.shape[1] + kw - 1)
    fourier = np.fft.irfft2(np.fft.rfft2(image, shape) * np.fft.rfft2(kernel, shape), shape)
    # "full" convolution: pad by k-1 so every partial overlap is computed.
    spatial = convolve2d(image, kernel, padding=(kh - 1, kw - 1))
    return TheoremCheck(spatial, fourier, float(np.abs(spatial - fourier).max()))

"""The convolution lesson's maths against scipy / scikit-image, and seed 001's worked numbers."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as signal
import skimage.data
import skimage.filters
import skimage.measure

from workbench import convolution as C


@pytest.fixture(scope="module")
def image():
    # A real photo, cropped small so the tests stay fast.
    return skimage.data.camera()[200:264, 220:300].astype(float)


# -- seed 001 ----------------------------------------------------------------------------
def test_seed_sharpen_example_is_320_written_as_the_seed_writes_it():
    a = C.arithmetic(C.SEED_IMAGE, C.SHARPEN, 0, 0, padding=1)
    assert a.value == 320
    assert a.text == "0*0+0*-1+0*0 +0*-1+105*5+102*-1 +0*0+103*-1+99*0 = 320"
    assert C.correlate2d(C.SEED_IMAGE, C.SHARPEN, padding=1)[0, 0] == 320


def test_seed_curve_detector_fires_on_the_curve_only():
    assert C.correlate2d(C.CURVE_ON, C.CURVE_DETECTOR)[0, 0] == 6600
    assert C.correlate2d(C.CURVE_OFF, C.CURVE_DETECTOR)[0, 0] == 0
    # scanning both receptive fields side by side, one step of 7
    scan = C.correlate2d(np.hstack([C.CURVE_ON, C.CURVE_OFF]), C.CURVE_DETECTOR, stride=7)
    np.testing.assert_array_equal(scan, [[6600, 0]])


def test_seed_stride_and_padding_sizes():
    x = np.arange(49.0).reshape(7, 7)
    assert C.correlate2d(x, C.SHARPEN, stride=1).shape == (5, 5)
    assert C.correlate2d(x, C.SHARPEN, stride=2).shape == (3, 3)
    assert C.output_size(7, 3, 1) == 5 and C.output_size(7, 3, 2) == 3
    p = C.patches(np.arange(25.0).reshape(5, 5), 3, padding=1)
    assert p.shape == (5, 5, 3, 3)  # 25 patches of 3x3
    assert p[0, 0, 0].tolist() == [0, 0, 0] and p[2, 2].tolist() == [[6, 7, 8], [11, 12, 13], [16, 17, 18]]


def test_patch_window_is_where_the_arithmetic_reads():
    x = np.arange(49.0).reshape(7, 7)
    top, left, bottom, right = C.window(2, 1, 3, stride=2)
    np.testing.assert_array_equal(C.arithmetic(x, C.SHARPEN, 2, 1, stride=2).pixels, x[top:bottom, left:right])


# -- against scipy / scikit-image --------------------------------------------------------
@pytest.mark.parametrize("name", list(C.KERNELS))
def test_correlate2d_matches_scipy(image, name):
    k = C.KERNELS[name]
    np.testing.assert_allclose(C.correlate2d(image, k), signal.correlate2d(image, k, mode="valid"), atol=1e-9)
    p = k.shape[0] // 2
    np.testing.assert_allclose(
        C.correlate2d(image, k, padding=p), ndi.correlate(image, k, mode="constant", cval=0), atol=1e-9
    )


@pytest.mark.parametrize("stride,padding", [(2, 0), (2, 1), (3, 2)])
def test_stride_subsamples_the_stride_1_result(image, stride, padding):
    full = signal.correlate2d(np.pad(image, padding), C.EMBOSS, mode="valid")
    np.testing.assert_allclose(C.correlate2d(image, C.EMBOSS, stride, padding), full[::stride, ::stride])


def test_convolve2d_flips_the_kernel_like_scipy(image):
    k = np.arange(9.0).reshape(3, 3)  # asymmetric, so a missing flip would show
    np.testing.assert_allclose(C.convolve2d(image, k), signal.convolve2d(image, k, mode="valid"))


def test_sobel_matches_scikit_image_up_to_its_conventions(image):
    # skimage divides by 4 and computes a convolution (kernel flipped), so its sign is opposite
    # to the seed's kernels applied as cross-correlation; compare away from the border.
    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(C.correlate2d(image, C.SOBEL_Y, padding=1)[inner], -4 * skimage.filters.sobel_h(image)[inner])
    np.testing.assert_allclose(C.correlate2d(image, C.SOBEL_X, padding=1)[inner], -4 * skimage.filters.sobel_v(image)[inner])
    np.testing.assert_allclose(
        C.gradient_magnitude(image)[inner],
        np.hypot(ndi.sobel(image, 0), ndi.sobel(image, 1))[inner],
    )


def test_gaussian_kernel_is_scipys_impulse_response():
    impulse = np.zeros((5, 5))
    impulse[2, 2] = 1
    expected = ndi.gaussian_filter(impulse, sigma=1.0, truncate=2.0, mode="constant")
    np.testing.assert_allclose(C.gaussian_kernel(5, 1.0), expected / expected.sum(), atol=1e-12)


@pytest.mark.parametrize("mode,func", [("max", np.max), ("average", np.mean)])
def test_pooling_matches_block_reduce(image, mode, func):
    np.testing.assert_allclose(C.pool2d(image, 2, mode=mode), skimage.measure.block_reduce(image, (2, 2), func))


def test_overlapping_max_pooling_matches_maximum_filter(image):
    # 3x3 windows with stride 2 (AlexNet's overlapping pooling)
    ref = ndi.maximum_filter(image, size=3, mode="constant", origin=-1)[:-2:2, :-2:2]
    np.testing.assert_allclose(C.pool2d(image, 3, stride=2), ref)


def test_convolution_theorem_matches_scipy(image):
    check = C.convolution_theorem(image, C.gaussian_kernel(5))
    np.testing.assert_allclose(check.spatial, signal.convolve2d(image, C.gaussian_kernel(5), mode="full"), atol=1e-9)
    np.testing.assert_allclose(check.fourier, signal.fftconvolve(image, C.gaussian_kernel(5), mode="full"), atol=1e-9)
    assert check.max_difference < 1e-9


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="does not fit"):
        C.correlate2d(np.zeros((3, 3)), C.CURVE_DETECTOR)
    with pytest.raises(ValueError, match="outside"):
        C.arithmetic(np.zeros((7, 7)), C.SHARPEN, 5, 0)
    with pytest.raises(ValueError, match="2-D"):
        C.correlate2d(np.zeros((4, 4, 3)), C.SHARPEN)


# -- the checks that come before the maths (issue 17: mutants that survived bin/mutate) ------
@pytest.mark.parametrize("stride, padding", [(0, 0), (-1, 1), (1, -1), (2, (0, -1)), (1, (-2, 0))])
def test_a_bad_stride_or_padding_alone_is_refused_with_the_reason(stride, padding):
    """Either one bad is enough (`or`, not `and`); otherwise numpy fails later, or divides by zero."""
    with pytest.raises(ValueError, match=r"stride must be >= 1 and padding >= 0"):
        C.correlate2d(np.ones((6, 6)), C.SHARPEN, stride=stride, padding=padding)


def test_a_kernel_bigger_than_the_image_fits_once_padded():
    """The fit check counts the padding: a 5x5 kernel on a 3x3 image padded by 1 has one position."""
    rng = np.random.default_rng(0)
    image, kernel = rng.random((3, 3)), rng.random((5, 5))
    out = C.correlate2d(image, kernel, padding=1)
    np.testing.assert_allclose(out, signal.correlate2d(np.pad(image, 1), kernel, mode="valid"))
    assert out.shape == (1, 1)
    tall = C.correlate2d(rng.random((3, 6)), rng.random((5, 2)), padding=(1, 0))  # rows padded, columns not
    assert tall.shape == (1, 5)
    with pytest.raises(ValueError, match="does not fit"):
        C.correlate2d(image, kernel, padding=(1, 0))


def test_arithmetic_reaches_the_last_row_and_column_and_no_further():
    """A 5x7 image and a 2x3 kernel: a 4x5 output whose width differs from every kernel size."""
    rng = np.random.default_rng(1)
    image, kernel = rng.random((5, 7)), rng.random((2, 3))
    out = C.correlate2d(image, kernel)
    assert out.shape == (4, 5)
    for i, j in ((3, 4), (0, 4), (3, 0)):
        assert C.arithmetic(image, kernel, i, j).value == pytest.approx(out[i, j])
    for i, j in ((4, 0), (0, 5), (-1, 0), (0, -1)):
        with pytest.raises(ValueError, match=rf"position \({i}, {j}\) is outside the 4x5 output"):
            C.arithmetic(image, kernel, i, j)


def test_a_tall_kernel_is_checked_against_the_height():
    """A 3x1 kernel on a 2x6 image: the width fits, the height does not (kshape[0] is the height)."""
    with pytest.raises(ValueError, match=r"a 3x1 window does not fit a 2x6 image padded by 0"):
        C.correlate2d(np.ones((2, 6)), np.ones((3, 1)))


def test_the_defaults_are_the_course_notes():
    """Stride 1 and no padding, 2x2 pooling windows, a 5x5 Gaussian of sigma 1 (scipy's window)."""
    assert C.output_size(7, 3) == 5 and C.window(1, 2, 3) == (1, 2, 4, 5)
    x = np.arange(36.0).reshape(6, 6)
    np.testing.assert_array_equal(C.pool2d(x), x.reshape(3, 2, 3, 2).max(axis=(1, 3)))
    for args, (size, sigma) in (((), (5, 1.0)), ((7, 1.5), (7, 1.5))):
        g = signal.windows.gaussian(size, sigma)
        np.testing.assert_allclose(C.gaussian_kernel(*args), np.outer(g, g) / np.outer(g, g).sum())


def test_the_arithmetic_text_writes_whole_numbers_whole_and_the_rest_in_decimals():
    a = C.arithmetic(np.array([[1.5, 100000.0]]), np.array([[2.0, 0.25]]), 0, 0)
    assert a.text == "1.5*2+100000*0.25 = 25003"


def test_the_convolution_theorem_on_odd_sizes():
    """A 5x7 image and a 3x3 kernel: a 7x9 full convolution, odd both ways (irfft2 needs the shape)."""
    rng = np.random.default_rng(2)
    image, kernel = rng.random((5, 7)), rng.random((3, 3))
    check = C.convolution_theorem(image, kernel)
    assert check.fourier.shape == (7, 9)
    np.testing.assert_allclose(check.fourier, signal.fftconvolve(image, kernel, mode="full"), atol=1e-9)

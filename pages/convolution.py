"""Lesson: convolution and the Sobel filter, worked by hand and on a photo (the lecture slides "Convolutional Neural Networks (CNN)")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from workbench import convolution as C
from workbench import ui
from workbench.urlstate import Preset, UrlState

MAGNITUDE = "Gradient magnitude sqrt(Gx² + Gy²)"
CUSTOM = "Your own kernel"


def render() -> None:
    st.title("Convolution & the Sobel filter")
    st.markdown(
        "A convolutional layer slides a small grid of weights, the **kernel**, over the image. At every "
        "position it multiplies each pixel under the kernel by its weight and adds the products up: one "
        "number of the output **feature map**. (Deep-learning libraries compute this *cross-correlation*; "
        "a mathematician's convolution flips the kernel first, which only matters for kernels like Sobel "
        "that are not symmetric.)"
    )
    url = UrlState("convolution", FIELDS, LESSON_PRESETS)
    tabs = url.bind(st.tabs, TABS, key="conv_tab")
    image = None  # stays None when the first tab fails: the later tabs then say so instead of failing too
    with tabs[0], ui.guard("filter the photo"):
        image = photo_tab(url)
    with tabs[1], ui.guard("work the example by hand"):
        presets_tab(url)
    with tabs[2], ui.guard("step the kernel"):
        stride_tab(url)
    with tabs[3], ui.guard("step the pooling window"):
        pooling_tab(url, image)
    with tabs[4], ui.guard("check the convolution theorem"):
        theorem_tab(url, image)


TABS = ["Filter a photo", "The slides' examples by hand", "Stride & padding", "Pooling", "Convolution theorem"]
# URL name -> widget key (None: read by the page itself)
FIELDS = {
    "tab": "conv_tab", "image": "conv_sample", "kernel": "conv_kernel", "size": "conv_custom_size", "weights": None,
    "stride": "conv_stride", "padding": "conv_padding", "row": "conv_row", "col": "conv_col",
    "example": "conv_preset", "position": "conv_preset_pos_*",
    "n": "step_n", "k": "step_k", "step_stride": "step_stride", "step_padding": "step_padding", "step": "step_pos",
    "pool": "pool_mode", "window": "pool_size", "pool_stride": "pool_stride", "seed": "pool_seed", "pool_step": "pool_pos",
    "theorem_kernel": "theorem_kernel",
}


# -- 1. a photo through any kernel --------------------------------------------------------
def custom_kernel(url: UrlState) -> np.ndarray:
    size = url.bind(st.radio, "Kernel size", [3, 5], horizontal=True, key="conv_custom_size")
    starts = st.session_state.setdefault("conv_custom_start", {})  # a link's weights start the grid
    raw = url.take("weights")
    if raw is not None:
        try:
            linked = kernel_from_text(raw)
            starts[linked.shape[0]] = linked
            st.session_state.pop(f"conv_custom_{linked.shape[0]}", None)  # the old grid's edits are not the link's
        except ValueError as exc:
            url.invalid("weights", raw, str(exc))
    start = np.zeros((size, size))
    start[size // 2, size // 2] = 1  # the identity kernel: edit it and watch the output change
    start = starts.get(size, start)
    st.caption("Edit the weights (the identity kernel to start with):")
    grid = st.data_editor(
        pd.DataFrame(start, columns=[str(c) for c in range(size)]),
        key=f"conv_custom_{size}", hide_index=True, width="content",
    )
    kernel = grid.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if np.isnan(kernel).any():
        st.warning("Empty or non-numeric cells count as 0.")
        kernel = np.nan_to_num(kernel)
    identity = np.zeros((size, size))
    identity[size // 2, size // 2] = 1
    url.put("weights", None if np.array_equal(kernel, identity) else kernel_text(kernel))
    return kernel


def kernel_text(kernel: np.ndarray) -> str:
    """A kernel as a link writes it: rows split by ';', weights by ','."""
    return ";".join(",".join(format(v, "g") for v in row) for row in kernel)


def kernel_from_text(text: str) -> np.ndarray:
    try:
        kernel = np.array([[float(v) for v in row.split(",")] for row in text.split(";")])
    except ValueError:
        raise ValueError("rows of numbers split by ';' and ','") from None
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] not in (3, 5) \
            or not np.isfinite(kernel).all():
        raise ValueError("a 3x3 or 5x5 grid of finite numbers")
    return kernel


def photo_tab(url: UrlState) -> np.ndarray | None:
    image = ui.image_picker("conv", max_side=192, url=url)
    if image is None:
        return None
    image = np.round(image * 255)  # pixel values 0-255, as the course notes write them
    left, right = st.columns([1, 2])
    with left:
        choice = url.bind(st.selectbox, "Kernel", [*C.KERNELS, MAGNITUDE, CUSTOM], key="conv_kernel")
        kernel = custom_kernel(url) if choice == CUSTOM else C.SOBEL_X if choice == MAGNITUDE else C.KERNELS[choice]
        k = kernel.shape[0]
        stride = url.bind(st.slider, "Stride S", 1, 4, 1, key="conv_stride")
        padding = url.bind(st.slider, "Zero padding P", 0, k, k // 2, key="conv_padding")
        if choice == MAGNITUDE:
            st.caption("Gx and Gy are both computed, then combined per pixel.")
        ui.show(ui.heatmap(kernel if choice != MAGNITUDE else C.SOBEL_X, "kernel (Gx)" if choice == MAGNITUDE else "kernel",
                           "RdBu_r", zmid=0, text=True), key="conv_kernel_fig")

    h, w = image.shape
    if choice == MAGNITUDE:
        gx = C.correlate2d(image, C.SOBEL_X, stride, padding)
        gy = C.correlate2d(image, C.SOBEL_Y, stride, padding)
        out = np.hypot(gx, gy)
    else:
        out = C.correlate2d(image, kernel, stride, padding)
    oh, ow = out.shape
    with right:
        st.markdown(
            f"**Output size** W_out = ⌊(W − F + 2P) / S⌋ + 1 = ⌊({w} − {k} + 2·{padding}) / {stride}⌋ + 1 = **{ow}**, "
            f"H_out = ⌊({h} − {k} + 2·{padding}) / {stride}⌋ + 1 = **{oh}**"
        )
        a, b = st.columns(2)
        with a:
            ui.show(ui.heatmap(image, f"input {h}x{w}"), key="conv_in_fig")
        signed = out.min() < 0
        with b:
            ui.show(ui.heatmap(out, f"output {oh}x{ow}", "RdBu_r" if signed else "gray", zmid=0 if signed else None,
                               robust=True),
                    key="conv_out_fig")
        st.caption(f"Output {oh}x{ow}: min {out.min():.1f}, max {out.max():.1f}, mean {out.mean():.2f}")

    st.subheader("The arithmetic at one position")
    c1, c2 = st.columns(2)
    i = url.bind(c1.number_input, "Output row", 0, oh - 1, min(oh - 1, oh // 2), key="conv_row")
    j = url.bind(c2.number_input, "Output column", 0, ow - 1, min(ow - 1, ow // 2), key="conv_col")
    if choice == MAGNITUDE:
        ax = C.arithmetic(image, C.SOBEL_X, i, j, stride, padding)
        ay = C.arithmetic(image, C.SOBEL_Y, i, j, stride, padding)
        st.code(f"Gx = {ax.text}\nGy = {ay.text}\nsqrt(Gx² + Gy²) = {np.hypot(ax.value, ay.value):.4g}", wrap_lines=True)
        arith = ax
    else:
        arith = C.arithmetic(image, kernel, i, j, stride, padding)
        st.code(arith.text, language=None, wrap_lines=True)
    cols = st.columns(2)
    with cols[0]:
        ui.show(ui.heatmap(arith.pixels, f"pixels under the kernel at ({i}, {j})", text=True), key="conv_window_fig")
    with cols[1]:
        ui.show(ui.heatmap(arith.weights * arith.pixels, "pixel × weight", "RdBu_r", zmid=0, text=True),
                key="conv_products_fig")
    return image


# -- 2. the lecture slides' worked examples -------------------------------------------------------
SHARPEN_320 = "Sharpen, the slides' 5x5 image padded by 1 (the 320 example)"
CURVE = "Curve detector: scanning two receptive fields (6600 vs 0)"
PRESETS = {
    SHARPEN_320: (C.SEED_IMAGE, C.SHARPEN, 1, 1),
    CURVE: (np.hstack([C.CURVE_ON, C.CURVE_OFF]), C.CURVE_DETECTOR, 7, 0),
}
# The lecture slides' experiments as links (workbench.urlstate): each opens its tab with its settings.
LESSON_PRESETS = (
    Preset("sharpen-320", "The sharpen example (320)", {"tab": TABS[1], "example": SHARPEN_320}, "cnn-slides",
           "the sharpen kernel on the 5x5 image padded by 1 gives 320 at the first position "
           "(0·0 + 0·−1 + 0·0 + 0·−1 + 105·5 + 102·−1 + 0·0 + 103·−1 + 99·0)."),
    Preset("curve-detector", "The curve detector (6600 vs 0)", {"tab": TABS[1], "example": CURVE}, "cnn-slides",
           "the curve detector gives 6600 on the receptive field that has its curve (a large number) and 0 while "
           "scanning one without it (the second position)."),
    Preset("stride-2", "7x7 at stride 2 (3x3)", {"tab": TABS[2], "n": "7", "k": "3", "step_stride": "2"}, "cnn-slides",
           "a 7x7 input volume gives a 5x5 output volume at stride 1 and a 3x3 one at stride 2."),
    Preset("padding-25", "5x5 padded by 1 (25 patches)", {"tab": TABS[2], "n": "5", "k": "3", "step_padding": "1"},
           "cnn-slides", "padding a 5x5 input by 1 extracts 25 3x3 patches."),
)


def presets_tab(url: UrlState) -> None:
    name = url.bind(st.radio, "Worked example", list(PRESETS), key="conv_preset")
    image, kernel, stride, padding = PRESETS[name]
    out = C.correlate2d(image, kernel, stride, padding)
    oh, ow = out.shape
    p = url.bind(st.select_slider, "Output position", list(range(oh * ow)), key=f"conv_preset_pos_{stride}",
                 name="position", format_func=lambda p: f"row {p // ow}, col {p % ow}")
    i, j = divmod(p, ow)
    arith = C.arithmetic(image, kernel, i, j, stride, padding)
    cols = st.columns([3, 2, 2])
    with cols[0]:
        ui.show(ui.heatmap(C.pad(image, padding), f"image, zero-padded by {padding}", "Blues", text=True,
                           highlight=C.window(i, j, kernel.shape, stride)), key="preset_in_fig")
    with cols[1]:
        ui.show(ui.heatmap(kernel, "kernel", "RdBu_r", zmid=0, text=True), key="preset_k_fig")
    with cols[2]:
        ui.show(ui.heatmap(out, f"output {oh}x{ow}", "Greens", text=True, highlight=(i, j, i + 1, j + 1)),
                key="preset_out_fig")
    st.markdown("**Multiplication and summation**")
    st.code(arith.text, language=None, wrap_lines=True)
    if stride == 7:
        st.code(arith.nonzero_text, language=None, wrap_lines=True)
        st.markdown("A large number where the image has the curve the filter draws; **0** where it does not.")
    st.metric(f"output at ({i}, {j})", f"{arith.value:g}")
    url.reports(only=("sharpen-320", "curve-detector"))


# -- 3. stride and padding, one window at a time -----------------------------------------
def stride_tab(url: UrlState) -> None:
    st.markdown("The lecture slides *Convolutional Neural Networks (CNN)*: a **7x7** input gives a **5x5** output at stride 1 and **3x3** at stride 2; "
                "padding a **5x5** input by 1 extracts **25** 3x3 patches.")
    c = st.columns(4)
    n = url.bind(c[0].slider, "Input size", 3, 9, 7, key="step_n")
    k = url.bind(c[1].slider, "Kernel size", 1, 5, 3, key="step_k")
    stride = url.bind(c[2].slider, "Stride", 1, 3, 1, key="step_stride")
    padding = url.bind(c[3].slider, "Padding", 0, 2, 0, key="step_padding")
    image = np.arange(1, n * n + 1, dtype=float).reshape(n, n)
    if C.output_size(n, k, stride, padding) < 1:
        st.error(f"A {k}x{k} window does not fit a {n}x{n} input padded by {padding}: "
                 f"⌊({n} − {k} + 2·{padding}) / {stride}⌋ + 1 = {C.output_size(n, k, stride, padding)}. "
                 "Add padding or shrink the kernel.")
        return
    out = C.correlate2d(image, np.ones((k, k)), stride, padding)
    _step(url, image, out, k, stride, padding, "step", "Each output here is the sum of its window (a kernel of ones).")
    url.reports(only=("stride-2", "padding-25"))


def _step(url, image, out, k, stride, padding, key, caption) -> None:
    """Show output ``out`` one position at a time, with the k x k window it reads outlined."""
    n, size = image.shape[0], out.shape[0]
    st.markdown(f"W_out = ⌊({n} − {k} + 2·{padding}) / {stride}⌋ + 1 = **{size}**: "
                f"a **{size}x{size}** output, **{size * size}** windows of {k}x{k}.")
    p = 0
    if size * size > 1:
        p = url.bind(st.slider, "Output position (step through the windows)", 0, size * size - 1, 0, key=f"{key}_pos")
    i, j = divmod(p, size)
    cols = st.columns(2)
    with cols[0]:
        ui.show(ui.heatmap(C.pad(image, padding), f"input {n}x{n}" + (f", padded to {n + 2 * padding}x{n + 2 * padding}" if padding else ""),
                           "Blues", text=True, highlight=C.window(i, j, k, stride)), key=f"{key}_in_fig")
    with cols[1]:
        ui.show(ui.heatmap(out, f"output {size}x{size}", "Greens", text=True, highlight=(i, j, i + 1, j + 1)),
                key=f"{key}_out_fig")
    st.caption(f"Window {p + 1} of {size * size} → output ({i}, {j}) = {out[i, j]:g}. {caption}")


# -- 4. pooling --------------------------------------------------------------------------
def pooling_tab(url: UrlState, photo: np.ndarray | None) -> None:
    st.markdown("Pooling shrinks a feature map: each window is replaced by its **maximum** (max pooling, "
                "what the course documents' networks use) or its **average**. It has no weights to learn.")
    c = st.columns(4)
    mode = url.bind(c[0].radio, "Pooling", ["max", "average"], horizontal=True, key="pool_mode")
    size = url.bind(c[1].slider, "Window", 2, 3, 2, key="pool_size")
    stride = url.bind(c[2].slider, "Stride", 1, 3, 2, key="pool_stride")
    seed = url.bind(c[3].number_input, "Random input (seed)", 0, 999, 1, key="pool_seed")
    image = np.random.default_rng(seed).integers(0, 10, (6, 6)).astype(float)
    _step(url, image, C.pool2d(image, size, stride, mode), size, stride, 0, "pool", f"The {mode} of each window.")
    if photo is None:
        return
    st.markdown("**On the photo** (the one chosen in the first tab): each 2x2 pooling halves the height and width.")
    cols = st.columns(3)
    small = photo
    for col, step in zip(cols, range(3)):
        if step:
            if min(small.shape) < 2:  # a tiny upload: nothing left to pool
                col.info(f"A {small.shape[0]}x{small.shape[1]} map is too small for another 2x2 pool.")
                break
            small = C.pool2d(small, 2, mode=mode)
        with col:
            ui.show(ui.heatmap(small, f"{small.shape[0]}x{small.shape[1]}" + (f" after {step}x {mode} pool" if step else "")),
                    key=f"pool_photo_{step}")


# -- 5. the convolution theorem ----------------------------------------------------------
def theorem_tab(url: UrlState, image: np.ndarray | None) -> None:
    st.markdown("**Convolution theorem:** the Fourier transform of a convolution is the pointwise product "
                "of the Fourier transforms. So `ifft(fft(image) · fft(kernel))` must equal sliding the kernel.")
    if image is None:
        st.info("Choose a readable image in the first tab.")
        return
    name = url.bind(st.selectbox, "Kernel", list(C.KERNELS), index=4, key="theorem_kernel")
    check = C.convolution_theorem(image, C.KERNELS[name])
    shape = check.spatial.shape
    spectra = {
        "log |FFT(image)|": np.fft.fft2(image, shape),
        "log |FFT(kernel)|": np.fft.fft2(C.KERNELS[name], shape),
    }
    spectra["log |product|"] = spectra["log |FFT(image)|"] * spectra["log |FFT(kernel)|"]
    for col, (title, f) in zip(st.columns(3), spectra.items()):
        with col:  # centred, so low frequencies are in the middle
            ui.show(ui.heatmap(np.fft.fftshift(np.log1p(np.abs(f))), title, "Viridis"), key=f"thm_{title}")
    st.caption("Spectra are centred: low frequencies in the middle. Where the kernel's spectrum is dark the product "
               "loses those frequencies: a blur keeps the middle (low-pass), an edge detector the outside (high-pass).")
    cols = st.columns(2)
    with cols[0]:
        ui.show(ui.heatmap(check.spatial, "sliding the kernel (full convolution)"), key="thm_spatial_fig")
    with cols[1]:
        ui.show(ui.heatmap(check.fourier, "inverse FFT of the product"), key="thm_fft_fig")
    st.metric("Largest difference between the two", f"{check.max_difference:.2e}")
    st.caption("Only floating-point rounding separates them. Both are zero-padded to "
               f"{check.spatial.shape[0]}x{check.spatial.shape[1]} so the FFT's circular convolution is the linear one.")

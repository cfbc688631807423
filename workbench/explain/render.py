"""Pictures of explanations for the page and the CLI: colormaps, overlays, one PNG grid (PIL)."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw

from workbench.explain.base import Explanation, normalise
from workbench.explain.patterns import deprocess


def heatmap(values: np.ndarray, cmap: str = "jet") -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 through a matplotlib colormap, scaled to [0, 1] first."""
    return (colormaps[cmap](normalise(values[None])[0])[..., :3] * 255).astype(np.uint8)


def overlay(image: np.ndarray, values: np.ndarray, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """The heatmap blended over the image (uint8 RGB)."""
    base = to_uint8(image)
    return (base * (1 - alpha) + heatmap(values, cmap) * alpha).astype(np.uint8)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Any image array -> uint8 RGB, min-max scaled (grey images repeated to 3 channels)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (normalise(image[None])[0] * 255).astype(np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]


def picture(explanation: Explanation, index: int, image: np.ndarray) -> np.ndarray:
    """What to show for image `index`: the colour gradient image, the heatmap overlay, or the grid."""
    if explanation.images is not None and explanation.method in ("guided-backprop", "guided-grad-cam"):
        return to_uint8(deprocess(explanation.images[index]))  # seed 001's contrast: std 0.1 around grey
    if explanation.maps is not None:
        return overlay(image, explanation.maps[index])
    grids = list(explanation.grids.values())
    per_image = [g for name, g in explanation.grids.items() if f"(image {index + 1})" in name]
    return to_uint8((per_image or grids)[-1])


def grid_png(images: np.ndarray, explanations: list[Explanation], path, titles: list[str] | None = None,
             cell: int = 160) -> None:
    """Methods down the rows, images across the columns (the original image first), saved as a PNG."""
    rows = [("image", [to_uint8(im) for im in images])]
    rows += [(e.method, [picture(e, n, im) for n, im in enumerate(images)]) for e in explanations]
    label_w, head = 130, 18
    canvas = Image.new("RGB", (label_w + cell * len(images), head + cell * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)
    for n, title in enumerate(titles or []):
        draw.text((label_w + n * cell + 4, 3), title[:24], fill="black")
    for r, (name, pictures) in enumerate(rows):
        draw.text((4, head + r * cell + cell // 2 - 6), name, fill="black")
        for n, pic in enumerate(pictures):
            tile = Image.fromarray(pic)
            tile.thumbnail((cell - 4, cell - 4))
            canvas.paste(tile, (label_w + n * cell + 2, head + r * cell + 2))
    canvas.save(path)

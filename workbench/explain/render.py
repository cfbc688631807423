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


def layer_grids(explanation: Explanation, index: int) -> dict[str, np.ndarray]:
    """Pictures of image `index` made per layer (feature maps), by layer name, in the chosen order."""
    suffix = f" (image {index + 1})"
    return {name.removesuffix(suffix): grid for name, grid in explanation.grids.items() if name.endswith(suffix)}


def pictures(explanation: Explanation, index: int, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(label, picture) to show for image `index`: the colour gradient image or the heatmap overlay;
    else one picture per chosen layer (feature maps); else the picture of the model itself."""
    if explanation.images is not None and explanation.method in ("guided-backprop", "guided-grad-cam"):
        return [("", to_uint8(deprocess(explanation.images[index])))]  # seed 001's contrast: std 0.1 around grey
    if explanation.maps is not None:
        return [("", overlay(image, explanation.maps[index]))]
    per_layer = layer_grids(explanation, index)
    if per_layer:
        return [(name, to_uint8(grid)) for name, grid in per_layer.items()]
    return [(name, to_uint8(grid)) for name, grid in explanation.grids.items()]


def picture(explanation: Explanation, index: int, image: np.ndarray) -> np.ndarray:
    """The first (usually the only) picture for image `index`."""
    return pictures(explanation, index, image)[0][1]


def grid_png(images: np.ndarray, explanations: list[Explanation], path, titles: list[str] | None = None,
             cell: int = 160) -> None:
    """Methods down the rows (one row per layer where a method shows several), images across the
    columns (the original image first), saved as a PNG."""
    rows = [("image", "", [to_uint8(im) for im in images])]
    for e in explanations:
        per_image = [pictures(e, n, im) for n, im in enumerate(images)]
        for k, (label, _) in enumerate(per_image[0]):
            rows.append((e.method, label, [pics[k][1] for pics in per_image]))
    label_w, head = 130, 18
    canvas = Image.new("RGB", (label_w + cell * len(images), head + cell * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)
    for n, title in enumerate(titles or []):
        draw.text((label_w + n * cell + 4, 3), title[:24], fill="black")
    for r, (name, label, row) in enumerate(rows):
        middle = head + r * cell + cell // 2
        draw.text((4, middle - 12 if label else middle - 6), name, fill="black")
        if label:  # the layer, under the method's name
            draw.text((4, middle + 2), label[:20], fill="black")
        for n, pic in enumerate(row):
            tile = Image.fromarray(pic)
            tile.thumbnail((cell - 4, cell - 4))
            canvas.paste(tile, (label_w + n * cell + 2, head + r * cell + 2))
    canvas.save(path)

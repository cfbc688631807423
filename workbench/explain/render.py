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


def superpixel_boundaries(image: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """An (H, W, C) image in [0, 1], grey or colour, with its superpixels' boundaries drawn
    (scikit-image's mark_boundaries, which takes (H, W) or (H, W, 3), never (H, W, 1)): uint8 RGB."""
    from skimage.segmentation import mark_boundaries

    image = np.clip(np.asarray(image, np.float32), 0, 1)
    rgb = np.repeat(image, 3, axis=-1) if image.ndim == 3 and image.shape[-1] == 1 else image
    return (mark_boundaries(rgb, segments) * 255).round().astype(np.uint8)


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
             cell: int = 160) -> list[tuple[str, str]]:
    """Methods down the rows (one row per layer where a method shows several), images across the
    columns (the original image first), saved as a PNG. A picture of the model itself (filters,
    filter patterns, max patches), the same for every image, spans the row once; each row is as tall
    as its pictures need (up to two cells), every picture centred in its place. Returns the rows'
    (method, layer label) from the top."""
    rows = [("image", "", [to_uint8(im) for im in images])]
    for e in explanations:
        per_image = [pictures(e, n, im) for n, im in enumerate(images)]
        for k, (label, _) in enumerate(per_image[0]):
            row = [pics[k][1] for pics in per_image]
            same = all(pic.shape == row[0].shape and np.array_equal(pic, row[0]) for pic in row[1:])
            rows.append((e.method, label, row[:1] if same and len(row) > 1 else row))
    label_w, head, width = 130, 18, cell * len(images)
    placed = []  # per row: (name, label, [(tile, left, slot width)], height)
    for name, label, row in rows:
        slot = width if len(row) == 1 and len(images) > 1 else cell
        tiles = []
        for n, pic in enumerate(row):
            tile = Image.fromarray(pic)
            scale = min((slot - 4) / tile.width, (2 * cell - 4) / tile.height)
            tiles.append((tile.resize((max(1, round(tile.width * scale)), max(1, round(tile.height * scale)))),
                          label_w + n * slot, slot))
        placed.append((name, label, tiles, max(40, max(t.height for t, _, _ in tiles) + 4)))
    canvas = Image.new("RGB", (label_w + width, head + sum(p[3] for p in placed)), "white")
    draw = ImageDraw.Draw(canvas)
    for n, title in enumerate(titles or []):
        draw.text((label_w + n * cell + 4, 3), title[:24], fill="black")
    top = head
    for name, label, tiles, height in placed:
        middle = top + height // 2
        draw.text((4, middle - 12 if label else middle - 6), name, fill="black")
        if label:  # the layer, under the method's name
            draw.text((4, middle + 2), label[:20], fill="black")
        for tile, left, slot in tiles:
            canvas.paste(tile, (left + (slot - tile.width) // 2, top + (height - tile.height) // 2))
        top += height
    canvas.save(path)
    return [(name, label) for name, label, _, _ in placed]

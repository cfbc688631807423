"""`folder:PATH` datasets: images in one folder per class (seed 003's layout).

Either PATH/train, PATH/val, PATH/test each with one sub-folder per class, or PATH with one
sub-folder per class, split 70/15/15 (stratified). Missing val/test splits are carved from
train. Every image is resized to the first one's size (150x150, seed 001's target_size, when
that is over 256 pixels); pass size=(H, W) to choose. A corrupt image is skipped and named in
the dataset's notes; bad layouts are refused with a sentence that says what to fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .images import decode_many, is_image_name
from workbench.data import Dataset, split
from workbench.folders import files
from workbench.image_decoder import ImageDecodeError, peek

LAYOUT = "expected PATH/<class>/<image> or PATH/train/<class>/<image> (+ val/, test/)"


def _classes(folder: Path) -> dict[str, list[Path]]:
    """Class name (the first sub-folder) -> its images, in one bounded walk that passes over what
    it cannot read (folder:/ meets /proc)."""
    if not os.access(folder, os.R_OK | os.X_OK):
        raise PermissionError(f"cannot read the folder {folder}")
    out: dict[str, list[Path]] = {}
    for f in files(folder):
        parts = f.relative_to(folder).parts
        if len(parts) > 1 and is_image_name(f.name):
            out.setdefault(parts[0], []).append(f)
    return dict(sorted(out.items()))


def scan(path: Path) -> dict[str, dict[str, list[Path]]]:
    """Split name -> class name -> image files, checked for the mistakes students make."""
    if not path.is_dir():
        raise FileNotFoundError(f"no folder {path}")
    split_dirs = {s: path / s for s in ("train", "val", "test") if (path / s).is_dir()}
    if split_dirs and "train" not in split_dirs:
        raise ValueError(f"{path} has {', '.join(split_dirs)} but no train/ folder ({LAYOUT})")
    splits = {s: _classes(d) for s, d in split_dirs.items()} if split_dirs else {"all": _classes(path)}
    for s, classes in splits.items():
        where = path / s if s != "all" else path
        if not classes:
            raise ValueError(f"{where} has no class sub-folders with images in them ({LAYOUT})")
        if len(classes) == 1:
            raise ValueError(f"{where} has only one class ({next(iter(classes))}): a classifier needs at least two")
    names = {s: sorted(c) for s, c in splits.items()}
    if len({tuple(v) for v in names.values()}) > 1:
        detail = "; ".join(f"{s} has {', '.join(v)}" for s, v in names.items())
        raise ValueError(f"the splits of {path} have different classes: {detail}")
    return splits


def _shape(files: list[Path], size) -> tuple[int, int, int]:
    for f in files:
        try:
            h, w, channels = peek(f)
        except ImageDecodeError:  # a corrupt first image: look at the next
            continue
        if size is None:
            size = (h, w) if max(h, w) <= 256 else (150, 150)  # seed 001's target_size for big photos
        return (int(size[0]), int(size[1]), channels)
    raise ValueError(f"none of the images in {files[0].parent.parent} could be read")


def folder_dataset(path, size=None, fractions=(0.7, 0.15, 0.15), seed: int = 0) -> Dataset:
    path = Path(path).expanduser()
    splits = scan(path)
    class_names = tuple(sorted(next(iter(splits.values()))))
    shape = _shape([f for c in splits[next(iter(splits))].values() for f in c[:3]], size)

    def items(classes):
        return [(str(f.relative_to(path)), f, class_names.index(c)) for c, files in classes.items() for f in files]

    def load():
        out = {}
        for s, classes in splits.items():
            x, y, skipped = decode_many(items(classes), shape[:2], shape[2])
            ds.notes.extend(f"skipped corrupt image {n}" for n in skipped)
            if len(x) == 0:
                raise ValueError(f"no image of {path / s} could be read")
            # a class with no readable image would vanish and the rest score as if it never existed
            lost = [c for c in classes if not np.any(y == class_names.index(c))]
            if lost:
                where = path / s if s != "all" else path
                raise ValueError(f"none of the images of class {', '.join(lost)} in {where} could be read "
                                 f"({len(skipped)} skipped, e.g. {skipped[0]}); fix or remove the class folder")
            out[s] = (x, y)
        if "all" in out:
            out = split(*out.pop("all"), fractions, seed)
        train_f, val_f, test_f = fractions
        for s, f in (("test", test_f), ("val", val_f)):  # carve what is missing from train
            if s not in out:
                parts = split(*out["train"], (1 - f, f, 0), seed)
                out["train"], out[s] = parts["train"], parts["val"]
        for s in ("train", "test"):  # a class too small to reach a split: its accuracy there says nothing
            absent = [c for k, c in enumerate(class_names) if not np.any(out[s][1] == k)]
            if absent:
                ds.notes.append(f"class {', '.join(absent)} has no image in the {s} split (too few images): "
                                f"the {s} numbers say nothing about it")
        return out

    ds = Dataset(f"folder:{path}", f"Images from {path}, one folder per class ({len(class_names)} classes).",
                 class_names, shape, load, source=str(path))
    return ds


class FolderDatasets:
    """The registered `folder` plugin object: `workbench.lookup.dataset("folder:PATH")` calls `.at(PATH)`."""

    name = "folder"
    description = "Your own images: folder:PATH with train/val/test/<class>/ or <class>/ sub-folders."

    def at(self, path, **kwargs) -> Dataset:
        return folder_dataset(path, **kwargs)

"""folder:PATH datasets: both layouts load; bad folders get clear messages; a corrupt image
among good ones is skipped and reported."""

import numpy as np
import pytest
from PIL import Image

from workbench import lookup


def write(path, color, size=(12, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def make(root, classes, n=10, splits=None):
    for s in splits or [None]:
        for k, cls in enumerate(classes):
            for i in range(n):
                write((root / s if s else root) / cls / f"{i}.png", (k * 120, 50, 255 - k * 120))
    return root


def test_one_folder_split_by_ratio(tmp_path):
    ds = lookup.dataset(f"folder:{make(tmp_path / 'pets', ['cats', 'dogs'], n=20)}")
    assert ds.class_names == ("cats", "dogs") and ds.image_shape == (10, 12, 3)
    sizes = [len(ds.load(s)[0]) for s in ("train", "val", "test")]
    assert sizes == [28, 6, 6]
    x, y = ds.load("train")
    assert np.all((x[..., 0].mean((1, 2)) > 0.2) == (y == 1))


def test_train_val_test_layout_and_missing_test_carved(tmp_path):
    root = make(tmp_path / "d", ["a", "b", "c"], n=10, splits=["train", "val"])
    ds = lookup.dataset(f"folder:{root}")
    assert len(ds.load("val")[0]) == 30  # the val/ folder as it is
    x_train, _ = ds.load("train")
    x_test, y_test = ds.load("test")  # 15% carved from train/
    assert len(x_train) + len(x_test) == 30 and len(x_test) == 5


def test_corrupt_image_is_skipped_and_reported(tmp_path):
    root = make(tmp_path / "d", ["a", "b"], n=10)
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    ds = lookup.dataset(f"folder:{root}")
    total = sum(len(ds.load(s)[0]) for s in ("train", "val", "test"))
    assert total == 20
    assert len(ds.notes) == 1 and "broken.jpg" in ds.notes[0]


@pytest.mark.parametrize("setup, message", [
    (lambda r: r.mkdir(), "no class sub-folders with images"),
    (lambda r: make(r, ["cats"]), r"only one class \(cats\)"),
    (lambda r: (make(r, ["cats", "dogs"], splits=["train"]), make(r, ["cats", "horses"], splits=["val"])),
     "different classes: train has cats, dogs; val has cats, horses"),
    (lambda r: make(r, ["a", "b"], splits=["val"]), "no train/ folder"),
])
def test_bad_folders(tmp_path, setup, message):
    root = tmp_path / "bad"
    setup(root)
    with pytest.raises(ValueError, match=message):
        lookup.dataset(f"folder:{root}")


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no folder"):
        lookup.dataset(f"folder:{tmp_path / 'nope'}")

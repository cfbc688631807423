"""Augmentation: the ImageDataGenerator vocabulary parsed in the core, realised by each
framework's own layers/transforms, keeping shapes and labels (numpy oracles)."""

import numpy as np
import pytest

from workbench import augment as A
from workbench import lookup


def test_parse_cli_text_dict_and_seed_preset():
    a = A.parse("rotation_range=40,horizontal_flip=true,fill_mode=reflect")
    assert (a.rotation_range, a.horizontal_flip, a.fill_mode) == (40.0, True, "reflect")
    assert A.parse({"zoom_range": 0.2}).zoom_range == 0.2
    assert A.parse("seed001") == A.SEED_001 and A.SEED_001.rotation_range == 40
    assert not A.parse(None).active and A.parse("vertical_flip=1").active


@pytest.mark.parametrize("text, message", [
    ("rotation=40", "unknown augmentation 'rotation'"), ("rotation_range=400", "between 0 and 180"),
    ("zoom_range=abc", "must be a number"), ("fill_mode=mirror", "fill_mode must be one of"),
    ("horizontal_flip=maybe", "true or false"), ("rotation_range", "KEY=VALUE"),
])
def test_parse_errors(text, message):
    with pytest.raises(ValueError, match=message):
        A.parse(text)


BACKENDS = ["pytorch", "tensorflow"]


def bars(n=6, size=12):
    x = np.zeros((n, size, size, 1), np.float32)
    x[:, 2:10, 3:5] = 1.0  # an asymmetric vertical bar
    return x


@pytest.mark.parametrize("name", BACKENDS)
def test_flip_is_a_flip(name):
    backend = lookup.backend(name)
    x = bars(16)
    out = A.preview(backend, x[0], A.Augment(horizontal_flip=True), n=16, seed=1)
    assert out.shape == x.shape
    same = [np.allclose(o, x[0]) for o in out]
    flipped = [np.allclose(o, x[0][:, ::-1]) for o in out]
    assert all(s or f for s, f in zip(same, flipped)) and any(same) and any(flipped)


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("fill, border_kept", [("nearest", True), ("constant", False)])
def test_fill_modes(name, fill, border_kept):
    backend = lookup.backend(name)
    image = np.full((16, 16, 1), 0.7, np.float32)
    out = A.preview(backend, image, A.Augment(width_shift_range=0.4, rotation_range=30, fill_mode=fill), n=8)
    assert out.shape == (8, 16, 16, 1)
    if border_kept:  # nearest repeats the edge: a flat image stays flat
        np.testing.assert_allclose(out, 0.7, atol=1e-4)
    else:  # constant fills the uncovered pixels with 0
        assert (out < 0.05).any()


@pytest.mark.parametrize("name", BACKENDS)
def test_rotation_changes_the_image(name):
    out = A.preview(lookup.backend(name), bars()[0], A.Augment(rotation_range=60), n=6, seed=3)
    assert sum(not np.allclose(o, bars()[0], atol=1e-3) for o in out) >= 4


def labelled(n=24):
    """Images whose label can be read back from them: a flat image of value (label + 1) / 10."""
    y = np.arange(n) % 4
    return np.ones((n, 10, 10, 1), np.float32) * ((y + 1) / 10)[:, None, None, None], y


def test_torch_pipeline_keeps_labels_and_shapes():
    from plugins.torch_backend import training as T

    x, y = labelled()
    loader = T.batches(T._tensors(x, y, "cpu"), 8, shuffle=True, collate_fn=T._augmented_batches(A.SEED_001))
    for xb, yb in loader:
        assert tuple(xb.shape) == (8, 1, 10, 10)
        np.testing.assert_allclose(xb.mean((1, 2, 3)).numpy(), (yb.numpy() + 1) / 10, atol=1e-4)


def test_keras_pipeline_keeps_labels_and_shapes():
    from plugins.tensorflow_backend import training as T

    x, y = labelled()
    for xb, yb in T.pipeline(x, y, 8, shuffle_seed=0, aug=T.augmentation(A.SEED_001)):
        assert tuple(xb.shape) == (8, 10, 10, 1)
        np.testing.assert_allclose(xb.numpy().mean((1, 2, 3)), (yb.numpy() + 1) / 10, atol=1e-4)

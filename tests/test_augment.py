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
    from workbench_plugins.torch_backend import training as T

    x, y = labelled()
    loader = T.batches(T._tensors(x, y, "cpu"), 8, shuffle=True, collate_fn=T._augmented_batches(A.SEED_001))
    for xb, yb in loader:
        assert tuple(xb.shape) == (8, 1, 10, 10)
        np.testing.assert_allclose(xb.mean((1, 2, 3)).numpy(), (yb.numpy() + 1) / 10, atol=1e-4)


def test_keras_pipeline_keeps_labels_and_shapes():
    from workbench_plugins.tensorflow_backend import training as T

    x, y = labelled()
    for xb, yb in T.pipeline(x, y, 8, shuffle_seed=0, aug=T.augmentation(A.SEED_001)):
        assert tuple(xb.shape) == (8, 10, 10, 1)
        np.testing.assert_allclose(xb.numpy().mean((1, 2, 3)), (yb.numpy() + 1) / 10, atol=1e-4)


def test_shear_is_limited_to_45_degrees_in_both_backends():
    # Keras' RandomShear takes tan(angle) and refuses more than 1: the core says so first, by name.
    with pytest.raises(ValueError, match=r"shear_range must be between 0 and 45 degrees.*got 60"):
        A.parse("shear_range=60")
    for name in BACKENDS:
        out = A.preview(lookup.backend(name), bars()[0], A.Augment(shear_range=45), n=4, seed=2)
        assert out.shape == (4, 12, 12, 1) and sum(not np.allclose(o, bars()[0], atol=1e-3) for o in out) >= 2


def square_areas(name, zoom, n=300):
    image = np.zeros((32, 32, 1), np.float32)
    image[12:20, 12:20] = 1.0  # 64 white pixels
    out = A.preview(lookup.backend(name), image, A.Augment(zoom_range=zoom, fill_mode="constant"), n=n, seed=5)
    return out.sum(axis=(1, 2, 3))


def test_zoom_ranges_agree_between_backends():
    # Keras (and ImageDataGenerator) draw u in [1 - z, 1 + z] and shrink the content by u: at z = 0.5
    # the square's area is 64 / u^2, from 28 (u = 1.5) to 256 (u = 0.5), 64 at the median.
    areas = {name: square_areas(name, 0.5) for name in BACKENDS}
    expected = 64 / np.array([1.45, 1.0, 0.55]) ** 2  # the 5%, 50% and 95% quantiles
    for name, a in areas.items():
        np.testing.assert_allclose(np.quantile(a, [0.05, 0.5, 0.95]), expected, rtol=0.15, err_msg=name)
        assert 25 < a.min() and a.max() < 260, name
    np.testing.assert_allclose(np.quantile(areas["pytorch"], [0.05, 0.5, 0.95]),
                               np.quantile(areas["tensorflow"], [0.05, 0.5, 0.95]), rtol=0.15)


def ramp(size=16):
    """No symmetry: every pixel differs, so a wrong fill shows."""
    r, c = np.mgrid[0:size, 0:size].astype(np.float32)
    return ((r * size + c) / size ** 2)[..., None]


@pytest.mark.parametrize("fill", ["reflect", "wrap", "nearest", "constant"])
def test_torch_fill_modes_match_keras_for_a_shift(fill, monkeypatch):
    """The same shift (4 px right, 3 px up) in both: Keras' RandomTranslation with a one-point
    range against the torch pipeline with RandomAffine's draw pinned to it."""
    import keras

    from workbench_plugins.torch_backend import training as T

    x = ramp()[None]
    keras_out = np.asarray(keras.layers.RandomTranslation((-3 / 16, -3 / 16), (4 / 16, 4 / 16), fill_mode=fill)(
        x, training=True))
    monkeypatch.setattr(T._affine_class(), "make_params",
                        lambda self, inputs: dict(angle=0.0, translate=(4, -3), scale=1.0, shear=(0.0, 0.0)))
    torch_out = T.augment(x, A.Augment(width_shift_range=0.25, height_shift_range=0.2, fill_mode=fill))
    assert not np.allclose(keras_out, x)
    np.testing.assert_allclose(torch_out, keras_out, atol=1e-5)


def coded(n=16):
    """Non-flat images whose label can be read back: background (label + 1) / 10 and a white bar."""
    y = np.arange(n) % 4
    x = np.ones((n, 12, 12, 1), np.float32) * ((y + 1) / 10)[:, None, None, None]
    x[:, 2:10, 5:7] = 1.0
    return x, y


def check_augmented(x, y, xb, yb):
    """The batch is the images changed, each still with its own label (read from the background)."""
    np.testing.assert_array_equal(yb, y)
    changed = [not np.allclose(a, b, atol=1e-3) for a, b in zip(xb, x)]
    assert sum(changed) >= len(x) - 2
    background = np.median(xb.reshape(len(xb), -1), axis=1)  # the bar's blurred edge may nudge it
    np.testing.assert_array_equal(np.rint(background * 10) - 1, yb)


SEED_001_NEAREST = A.Augment(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=20,
                             zoom_range=0.2, fill_mode="nearest")


def test_torch_training_batches_are_augmented():
    import torch

    from workbench_plugins.torch_backend import training as T

    x, y = coded()
    torch.manual_seed(0)
    (xb, yb), = list(T.batches(T._tensors(x, y, "cpu"), len(x), collate_fn=T._augmented_batches(SEED_001_NEAREST)))
    check_augmented(x, y, xb.numpy().transpose(0, 2, 3, 1), yb.numpy())


def test_keras_training_batches_are_augmented():
    from workbench_plugins.tensorflow_backend import training as T

    x, y = coded()
    xb, yb = next(iter(T.pipeline(x, y, len(x), aug=T.augmentation(SEED_001_NEAREST))))
    check_augmented(x, y, xb.numpy(), yb.numpy())

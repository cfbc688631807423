"""Deletion / insertion scores (workbench/explain/faithfulness.py) against hand computations
(issue 17, mutation 5: the random baseline averaged over the wrong axis). The model is a linear
"classifier" written in numpy behind the one backend call the scores use, `predict`, so every
curve point can be worked out by hand: P(class 0) is a weighted mean of the image's pixels."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from workbench.explain.faithfulness import auc, curve, deletion_insertion, mean_scores, pixel_order, random_baseline, random_maps


class LinearBackend:
    """predict(model, x) -> [p, 1 - p] with p = sum(w * x[..., 0]) / sum(w); model is w (H, W)."""

    name = "numpy"

    def __init__(self):
        self.batches = []

    def predict(self, model, x, batch_size=None):
        self.batches.append((len(x), batch_size))
        p = (x[..., 0] * model).sum(axis=(1, 2)) / model.sum()
        return np.stack([p, 1 - p], axis=1)


def test_auc_is_the_trapezoid_rule_over_zero_to_one():
    assert auc([0.0, 1.0]) == pytest.approx(0.5)
    assert auc([1.0, 1.0, 1.0]) == pytest.approx(1.0)
    assert auc([0.0, 0.0, 1.0]) == pytest.approx(0.25)  # (0 + 0) / 2 * 0.5 + (0 + 1) / 2 * 0.5
    assert auc([1.0, 0.5, 0.5, 0.0]) == pytest.approx((0.75 + 0.5 + 0.25) / 3)
    values = np.random.default_rng(0).random(21)
    assert auc(values) == pytest.approx(np.trapezoid(values, np.linspace(0, 1, 21)))


def test_pixel_order_single_pixels_most_important_first_ties_in_reading_order():
    saliency = np.array([[0.1, 0.9, 0.5],
                         [0.9, 0.2, 0.0]])
    assert pixel_order(saliency).tolist() == [1, 3, 2, 4, 0, 5]


def test_pixel_order_moves_squares_ranked_by_their_mean():
    # 4 x 4 in 2 x 2 squares; square means: top-left 1.0, top-right 4.0, bottom-left 2.5, bottom-right 0.5
    saliency = np.array([[1, 1, 8, 0],
                         [1, 1, 4, 4],
                         [0, 5, 0, 1],
                         [5, 0, 1, 0]], float)
    order = pixel_order(saliency, cell=2)
    top_right, bottom_left, top_left, bottom_right = [2, 3, 6, 7], [8, 9, 12, 13], [0, 1, 4, 5], [10, 11, 14, 15]
    assert order.tolist() == top_right + bottom_left + top_left + bottom_right  # within a square: reading order
    # a ragged edge (5 x 5 in squares of 2): the last row and column make squares of their own
    ragged = pixel_order(np.arange(25.0).reshape(5, 5), cell=2)
    assert sorted(ragged.tolist()) == list(range(25)) and ragged[0] == 24


def test_curve_switches_pixels_in_order_and_reads_the_target():
    backend = LinearBackend()
    weights = np.arange(1.0, 7.0).reshape(2, 3)  # w = 1..6 in reading order
    image = np.ones((2, 3, 1), np.float32)
    finish = np.zeros_like(image)
    order = np.array([5, 0, 4, 1, 3, 2])
    values = curve(backend, weights, image, 0, order, image, finish, steps=3, batch=2)
    # 0, 2, 4, 6 pixels switched off: the pixels of weights 6 and 1, then also 5 and 2, then all
    assert values == pytest.approx([1.0, 1 - 7 / 21, 1 - 14 / 21, 0.0])
    other = curve(backend, weights, image, 1, order, image, finish, steps=3, batch=2)
    assert other == pytest.approx(1 - values)
    assert backend.batches[-1] == (4, 2)  # one call for all the frames, in the batch size asked for


class Weights(np.ndarray):
    """The linear model's weights as a model object the batch-size memory can key on (weakly, by identity)."""

    __hash__, __eq__ = object.__hash__, object.__eq__


def test_curve_without_a_batch_size_measures_one_on_this_model_and_image():
    from workbench.explain import batching

    backend = LinearBackend()
    backend.device = lambda: "cpu"
    weights = np.arange(1.0, 7.0).reshape(2, 3).view(Weights)
    image = np.ones((2, 3, 1), np.float32)
    order = np.array([5, 0, 4, 1, 3, 2])
    values = curve(backend, weights, image, 0, order, image, np.zeros_like(image), steps=3)
    assert values == pytest.approx([1.0, 1 - 7 / 21, 1 - 14 / 21, 0.0])
    chosen = batching._chosen[weights][((2, 3, 1), "cpu")]  # measured on copies of this image, for this model
    assert chosen in batching.CPU_SIZES and backend.batches[-1] == (4, chosen)
    assert {size for n, size in backend.batches[:-1]} <= set(batching.CPU_SIZES)  # the trials


def test_deletion_and_insertion_by_hand():
    backend = LinearBackend()
    rng = np.random.default_rng(1)
    weights = rng.random((8, 8)) + 0.1
    image = rng.random((1, 8, 8, 1)).astype(np.float32)
    saliency = weights[None]  # the "true" map of a linear model
    (result,) = deletion_insertion(backend, weights, image, [0], saliency, steps=4, blur=2, cell=1, batch=16)
    blurred = gaussian_filter(image[0], sigma=(2, 2, 0))
    order = np.argsort(-weights.ravel(), kind="stable")
    p = lambda x: (x[..., 0] * weights).sum() / weights.sum()  # noqa: E731
    expected_del, expected_ins = [], []
    for count in np.linspace(0, 64, 5).astype(int):
        gone = np.zeros(64, bool)
        gone[order[:count]] = True
        mask = gone.reshape(8, 8, 1)
        expected_del.append(p(np.where(mask, blurred, image[0])))
        expected_ins.append(p(np.where(mask, image[0], blurred)))
    np.testing.assert_allclose(result["deletion"], expected_del, rtol=1e-5)
    np.testing.assert_allclose(result["insertion"], expected_ins, rtol=1e-5)
    assert result["deletion_auc"] == pytest.approx(auc(expected_del))
    assert result["insertion_auc"] == pytest.approx(auc(expected_ins))


def test_random_baseline_is_the_mean_over_seeds_per_image():
    backend = LinearBackend()
    rng = np.random.default_rng(2)
    weights = rng.random((6, 6)) ** 4  # uneven: each random order gives another curve
    images = rng.random((2, 6, 6, 1)).astype(np.float32)
    targets = [0, 1]
    kwargs = dict(steps=5, blur=1, cell=1, batch=8)
    per_seed = [deletion_insertion(backend, weights, images, targets, random_maps((2, 6, 6), seed), **kwargs)
                for seed in (4, 5, 6)]
    baseline = random_baseline(backend, weights, images, targets, seeds=3, first=4, **kwargs)
    assert len(baseline) == 2
    for i, result in enumerate(baseline):
        for kind in ("deletion", "insertion"):
            by_hand = np.mean([per_seed[s][i][kind] for s in range(3)], axis=0)  # over the seeds, point by point
            assert result[kind].shape == (6,)
            np.testing.assert_allclose(result[kind], by_hand, rtol=1e-6)
            assert result[f"{kind}_auc"] == pytest.approx(auc(by_hand))
    # the seeds really differ, and the two images are averaged apart
    assert not np.allclose(per_seed[0][0]["deletion"], per_seed[1][0]["deletion"])
    assert not np.allclose(baseline[0]["deletion"], baseline[1]["deletion"])
    scores = mean_scores(baseline)
    assert scores["deletion_auc"] == pytest.approx((baseline[0]["deletion_auc"] + baseline[1]["deletion_auc"]) / 2)


def test_random_maps_are_seeded_uniform_noise():
    a, b, c = random_maps((2, 5, 5), 0), random_maps((2, 5, 5), 0), random_maps((2, 5, 5), 1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 5, 5) and a.dtype == np.float32 and 0 <= a.min() and a.max() < 1
    assert not np.array_equal(a, c)


def test_the_defaults_scale_with_the_image_twenty_steps_squares_and_blur_of_a_28th():
    """At 56 x 56 the defaults are squares of 2 px and a blur of sigma 2 (1/28 of the side), 21 points."""
    backend = LinearBackend()
    rng = np.random.default_rng(3)
    weights = rng.random((56, 48)) + 0.1  # not square: the side is the image's height
    image = rng.random((1, 56, 48, 1)).astype(np.float32)
    (result,) = deletion_insertion(backend, weights, image, [0], weights[None], batch=64)
    (by_hand,) = deletion_insertion(backend, weights, image, [0], weights[None], steps=20, blur=2, cell=2, batch=64)
    assert result["deletion"].shape == (21,)
    np.testing.assert_allclose(result["deletion"], by_hand["deletion"], rtol=1e-6)
    np.testing.assert_allclose(result["insertion"], by_hand["insertion"], rtol=1e-6)
    blurred = gaussian_filter(image[0], sigma=(2, 2, 0))  # no blur across the channels
    assert result["deletion"][-1] == pytest.approx((blurred[..., 0] * weights).sum() / weights.sum(), rel=1e-5)
    # the squares are the `cell` asked for: the same curve as through pixel_order(map, 2) (at
    # curve's own default of 20 steps), and another one with cell 1
    square_order = pixel_order(weights, 2)
    np.testing.assert_allclose(curve(backend, weights, image[0], 0, square_order, image[0], blurred, batch=64),
                               by_hand["deletion"], rtol=1e-6)
    (single,) = deletion_insertion(backend, weights, image, [0], weights[None], steps=20, blur=2, cell=1, batch=64)
    assert np.abs(single["deletion"] - by_hand["deletion"]).max() > 1e-3
    assert set(mean_scores([result])) == {"deletion_auc", "insertion_auc"}
    assert mean_scores([result])["insertion_auc"] == pytest.approx(result["insertion_auc"])

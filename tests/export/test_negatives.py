"""The "not a digit" training data and the calibration maths: torch-free, seeded, checked."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitlens.export import negatives as neg
from digitlens.export.calibration import ece, fit_temperature, nll


@pytest.fixture(scope="module")
def digits():
    """Forty blocky synthetic 'digits' (uint8 28x28): enough for the fragment and pair families."""
    rng = np.random.default_rng(0)
    out = np.zeros((40, 28, 28), np.uint8)
    for i in range(40):
        x0, y0 = rng.integers(4, 10, 2)
        out[i, y0 : y0 + 16, x0 : x0 + 3] = 255
        out[i, y0 : y0 + 3, x0 : x0 + 10] = 255
        out[i, y0 + 13 : y0 + 16, x0 : x0 + 10] = 255
    return out, (np.arange(40) % 10).astype(np.uint8)


def test_generate_is_deterministic_and_shaped_like_mnist_crops(digits):
    a, fa = neg.generate(60, 7, *digits)
    b, fb = neg.generate(60, 7, *digits)
    c, _ = neg.generate(60, 8, *digits)
    assert a.shape == (60, 28, 28) and a.dtype == np.float32 and fa.shape == (60,)
    assert np.array_equal(a, b) and np.array_equal(fa, fb)
    assert not np.array_equal(a, c)
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert (a.reshape(60, -1).max(1) > 0.5).all()  # every crop holds a mark, none is blank
    # normalised like a pipeline crop: the mark's centre of mass near the centre of the 28x28 frame
    ys, xs = np.mgrid[0:28, 0:28]
    m = a.sum((1, 2))
    cy, cx = (a * ys).sum((1, 2)) / m, (a * xs).sum((1, 2)) / m
    assert np.abs(cy - 13.5).max() < 2.5 and np.abs(cx - 13.5).max() < 2.5


@pytest.mark.parametrize("family", neg.ALL_FAMILIES)
def test_every_family_makes_marks(family, digits):
    rng = np.random.default_rng(1)
    crops = np.stack([neg.make(rng, family, *digits) for _ in range(5)])
    assert crops.shape == (5, 28, 28) and (crops.reshape(5, -1).max(1) > 0.5).all()


def test_turned_digits_are_opt_in_and_only_of_classes_that_turn_into_no_digit(digits):
    _, fam = neg.generate(30, 2, *digits)
    assert neg.ALL_FAMILIES.index("turned") not in set(fam.tolist())  # the default draw: as before
    # an asymmetric mark: a bar with a foot to the right, so each turn is told apart
    img = np.zeros((28, 28), np.uint8)
    img[4:24, 12:15] = 255
    img[21:24, 12:22] = 255
    labels = np.array([7, 1, 8, 0], np.uint8)  # only the 7 may be turned
    digits = np.stack([img, np.zeros_like(img), np.zeros_like(img), np.zeros_like(img)])
    rng = np.random.default_rng(5)
    upright = img[4:24, 12:22].astype(np.float32) / 255
    for _ in range(12):  # blank images stand for the 1, 8 and 0: drawing one would fail
        ink = neg.turned(rng, digits, labels)
        same = cv2.resize(upright, (ink.shape[1], ink.shape[0]), interpolation=cv2.INTER_AREA)
        assert float(np.corrcoef(same.ravel(), ink.ravel())[0, 1]) < 0.5  # the 7 was turned
    crops, fam = neg.generate(6, 2, digits, labels, families=("turned",))
    assert set(fam.tolist()) == {neg.ALL_FAMILIES.index("turned")} and (crops.reshape(6, -1).max(1) > 0.5).all()
    with pytest.raises(ValueError, match="labels"):
        neg.make(np.random.default_rng(0), "turned", digits)


def test_families_follow_their_weights_and_need_digits_for_pieces(digits):
    _, fam = neg.generate(400, 3, *digits)
    counts = np.bincount(fam, minlength=len(neg.FAMILIES))
    assert (counts > 0).all()
    assert counts[neg.FAMILIES.index("operator")] > counts[neg.FAMILIES.index("shadow")]
    _, fam = neg.generate(50, 3)  # no digits given: no fragments or pairs
    assert not set(fam.tolist()) & {neg.FAMILIES.index("fragment"), neg.FAMILIES.index("pair")}
    with pytest.raises(ValueError, match="needs digit images"):
        neg.make(np.random.default_rng(0), "pair")
    with pytest.raises(ValueError, match="unknown family"):
        neg.make(np.random.default_rng(0), "cat")


def test_a_vertical_bar_is_never_a_negative():
    bar = np.zeros((28, 28), np.float32)
    bar[4:24, 13:15] = 1.0
    assert neg.looks_like_one(bar)
    assert not neg.looks_like_one(bar.T)  # a dash is no "1"
    cross = np.maximum(bar, bar.T)
    assert not neg.looks_like_one(cross)


def test_operators_cover_the_issue_list():
    rng = np.random.default_rng(0)
    for sym in "+-×÷=.,:/()%":
        ink = neg.operator(rng, sym)
        assert ink.shape == (96, 96) and ink.max() > 0.5, sym
    with pytest.raises(ValueError, match="unknown operator"):
        neg.operator(rng, "#")


def test_fit_temperature_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, (20000, 11))
    true_t = 2.5
    p = np.exp(logits / true_t)
    p /= p.sum(1, keepdims=True)
    labels = np.array([rng.choice(11, p=row) for row in p])
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(true_t, rel=0.08)
    assert nll(logits, labels, t) < nll(logits, labels, 1.0)
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((0, 3)), np.zeros(0))


def test_grouped_temperature_lets_a_small_group_count_as_much_as_a_large_one():
    rng = np.random.default_rng(1)

    def sample(n, t):
        logits = rng.normal(0, 4, (n, 11))
        p = np.exp(logits / t)
        p /= p.sum(1, keepdims=True)
        return logits, np.array([rng.choice(11, p=row) for row in p])

    big, small = sample(18000, 1.0), sample(2000, 3.0)  # many clean digits, few hard photo crops
    logits, labels = np.concatenate([big[0], small[0]]), np.concatenate([big[1], small[1]])
    groups = np.repeat([0, 1], [18000, 2000])
    pooled = fit_temperature(logits, labels)
    grouped = fit_temperature(logits, labels, groups=groups)
    assert pooled < 1.5 < grouped < 3.0  # the pooled fit follows the big group; the grouped one sits between
    with pytest.raises(ValueError, match="one group per sample"):
        fit_temperature(logits, labels, groups=groups[:10])


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    n = 1000
    probs = np.zeros((n, 2))
    probs[:, 0] = 0.8
    probs[:, 1] = 0.2
    labels = np.zeros(n, np.int64)
    labels[:200] = 1  # 80% right at 80% confidence
    assert ece(probs, labels) == pytest.approx(0.0, abs=1e-9)
    sure = np.zeros((n, 2))
    sure[:, 0] = 1.0
    assert ece(sure, labels) == pytest.approx(0.2)
    assert ece(np.zeros((0, 2)), np.zeros(0)) == 0.0

"""Training crops cut by the project's own pipeline from generated photos, labelled by their truth."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.export import data as mnist
from digitlens.export.scene_crops import NOT_DIGIT, real_scene_crops, scene_crops


@pytest.fixture(scope="module")
def train_digits(data_dir):
    split = mnist.load_split("train", data_dir)
    return split.images[:3000], split.labels[:3000]


def test_real_scene_crops_keep_true_digits_only_by_default(train_digits):
    x, y = real_scene_crops(3, *train_digits, seed=5)
    assert x.shape[1:] == (28, 28) and x.dtype == np.float32 and len(x) == len(y)
    assert len(y) >= 10  # three pages of writing give crops
    assert y.min() >= 0 and y.max() <= 9  # no unmatched crop (a keycap legend, a mark) is labelled
    x2, y2 = real_scene_crops(3, *train_digits, seed=5)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)  # seeded


def test_real_scene_crops_with_unmatched_add_negatives_and_keep_the_digits(train_digits):
    x, y = real_scene_crops(3, *train_digits, seed=5)
    xa, ya = real_scene_crops(3, *train_digits, seed=5, unmatched=True)
    assert len(ya) >= len(y)
    digit = ya != NOT_DIGIT
    assert np.array_equal(ya[digit], y) and np.array_equal(xa[digit], x)  # the same digit crops, plus negatives


def test_real_scene_crops_are_upright_digits_that_the_labels_describe(train_digits, reader):
    """The shipped model reads most labelled crops as their label: the boxes were matched, not shuffled."""
    x, y = real_scene_crops(4, *train_digits, seed=9)
    pred = reader.recognizer.logits(x).argmax(1)
    assert np.mean(pred == y) > 0.5  # shuffled labels would agree one time in ten; the misses are why they train


def test_classic_scene_crops_label_unmatched_crops_not_digit(train_digits):
    x, y = scene_crops(3, *train_digits, seed=2)
    assert len(x) == len(y) > 0
    assert set(np.unique(y)) <= set(range(11))
    assert (y < NOT_DIGIT).mean() > 0.5  # most crops of a page of digits are digits

"""Handwritten non-digit marks: shapes, determinism, jitter."""

import numpy as np
import pytest

from digitlens.synth.marks import LETTERS, MARKS, OPERATORS, draw_mark, random_mark, tight


@pytest.mark.parametrize("symbol", MARKS)
def test_every_mark_draws_ink_in_a_cell_of_the_asked_height(symbol):
    ink = draw_mark(symbol, 48, np.random.default_rng(1), stroke=3.0)
    assert ink.dtype == np.float32 and ink.ndim == 2 and ink.shape[0] == 48
    assert 3 <= ink.shape[1] <= 48 * 1.6
    assert 0.0 <= ink.min() and ink.max() <= 1.0
    assert (ink > 0.5).sum() >= 4  # there is a stroke
    assert (ink > 0.5).mean() < 0.6  # and it is a stroke, not a blot


def test_marks_are_deterministic_per_seed_and_vary_between_seeds():
    a = draw_mark("+", 40, np.random.default_rng(7))
    b = draw_mark("+", 40, np.random.default_rng(7))
    c = draw_mark("+", 40, np.random.default_rng(8))
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_marks_sit_where_a_writer_puts_them():
    rng = np.random.default_rng(0)
    rows = lambda ink: np.nonzero(tight_rows(ink))[0]  # noqa: E731
    dot, minus, bracket = draw_mark(".", 60, rng, 4.0), draw_mark("-", 60, rng, 4.0), draw_mark("(", 60, rng, 4.0)
    assert rows(dot).min() > 40  # a full stop on the baseline
    assert 20 < rows(minus).mean() < 45  # a minus at mid height
    assert rows(bracket).max() - rows(bracket).min() > 40  # a bracket spans the line


def tight_rows(ink):
    return (ink > 0.5).any(axis=1)


def test_pen_width_follows_stroke():
    thin = draw_mark("H", 64, np.random.default_rng(3), stroke=2.0)
    thick = draw_mark("H", 64, np.random.default_rng(3), stroke=8.0)
    assert (thick > 0.5).sum() > 2.0 * (thin > 0.5).sum()


def test_tight_crop_and_pools():
    ink = draw_mark("=", 50, np.random.default_rng(2), 3.0)
    t = tight(ink)
    assert t.shape[0] < ink.shape[0] and (t > 0.15).any(axis=1)[[0, -1]].all()
    rng = np.random.default_rng(0)
    assert random_mark(rng, "operators") in OPERATORS and random_mark(rng, "letters") in LETTERS
    with pytest.raises(ValueError, match="unknown mark"):
        draw_mark("7", 40, rng)


def test_tiny_marks_still_draw():
    for s in ("÷", "%", "."):
        ink = draw_mark(s, 8, np.random.default_rng(0))
        assert ink.shape[0] == 8 and ink.max() > 0.2

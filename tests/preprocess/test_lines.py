"""Reading order along skewed and bending lines (digitlens.preprocess.lines)."""

import numpy as np
import pytest

from digitlens.preprocess.lines import group_lines, skew_angle


def _line(n: int, x0: float, y0: float, angle: float, step: float = 30.0, h: float = 30.0, w: float = 18.0):
    t = np.radians(angle)
    return [(x0 + k * step * np.cos(t), y0 + k * step * np.sin(t), w, h) for k in range(n)]


@pytest.mark.parametrize("angle", [-40.0, -25.0, -10.0, 0.0, 12.0, 30.0, 40.0])
def test_skew_is_the_direction_of_the_lines(angle):
    boxes = np.array(_line(8, 100, 300, angle) + _line(8, 100 - 70 * np.sin(np.radians(angle)), 370, angle))
    assert skew_angle(boxes) == pytest.approx(angle, abs=3.0)


@pytest.mark.parametrize("angle", [-35.0, 0.0, 35.0])
def test_tilted_lines_are_read_line_by_line_left_to_right(angle):
    t = np.radians(angle)
    first = _line(7, 100, 400, angle)
    # the second line starts one line-spacing below the first, measured across the lines
    second = _line(7, 100 - 60 * np.sin(t), 400 + 60 * np.cos(t), angle)
    boxes = np.array(first + second)
    shuffled = np.random.default_rng(0).permutation(len(boxes))
    order, number, _ = group_lines(boxes[shuffled])
    read = shuffled[order]
    assert list(read) == list(range(14))
    assert list(number) == [0] * 7 + [1] * 7


def test_a_bending_line_stays_one_line():
    # a curled page: the line drifts down by two digit heights over its length
    boxes = np.array([(20 + 30 * k, 100 + 0.08 * (30 * k) ** 1.3 / 3, 18, 30) for k in range(20)])
    below = np.array([(20 + 30 * k, 200 + 0.08 * (30 * k) ** 1.3 / 3, 18, 30) for k in range(20)])
    order, number, _ = group_lines(np.concatenate([boxes, below]))
    assert list(order) == list(range(40))
    assert number.max() == 1


def test_empty_and_single():
    order, number, angle = group_lines(np.zeros((0, 4)))
    assert len(order) == 0 and len(number) == 0 and angle == 0.0
    order, number, _ = group_lines(np.array([(5, 5, 10, 20)]))
    assert list(order) == [0] and list(number) == [0]

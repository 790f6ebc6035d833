"""Lines drawn under or through the writing are taken out; the digits on them stay whole."""

import cv2
import numpy as np
import pytest

from digitlens.inference import Reader
from digitlens.preprocess import PreprocessConfig
from digitlens.preprocess.underline import cut_underlines, level_runs, sloping_lines
from tests.conftest import paper_with_digits


def _pieces(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [tuple(int(v) for v in stats[i, :4]) for i in range(1, n)]


def _loops_on_a_line(line_y: int = 80, tilt: float = 0.0) -> np.ndarray:
    mask = np.zeros((120, 400), np.uint8)
    for cx in (80, 180, 280):  # three upright rings standing for 0s, each touching the line
        cv2.ellipse(mask, (cx, line_y - 25), (15, 25), 0, 0, 360, 255, 3)
    dy = round(np.tan(np.radians(tilt)) * 360)
    cv2.line(mask, (20, line_y), (380, line_y + dy), 255, 3)
    return mask


def _turned(mask: np.ndarray, angle: float) -> np.ndarray:
    """The mask turned by `angle` degrees about its centre on a canvas large enough (binary again)."""
    big = cv2.copyMakeBorder(mask, 150, 150, 50, 50, cv2.BORDER_CONSTANT, value=0)
    h, w = big.shape
    M = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    return (cv2.warpAffine(big, M, (w, h), flags=cv2.INTER_LINEAR) > 127).astype(np.uint8) * 255


def test_level_runs_find_long_level_runs_only():
    mask = np.zeros((60, 200), np.uint8)
    mask[20:23, 10:190] = 255  # a long line
    mask[40:43, 10:40] = 255  # a short dash
    mask[5:55, 100:103] = 255  # an upright bar crossing the line
    runs = level_runs(mask, 60)
    assert runs[21, 10:190].all()  # the whole line...
    assert not runs[40:43].any()  # ...not the dash
    assert not runs[5:18, 100:103].any() and not runs[26:55, 100:103].any()  # ...nor the bar beyond the line


@pytest.mark.parametrize("tilt", [0.0, 0.4])
def test_digits_sitting_on_a_line_come_apart_whole(tilt):
    mask = _loops_on_a_line(tilt=tilt)
    assert len(_pieces(mask)) == 1  # line and digits are one piece
    out, taken = cut_underlines(mask, 3.0)
    pieces = [p for p in _pieces(out) if p[3] >= 20]
    assert len(pieces) == 3  # each ring on its own
    for _x, _y, w, h in pieces:
        # ...whole: about its drawn size (53 px), with at most the line's width under it where it rests on it
        assert 25 <= w <= 40 and 45 <= h <= 53 + 5
    assert cv2.countNonZero(taken) > 300  # the line went...
    rows = np.flatnonzero(taken.any(axis=1))
    assert rows.max() - rows.min() <= 12  # ...and only the line: a band a few pen widths high


@pytest.mark.parametrize("angle", [-25.0, -10.0, 12.0, 35.0])
def test_digits_on_a_sloping_line_come_apart(angle):
    # a page photographed at a slant: the line and the rings on it slope together, beyond a
    # level run's slack, and join into one piece whose skew no pair of digits can tell
    mask = _turned(_loops_on_a_line(), angle)
    assert len(_pieces(mask)) == 1
    out, taken = cut_underlines(mask, 3.0)
    rings = [p for p in _pieces(out) if max(p[2], p[3]) >= 30]
    assert len(rings) == 3  # each ring on its own...
    assert cv2.countNonZero(taken) > 600  # ...the line gone (360 px long, 3 wide)...
    assert cv2.countNonZero(out) > 0.9 * (cv2.countNonZero(mask) - cv2.countNonZero(taken))  # ...nothing else
    if abs(angle) >= 20:  # off: level lines only, the sloping one stays (10 degrees is within their slack)
        kept, none = cut_underlines(mask, 3.0, PreprocessConfig(underline_slopes=0))
        assert len(_pieces(kept)) == 1 and not none.any()


def test_sloping_lines_finds_the_direction_and_leaves_level_and_steep_ones():
    line = np.zeros((300, 500), np.uint8)
    cv2.line(line, (50, 100), (450, 100 + round(400 * np.tan(np.radians(20)))), 255, 3)
    ((angle, segments),) = sloping_lines(line, 3.0)
    assert abs(angle - 20.0) < 1.5 and segments.shape[1] == 4  # falling to the right: positive, as lines.skew_angle
    level = np.zeros((300, 500), np.uint8)
    cv2.line(level, (50, 150), (450, 150), 255, 3)
    steep = np.zeros((300, 500), np.uint8)
    cv2.line(steep, (200, 20), (300, 280), 255, 3)  # 69 degrees: a margin rule, not an underline
    assert sloping_lines(level, 3.0) == [] and sloping_lines(steep, 3.0) == []


def test_a_solid_region_beside_a_sloping_underline_is_left_out_of_the_search():
    # a strip of dark desk holds straight runs in every direction; it is not searched, so it
    # neither costs the transform its pixels nor turns anything, and the underline still goes
    mask = _turned(_loops_on_a_line(), -20.0)
    mask[:, :40] = 255  # the desk along the frame, clear of the writing (from x = 72)
    ((angle, segments),) = sloping_lines(mask, 3.0)
    assert abs(abs(angle) - 20.0) < 2.0 and (segments[:, [0, 2]] > 40).all()
    out, taken = cut_underlines(mask, 3.0)
    assert taken.any() and not taken[:, :40].any()
    assert (out[:, :40] == 255).all()
    assert len([p for p in _pieces(out[:, 50:]) if max(p[2], p[3]) >= 30]) == 3


def test_a_sloping_edge_with_nothing_on_it_is_left_alone():
    # a sheet's edge or a ruler at a slant: straight and long, but no writing hangs on it
    mask = np.zeros((300, 500), np.uint8)
    cv2.line(mask, (20, 40), (480, 40 + round(460 * np.tan(np.radians(15)))), 255, 3)
    cv2.circle(mask, (250, 250), 20, 255, 3)  # a digit well apart from it
    out, taken = cut_underlines(mask, 3.0)
    assert np.array_equal(out, mask) and not taken.any()


def test_a_stroke_crossing_the_line_stays_one_piece():
    mask = _loops_on_a_line()
    mask[40:110, 340:343] = 255  # a 1 written through the line, below and above it
    out, _ = cut_underlines(mask, 3.0)
    tall = [p for p in _pieces(out) if p[0] <= 341 <= p[0] + p[2]]
    assert len(tall) == 1 and tall[0][3] >= 68


def test_lines_alone_short_bars_and_solid_bars_are_left_alone():
    mask = np.zeros((200, 400), np.uint8)
    mask[20:23, 20:380] = 255  # a line alone (a dash, a minus or a rule: for the recogniser or the rule tracer)
    cv2.line(mask, (60, 100), (100, 100), 255, 3)  # a 7: its bar is shorter than the digit is tall
    cv2.line(mask, (100, 100), (75, 160), 255, 3)
    mask[170:190, 20:380] = 255  # a solid bar (an object), digits on it or not
    mask[140:170, 200:203] = 255
    out, taken = cut_underlines(mask, 3.0)
    assert np.array_equal(out, mask) and not taken.any()


def _two(mask: np.ndarray, x: int, base: int = 90, h: int = 50, w: int = 36) -> None:
    """A 2: a hook at the top, a stroke down to the left, a flat base running right."""
    cv2.ellipse(mask, (x + w // 2, base - h + 12), (w // 2, 12), 0, 180, 360, 255, 3)
    cv2.line(mask, (x + w, base - h + 12), (x, base), 255, 3)
    cv2.line(mask, (x, base), (x + w + 12, base), 255, 3)


def test_the_joined_bases_of_touching_2s_are_no_underline():
    mask = np.zeros((120, 300), np.uint8)
    for x in (20, 68, 116, 164):  # each base runs on into the next 2's
        _two(mask, x)
    assert len(_pieces(mask)) == 1
    out, taken = cut_underlines(mask, 3.0)
    assert np.array_equal(out, mask) and not taken.any()  # a 2's stem comes down on each end
    underlined = mask.copy()
    cv2.line(underlined, (5, 90), (295, 90), 255, 3)  # the same 2s on a line running on past them
    assert cv2.countNonZero(cut_underlines(underlined, 3.0)[1]) > 0


def test_a_foot_drawn_along_the_line_stays_with_its_digit():
    mask = np.zeros((120, 400), np.uint8)
    for x in (40, 150, 260):  # 2s whose bases lie on the line, a little above its middle
        _two(mask, x, base=88)
    cv2.line(mask, (5, 90), (395, 90), 255, 3)
    cv2.line(mask, (340, 93), (370, 93), 255, 3)  # a thicker stretch of the line, far from any digit
    out, taken = cut_underlines(mask, 3.0)
    twos = sorted(p for p in _pieces(out) if p[3] >= 30)
    assert len(twos) == 3  # apart...
    for (x, _y, w, _h), left in zip(twos, (40, 150, 260), strict=True):
        assert x <= left + 2 and w >= 36 + 12 - 4  # ...each with its whole base
    assert taken[:, 340:371].any()  # the line's own thick stretch still goes: no writing meets it
    footless, _ = cut_underlines(mask, 3.0, PreprocessConfig(underline_along=0))
    assert all(w < 36 + 12 - 4 for _x, _y, w, h in _pieces(footless) if h >= 30)  # the base went with the line


def test_off_when_length_is_zero():
    mask = _loops_on_a_line()
    out, taken = cut_underlines(mask, 3.0, PreprocessConfig(underline_length=0))
    assert np.array_equal(out, mask) and not taken.any()


def test_an_underlined_number_reads(mnist_test):
    idx = [0, 1, 2, 4]  # 7, 2, 1, 4 (no 0 or 6 whose loop may sit on the line: a fair test for any model)
    img, boxes = paper_with_digits([mnist_test.images[i] for i in idx], height=60, origin=(100, 150), gap=0.15)
    bottom = max(y + h for _x, y, _w, h in boxes)
    cv2.line(img, (boxes[0][0] - 30, bottom), (boxes[-1][0] + boxes[-1][2] + 30, bottom), 30, 3)
    truth = "".join(str(mnist_test.labels[i]) for i in idx)
    assert Reader(rotate=0).read(img).text == truth
    plain = Reader(rotate=0, config=PreprocessConfig(underline_length=0)).read(img).text
    assert plain != truth  # without the stage the underlined number is one piece


def test_an_underlined_number_photographed_at_a_slant_reads(mnist_test):
    idx = [0, 1, 2, 4]  # 7, 2, 1, 4
    img, boxes = paper_with_digits([mnist_test.images[i] for i in idx], height=60, origin=(150, 250), gap=0.15)
    bottom = max(y + h for _x, y, _w, h in boxes)
    cv2.line(img, (boxes[0][0] - 30, bottom), (boxes[-1][0] + boxes[-1][2] + 30, bottom), 30, 3)
    h, w = img.shape[:2]
    M = cv2.getRotationMatrix2D((w / 2, h / 2), 22.0, 1.0)  # turned 22 degrees: the line slopes, digits lean
    img = cv2.warpAffine(img, M, (w, h), borderMode=cv2.BORDER_REPLICATE)
    truth = "".join(str(mnist_test.labels[i]) for i in idx)
    assert Reader().read(img).text == truth
    assert Reader(config=PreprocessConfig(underline_slopes=0)).read(img).text != truth

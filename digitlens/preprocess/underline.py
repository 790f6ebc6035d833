"""Lines drawn under (or through) the writing: an underline, a sum's bar, one rule of a strip.

A number is often underlined, a column of a sum ends in a bar, and a strip cut from a ruled
page keeps one rule that the digits sit on.  Such a line touches the digits, so digits and
line become one wide piece that no cut into digits reads; and a lone line is no family of
rules (`threshold.find_rules` keeps a rule only among parallel ones or when it spans the
image).  What tells it from a digit's own stroke is length: a straight level run longer
than `underline_length` times the height of the piece it belongs to is no part of a digit
(the bar of a 7 or a 5 is shorter than the digit is tall).  Runs of a piece no taller than
the run itself (a dash, a minus, a line alone) are left to the recogniser, which reports
them as marks.

The run is taken out of the mask; where a stroke crosses it (a 4 or a 7 written through
the line) the gap is closed across the line's width, so the digit stays whole.

Pure functions on numpy arrays.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitlens.preprocess.config import PreprocessConfig
from digitlens.preprocess.scale import writing_size


def level_runs(mask: np.ndarray, length: int, slack: int = 3) -> np.ndarray:
    """uint8 mask of the straight, roughly level runs of `mask` at least `length` px long.

    `slack` rows of thickening first let a run slope by about slack / length.
    """
    if length < 2 or not mask.any():
        return np.zeros_like(mask)
    probe = cv2.dilate(mask, np.ones((max(1, slack), 1), np.uint8))
    runs = cv2.morphologyEx(probe, cv2.MORPH_OPEN, np.ones((1, length | 1), np.uint8))  # odd: centred
    return cv2.bitwise_and(runs, mask)


def cut_underlines(
    mask: np.ndarray, stroke: float, config: PreprocessConfig = PreprocessConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """(mask without the lines drawn under or through its writing, the pixels taken out).

    `stroke`: the pen width (px) measured on the mask.  A line is a level run at least
    `underline_length` times as long as the piece it belongs to is tall, no thicker than
    `underline_thickness` pen widths, in a piece at least `underline_height` times taller
    than the line is thick (so digits hang on it), and at least `underline_writing` times
    the writing's size (`scale.writing_size`).
    """
    none = np.zeros_like(mask)
    if config.underline_length <= 0 or stroke <= 0 or not mask.any():
        return mask, none
    shortest = max(8, round(config.underline_min_strokes * stroke))
    runs = level_runs(mask, shortest)
    if not runs.any():
        return mask, none
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    rn, rlabels, rstats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    thick_max = max(2.0, config.underline_thickness * stroke)
    # ...and long against the writing as a whole: the base of a 2 broken off its top is long
    # against its own piece, not against the digits (the pieces' typical smaller side)
    longer_than = config.underline_writing * writing_size(mask)
    cut = np.zeros(rn, bool)
    for r in range(1, rn):
        x, y, w, h, area = (int(v) for v in rstats[r])
        thickness = area / max(w, 1)
        if thickness > thick_max:
            continue  # a solid bar: an object, not a pen's line
        sub = labels[y : y + h, x : x + w][rlabels[y : y + h, x : x + w] == r]
        owner = int(np.bincount(sub[sub > 0]).argmax()) if (sub > 0).any() else 0
        if owner == 0:
            continue
        piece_h = int(stats[owner, cv2.CC_STAT_HEIGHT])
        cut[r] = (
            piece_h >= config.underline_height * thickness
            and w >= config.underline_length * piece_h
            and w >= longer_than
        )
    if not cut.any():
        return mask, none
    line = cut[rlabels].astype(np.uint8) * 255
    band = cv2.dilate(line, np.ones((3, 1), np.uint8)) & mask
    out = mask.copy()
    out[band > 0] = 0
    # a stroke crossing the line continues on both sides: close the gap across its width
    across = int(np.ceil(thick_max)) + 5  # the line, the slack of its runs and a row each side
    closed = cv2.morphologyEx(out, cv2.MORPH_CLOSE, np.ones((across, 1), np.uint8))
    restore = (band > 0) & (closed > 0)
    out[restore] = 255
    band[restore] = 0
    return out, band

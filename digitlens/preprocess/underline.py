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
the line) the gap is closed across the line's width, so the digit stays whole.  Where a
stroke runs along the line (the foot of a 2 drawn on it, the base of a 6 resting on it)
the band is thicker than the line is elsewhere: those columns stay, when they meet the
writing above or below the line.

Pure functions on numpy arrays.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitlens.preprocess.config import PreprocessConfig
from digitlens.preprocess.level import level
from digitlens.preprocess.scale import pieces_size
from digitlens.preprocess.segment import label_components


def level_runs(mask: np.ndarray, length: int, slack: int = 3) -> np.ndarray:
    """uint8 mask of the straight, roughly level runs of `mask` at least `length` px long.

    `slack` rows of thickening first let a run slope by about slack / length.  Beyond the
    frame is no ink (a run ending at the frame is as long as it is inside it).
    """
    if length < 2 or not mask.any():
        return np.zeros_like(mask)
    probe = cv2.dilate(mask, np.ones((max(1, slack), 1), np.uint8))
    kernel = np.ones((1, length if length % 2 else length - 1), np.uint8)  # odd: centred
    runs = cv2.morphologyEx(probe, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.bitwise_and(runs, mask)


def _free_ends(piece: np.ndarray, run: np.ndarray, reach: int, end: int) -> bool:
    """Whether the run's `end` columns at both ends carry no ink of its piece beyond `reach` rows of it.

    An underline runs on past the digits on it; the joined bases of a row of touching 2s
    end where a 2's stem comes down on them.
    """
    cols = np.flatnonzero(run.any(axis=0))
    near = cv2.dilate(run.astype(np.uint8), np.ones((2 * reach + 1, 1), np.uint8)) > 0
    beyond: np.ndarray = np.asarray((piece & ~near).any(axis=0))
    return not beyond[cols[:end]].any() and not beyond[cols[-end:]].any()


def _along_the_line(band: np.ndarray, writing: np.ndarray, boxes: np.ndarray, excess: float) -> np.ndarray:
    """bool mask of the band's columns `excess` px (at least 1) thicker than its line that meet `writing`.

    `boxes`: (x, y, w, h) of each line cut; the band reaches a row beyond each.  A line's own
    thickness is the lower quartile of its columns' (most of a line runs free of digits).
    """
    keep = np.zeros(band.shape, bool)
    for x, y, w, h in boxes:
        rows = slice(max(0, y - 1), min(band.shape[0], y + h + 1))
        sub = band[rows, x : x + w] > 0
        ink = sub.sum(axis=0)
        if not ink.any():
            continue
        line = float(np.percentile(ink[ink > 0], 25))
        keep[rows, x : x + w] |= sub & (ink >= line + max(1.0, excess))[None, :]
    if not keep.any():
        return keep
    _, parts = cv2.connectedComponents(keep.astype(np.uint8), connectivity=8)
    meets = cv2.dilate(writing, np.ones((3, 3), np.uint8)) > 0
    ids = np.unique(parts[keep & meets])
    return np.isin(parts, ids[ids > 0])


def cut_underlines(
    mask: np.ndarray, stroke: float, config: PreprocessConfig = PreprocessConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """(mask without the lines drawn under or through its writing, the pixels taken out).

    Level lines first (`_cut_level`); then lines that slope beyond a level run's slack
    (a page photographed at a slant, whose digits the sloping line joins into one piece, so
    that no skew can be measured on them): each family of straight segments that
    `sloping_lines` finds is turned level, cut there by the same rules, and the cut mapped
    back.  A slope whose level cut finds no line drawn under writing (a sheet's edge, a
    pen's side) takes nothing out.
    """
    out, band = _cut_level(mask, stroke, config)
    if config.underline_slopes <= 0 or not stroke > 0 or not out.any():
        return out, band
    reach = _line_reach(stroke, config)
    for angle, segments in sloping_lines(out, stroke, config)[: config.underline_slopes]:
        turned, _, back = level(out, np.zeros(out.shape, np.float32), angle)
        cut, taken = _cut_level(turned, stroke, config)
        if not taken.any():
            continue
        size = (out.shape[1], out.shape[0])
        taken_back = cv2.warpAffine(taken, back, size, flags=cv2.INTER_LINEAR, borderValue=0) > 0
        kept_back = cv2.warpAffine(cut, back, size, flags=cv2.INTER_LINEAR, borderValue=0) > 127
        along = np.zeros(out.shape, np.uint8)  # only cuts that meet the family's own lines: nothing else turned
        for x1, y1, x2, y2 in segments:
            cv2.line(along, (x1, y1), (x2, y2), 255, 2 * reach + 1)
        gone = taken_back & ~kept_back & (out > 0)
        _, parts = cv2.connectedComponents(gone.astype(np.uint8), connectivity=8)
        ids = np.unique(parts[gone & (along > 0)])
        gone &= np.isin(parts, ids[ids > 0])
        out = out.copy()
        out[gone] = 0
        band = band.copy()
        band[gone] = 255
    return out, band


def sloping_lines(
    mask: np.ndarray, stroke: float, config: PreprocessConfig = PreprocessConfig()
) -> list[tuple[float, np.ndarray]]:
    """(direction, segments) of each family of straight lines of `mask` that slope by 5-45
    degrees, longest family first: the direction in degrees as `lines.skew_angle` gives it,
    the segments int [K, 4] (x1, y1, x2, y2).  Slopes under 5 degrees are the level cut's
    (its runs have that much slack).

    A line is a straight run (`cv2.HoughLinesP`, gaps up to a pen width) at least
    `underline_min_strokes` pen widths long, in a piece twice that size.  Segments within 3
    degrees of each other are one family; its direction is their length-weighted mean.  Whether a family is a
    line drawn under writing is left to the level cut once it is turned level.
    """
    if not stroke > 0 or not mask.any():
        return []
    n, _, stats = label_components(mask)
    if n <= 1:
        return []
    # (the writing's size is no measure here: digits on a sloping line are one piece, whose
    # box grows with the slope; the level cut measures it once the line is level)
    length = max(8.0, config.underline_min_strokes * stroke)
    big = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]) >= 2 * length
    if not big.any():
        return []  # no piece long enough to hold such a line: no transform
    # solid regions (a strip of desk, a blot) hold straight runs in every direction and cost
    # the transform dearly: those far thicker than an underline may be are left out (the
    # crossings of strokes, no thicker than a few pen widths, stay)
    thin = mask
    reach = _line_reach(stroke, config)
    core = cv2.erode(mask, np.ones((2 * reach, 2 * reach), np.uint8))
    if core.any():
        solid = cv2.dilate(core, np.ones((2 * reach + 2, 2 * reach + 2), np.uint8))
        thin = cv2.bitwise_and(mask, cv2.bitwise_not(solid))
    found = cv2.HoughLinesP(
        thin, 1, np.pi / 360, max(8, int(length / 2)), minLineLength=length, maxLineGap=max(1, round(stroke))
    )
    if found is None:
        return []
    x1, y1, x2, y2 = found.reshape(-1, 4).astype(np.float64).T
    angles = np.degrees(np.arctan2(y2 - y1, x2 - x1))
    angles = (angles + 90.0) % 180.0 - 90.0  # a segment and its reverse are one direction
    lengths = np.hypot(x2 - x1, y2 - y1)
    keep = (np.abs(angles) >= 5.0) & (np.abs(angles) <= 45.0)
    angles, lengths, segments = angles[keep], lengths[keep], found.reshape(-1, 4)[keep]
    families: list[tuple[float, float, np.ndarray]] = []  # (total length, mean direction, segments)
    order = np.argsort(angles)
    start = 0
    for end in range(1, len(order) + 1):
        if end == len(order) or angles[order[end]] - angles[order[end - 1]] > 3.0:
            idx = order[start:end]
            w = lengths[idx]
            families.append((float(w.sum()), float((angles[idx] * w).sum() / w.sum()), segments[idx]))
            start = end
    return [(a, seg.astype(np.int64)) for _, a, seg in sorted(families, key=lambda f: -f[0])]


def _line_reach(stroke: float, config: PreprocessConfig) -> int:
    """Pixels from an underline's middle that its ink may reach: its thickest, and a pixel."""
    return max(2, int(np.ceil(config.underline_thickness * stroke)) + 1)


def _cut_level(mask: np.ndarray, stroke: float, config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """(mask without the level lines drawn under or through its writing, the pixels taken out).

    `stroke`: the pen width (px) measured on the mask.  A line is a level run at least
    `underline_length` times as long as the piece it belongs to is tall, no thicker than
    `underline_thickness` pen widths, in a piece at least `underline_height` times taller
    than the line is thick (so digits hang on it), at least `underline_writing` times the
    writing's size (`scale.writing_size`), and free of the digits' ink for a pen width
    at both ends.  Every size is in pen widths; 8 px is the shortest run looked for.  Where
    the band is `underline_along` pen widths thicker than the line, writing runs along it and
    stays (see `_along_the_line`).
    """
    none = np.zeros_like(mask)
    if config.underline_length <= 0 or not stroke > 0 or not mask.any():
        return mask, none
    shortest = max(8, round(config.underline_min_strokes * stroke))
    slack = max(3, int(np.ceil(stroke)))  # a line may slope by about one pen width over its shortest run
    runs = level_runs(mask, shortest, slack)
    if not runs.any():
        return mask, none
    rn, rlabels, rstats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    thick_max = max(2.0, config.underline_thickness * stroke)
    thin = np.flatnonzero(rstats[1:, cv2.CC_STAT_AREA] <= thick_max * rstats[1:, cv2.CC_STAT_WIDTH]) + 1
    if thin.size == 0:
        return mask, none  # solid bars: objects, not a pen's lines
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    # ...and long against the writing as a whole: the base of a 2 broken off its top is long
    # against its own piece, not against the digits (the pieces' typical smaller side)
    longer_than = config.underline_writing * pieces_size(stats)  # as `scale.writing_size`, labelled once
    reach, end = int(np.ceil(thick_max)), max(2, round(stroke))
    cut = np.zeros(rn, bool)
    for r in thin:
        x, y, w, h, area = (int(v) for v in rstats[r])
        if w < longer_than:
            continue
        thickness = area / max(w, 1)
        sub = labels[y : y + h, x : x + w][rlabels[y : y + h, x : x + w] == r]
        owner = int(np.bincount(sub[sub > 0]).argmax()) if (sub > 0).any() else 0
        if owner == 0:
            continue
        px, py, pw, ph = (int(v) for v in stats[owner, :4])
        if not (ph >= config.underline_height * thickness and w >= config.underline_length * ph):
            continue
        box = (slice(py, py + ph), slice(px, px + pw))
        cut[r] = _free_ends(labels[box] == owner, rlabels[box] == r, reach, end)
    if not cut.any():
        return mask, none
    line = cut[rlabels].astype(np.uint8) * 255
    band = cv2.dilate(line, np.ones((3, 1), np.uint8)) & mask
    out = mask.copy()
    out[band > 0] = 0
    # a stroke crossing the line continues on both sides: close the gap across its width
    across = int(np.ceil(thick_max)) + slack + 2  # the line, the slack of its runs and a row each side
    kernel = np.ones((across, 1), np.uint8)
    closed = cv2.morphologyEx(out, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    restore = (band > 0) & (closed > 0)
    if config.underline_along > 0:
        boxes = rstats[np.flatnonzero(cut), :4].astype(int)
        restore |= _along_the_line(band, out, boxes, config.underline_along * stroke)
    out[restore] = 255
    band[restore] = 0
    return out, band

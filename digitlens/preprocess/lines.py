"""Reading order: the skew of the writing, text lines that follow it, and blocks on a row.

A phone photo rarely holds the page square: lines run at 10-40 degrees, bend where the
sheet curls, and a page may hold two columns side by side.  So:

1. the skew is the median direction from each digit to its nearest neighbour on its
   right (within +-45 degrees), which is the direction of the lines;
2. centres are turned by that skew, and each digit, taken along the line direction,
   joins the line whose last digit it continues (across at most half a digit height),
   so a line may bend slowly but never jumps to the next;
3. lines are read top to bottom, each left to right; a gap far wider than the
   writing's usual spacing starts a new block, read as its own text line (the label
   convention: blocks side by side on one row are separated like lines).

Pure functions over boxes; sizes are relative to the typical digit height.
"""

from __future__ import annotations

import itertools

import numpy as np

from digitlens.preprocess.stats import fast_median


def skew_angle(boxes: np.ndarray, max_angle: float = 45.0) -> float:
    """Direction of the text lines in degrees (positive: lines fall to the right, image y down)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(b) < 2:
        return 0.0
    cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    ref = float(np.median(b[:, 3]))
    dx, dy = cx[None, :] - cx[:, None], cy[None, :] - cy[:, None]
    dist = np.hypot(dx, dy)
    limit = np.tan(np.radians(max_angle))
    right = (dx > 0) & (np.abs(dy) <= limit * dx) & (dist <= 4.0 * ref)
    dist = np.where(right, dist, np.inf)
    nearest = dist.argmin(axis=1)
    ok = np.isfinite(dist[np.arange(len(b)), nearest])
    if ok.sum() < 1:
        return 0.0
    i = np.flatnonzero(ok)
    angles = np.degrees(np.arctan2(dy[i, nearest[i]], dx[i, nearest[i]]))
    return float(np.median(angles))


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """np.polyfit(x, y, 1)[0], the same arithmetic without its checks (a third of its time)."""
    lhs = np.vander(x + 0.0, 2)
    scale = np.sqrt((lhs * lhs).sum(axis=0))
    lhs /= scale
    c = np.linalg.lstsq(lhs, y + 0.0, len(x) * np.finfo(np.float64).eps)[0]
    return float(c[0] / scale[0])


def group_lines(
    boxes: np.ndarray, ref_h: float | None = None, tolerance: float = 0.5, block_gap: float = 2.5
) -> tuple[np.ndarray, np.ndarray, float]:
    """Boxes (x, y, w, h) -> (reading order indices, text-line/block number per box in that order, skew).

    tolerance: how far (in digit heights) a digit may sit off the line it continues.
    block_gap: a gap wider than this many digit heights, and than 3 times the line's
    usual gap, starts a new block on the same row.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    n = len(b)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0.0
    ref = float(ref_h) if ref_h else float(np.median(b[:, 3]))
    angle = skew_angle(b)
    t = np.radians(angle)
    cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    u = cx * np.cos(t) + cy * np.sin(t)  # along the lines
    v = -cx * np.sin(t) + cy * np.cos(t)  # across them
    half = b[:, 2] / 2  # half width, along the line (good enough under +-45 degrees)

    def follow(members: list[int]) -> tuple[float, float, float | None]:
        """Where a line's last digit starts, its recent level, and where along the line that
        level stands when the line is long enough to have a slope (else None)."""
        last, recent = members[-1], members[-6:]
        level = float(fast_median(v[recent[-3:]]))
        if u[recent[-1]] - u[recent[0]] > 3.0 * ref:
            return u[last] - half[last], level, float(fast_median(u[recent[-3:]]))
        return u[last] - half[last], level, None

    lines: list[list[int]] = []
    fits: list[tuple[float, float, float | None]] = []  # kept per line, renewed only when it grows
    slopes: dict[int, float] = {}  # fitted when first needed
    for i in np.argsort(u, kind="stable"):
        best, best_dv = -1, tolerance * ref
        for k, (start, level, at) in enumerate(fits):
            if u[i] - half[i] < start:
                continue
            # follow a slow bend: the line's recent level, and its slope over a few digit heights
            pred = level
            if at is not None:
                if k not in slopes:
                    recent = lines[k][-6:]
                    slopes[k] = float(np.clip(_slope(u[recent], v[recent]), -0.25, 0.25))
                pred += slopes[k] * (u[i] - at)
            dv = abs(v[i] - pred)
            if dv < best_dv:
                best, best_dv = k, dv
        if best < 0:
            lines.append([int(i)])
            fits.append(follow(lines[-1]))
        else:
            lines[best].append(int(i))
            fits[best] = follow(lines[best])
            slopes.pop(best, None)

    lines.sort(key=lambda m: float(fast_median(v[m])))
    gaps = [[(u[j] - half[j]) - (u[i] + half[i]) for i, j in itertools.pairwise(m)] for m in lines]
    spacing = [g for line_gaps in gaps if len(line_gaps) >= 2 for g in line_gaps]
    wide = max(block_gap * ref, 3.0 * float(np.median(spacing))) if spacing else block_gap * ref
    order: list[int] = []
    number: list[int] = []
    line_no = 0
    for members, line_gaps in zip(lines, gaps, strict=True):
        for k, i in enumerate(members):
            if k > 0 and line_gaps[k - 1] > wide:
                line_no += 1
            order.append(i)
            number.append(line_no)
        line_no += 1
    return np.array(order, np.int64), np.array(number, np.int64), angle

"""Shrinking a large photo to the working scale without washing out its thin strokes.

An area-average shrink by a factor f spreads a stroke narrower than f pixels over one
output pixel: a 2 px gel-pen line in a 4000x3000 photo, shrunk 2.5 times, keeps about
40 % of its contrast and falls under the ink floor, so the digits vanish while the same
page photographed from closer reads.  Taking the darkest (or, for light ink, the
brightest) pixel of each f-wide neighbourhood before averaging widens every stroke by
about f - 1 pixels at full size, about one pixel at the working scale: a thin stroke
keeps its full contrast, a thick one barely changes (the crops are normalised to
MNIST's stroke width anyway).  Pure functions on numpy arrays.
"""

from __future__ import annotations

import cv2
import numpy as np


def ink_pool_size(factor: float, share: float) -> int:
    """Side of the neighbourhood whose darkest pixel is kept before shrinking by `factor`.

    `share`: that side as a fraction of the factor (0: plain area shrink).  Below 2 the
    result is 1 (no pooling): a shrink by less than 2 keeps half a 1 px line's contrast.
    """
    return max(1, int(factor * share + 0.5)) if factor >= 2.0 else 1


def shrink_keeping_ink(full: np.ndarray, size: tuple[int, int], dark: bool, pool: int) -> np.ndarray:
    """float32 `full` resized to (width, height) `size`, ink widened by `pool` px first.

    dark: the ink is darker than the paper (a minimum filter widens it), else lighter (a
    maximum filter).  pool <= 1 is a plain area shrink.
    """
    if pool > 1:
        kernel = np.ones((pool, pool), np.uint8)
        full = cv2.erode(full, kernel) if dark else cv2.dilate(full, kernel)
    if (full.shape[1], full.shape[0]) == size:
        return full
    return cv2.resize(full, size, interpolation=cv2.INTER_AREA)


def writing_size(mask: np.ndarray, min_px: int = 3) -> float:
    """The ink-weighted median of the smaller side (px) of the mask's pieces at least `min_px` tall; 0 if none.

    The smaller side, because tiny digits that touch make one long piece along their
    line (across the line it is still one digit); weighting by ink lets the writing
    outvote specks.  Broken strokes and thin 1s count small, which only errs toward
    reading a page again more finely.
    """
    _n, _labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return pieces_size(stats, min_px)


def pieces_size(stats: np.ndarray, min_px: int = 3) -> float:
    """`writing_size` from the stats of pieces already labelled (row 0 the background, as OpenCV gives them)."""
    sides = np.minimum(stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]).astype(np.float64)
    weights = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    keep = np.maximum(stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]) >= min_px
    if not keep.any():
        return 0.0
    sides, weights = sides[keep], weights[keep]
    order = np.argsort(sides)
    cum = np.cumsum(weights[order])
    return float(sides[order][np.searchsorted(cum, cum[-1] / 2)])


def finer_side(shape: tuple[int, int], scale: float, size: float, target: float, max_pixels: float) -> int:
    """The long side to read a (H, W) image at so writing of `size` px at `scale` becomes `target` px.

    Never beyond the image's own size or `max_pixels` pixels (bounded time on a 24 MP photo).
    """
    h, w = shape
    finer = min(1.0, scale * target / max(size, 1.0), float(np.sqrt(max_pixels / max(1, h * w))))
    return round(max(h, w) * finer)

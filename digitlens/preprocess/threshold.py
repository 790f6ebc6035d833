"""From ink strength to a binary ink mask, plus the morphology that cleans it.

Every kernel here is sized from the measured stroke width, not fixed pixels: the same
'erode' that removes specks from a webcam frame would erase a fine pen in a phone photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitlens.preprocess.config import PreprocessConfig


def binarize(ink: np.ndarray, grey: np.ndarray, dark: bool, config: PreprocessConfig = PreprocessConfig()) -> np.ndarray:
    """uint8 mask (255 = ink) by the configured method."""
    if config.threshold == "fixed":
        g8 = (grey * 255).astype(np.uint8)
        op = cv2.THRESH_BINARY_INV if dark else cv2.THRESH_BINARY
        return cv2.threshold(g8, config.fixed_level, 255, op)[1]
    ink8 = (ink * 255).astype(np.uint8)
    floor = int(round(config.min_contrast * 255))
    if config.threshold == "adaptive":
        block = max(3, int(min(ink.shape) * config.adaptive_block) | 1)
        local = cv2.adaptiveThreshold(ink8, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, -floor / 2)
        return cv2.bitwise_and(local, cv2.threshold(ink8, floor, 255, cv2.THRESH_BINARY)[1])
    level, _ = cv2.threshold(ink8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return cv2.threshold(ink8, max(level, floor), 255, cv2.THRESH_BINARY)[1]


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the mean distance to the background along ridges."""
    if not mask.any():
        return 0.0
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    ridge = dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)) - 1e-6
    vals = dist[ridge & (mask > 0)]
    return float(2.0 * np.median(vals)) if vals.size else 0.0


def remove_rules(mask: np.ndarray, config: PreprocessConfig = PreprocessConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Take ruled/squared-paper lines and page borders out of the mask.

    A rule is a long and thin run: long against the image, thin against the image.  The
    strokes that crossed it are then closed across the removed band, so a digit written
    over a line is not cut in two.  Returns (cleaned mask, removed lines).
    """
    h, w = mask.shape
    removed = np.zeros_like(mask)
    for horizontal in (True, False):
        length, across = (w, h) if horizontal else (h, w)
        seg = max(15, int(length * config.rule_min_length / 4))
        thick_max = across * config.rule_max_thickness + 2
        tilt = np.ones((3, 1) if horizontal else (1, 3), np.uint8)
        probe = cv2.dilate(mask, tilt)
        kernel = np.ones((1, seg) if horizontal else (seg, 1), np.uint8)
        runs = cv2.morphologyEx(probe, cv2.MORPH_OPEN, kernel)
        if not runs.any():
            continue
        n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
        extent = stats[:, cv2.CC_STAT_WIDTH if horizontal else cv2.CC_STAT_HEIGHT]
        thickness = stats[:, cv2.CC_STAT_AREA] / np.maximum(extent, 1) - 2
        keep = (extent >= length * config.rule_min_length) & (thickness <= thick_max)
        keep[0] = False
        if keep.any():
            lines = (keep[labels] & (mask > 0)).astype(np.uint8) * 255
            removed |= lines
            t = int(np.ceil(thickness[keep].max())) + 3
            cleaned = cv2.bitwise_and(mask, cv2.bitwise_not(lines))
            bridge = np.ones((t, 1) if horizontal else (1, t), np.uint8)
            # close across the band only where a stroke left it, not along the line itself
            closed = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, bridge)
            mask = cv2.bitwise_or(cleaned, cv2.bitwise_and(closed, lines))
    return mask, removed


def remove_border_runs(mask: np.ndarray, config: PreprocessConfig = PreprocessConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Drop regions that run along the image border: the desk around a page or a note.

    A digit that touches the frame touches it with a stroke end or two; a page edge or
    the desk beyond it lies along the border for much of its own length.
    Returns (cleaned mask, removed regions).
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return mask, np.zeros_like(mask)
    h, w = mask.shape
    drop = np.zeros(n, bool)
    for edge, extent_col, side in (
        (labels[0, :], cv2.CC_STAT_WIDTH, w),
        (labels[-1, :], cv2.CC_STAT_WIDTH, w),
        (labels[:, 0], cv2.CC_STAT_HEIGHT, h),
        (labels[:, -1], cv2.CC_STAT_HEIGHT, h),
    ):
        contact = np.bincount(edge, minlength=n)
        drop |= (contact >= config.border_run * stats[:, extent_col]) & (contact >= config.border_min_side * side)
    drop[0] = False
    if not drop.any():
        return mask, np.zeros_like(mask)
    removed = drop[labels]
    out = mask.copy()
    out[removed] = 0
    return out, removed.astype(np.uint8) * 255


def clean(mask: np.ndarray, config: PreprocessConfig = PreprocessConfig()) -> tuple[np.ndarray, float]:
    """Open away specks and close broken strokes, scaled by the stroke width."""
    sw = stroke_width(mask)
    if sw >= config.open_above_stroke:
        k = max(2, int(sw / 3))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    c = int(round(sw * config.close_stroke_frac))
    if c >= 2:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (c, c)))
    return mask, sw

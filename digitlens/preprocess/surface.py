"""The writing surface: the sheet, note or board the digits are on, and what lies beyond it.

A sheet photographed on a desk shows its own edge, its shadow, wood grain, a keyboard or
other sheets around it, and every one of those makes marks that a threshold calls ink.
A person reads only inside the sheet, and so does digitlens:

1. the writing is taken away by a closing wider than any stroke (on a small copy), which
   leaves the surface's own brightness, polarity-normalised so the surface is the
   brighter side for pen on paper and for chalk on a board alike;
2. Otsu splits that into surface and surroundings; the surface is the largest bright
   region, filled to its convex hull (digits, shadows falling across it and the
   ruling stay inside);
3. it is trusted only when it looks like a sheet lying on something: between
   `surface_min_area` and `surface_max_area` of the frame, compact, and clearly
   brighter than what surrounds it.  Otherwise (a scan, a close-up, a screen drawing,
   a page filling the frame) the whole image is the surface;
4. a margin is taken off its edge, where the sheet's border and its shadow lie;
5. when no level parts sheet from desk (a grey sheet on a desk as bright as itself, a
   lamp's band across both), a sheet is looked for by its outline instead (`edge_quad`):
   a convex quadrilateral closed by edges, wholly inside the frame.

Pure functions on numpy arrays; all sizes relative to the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitlens.preprocess.config import PreprocessConfig
from digitlens.preprocess.stats import fast_median, fast_percentile, fast_quantiles
from digitlens.preprocess.threshold import drop_touching


@dataclass(frozen=True)
class Surface:
    """mask: uint8 255 inside the surface (less the margin), at the size of the image given;
    polygon: float32 [K, 2] (x, y) outline of the surface in that image's pixels;
    area: fraction of the frame it covers."""

    mask: np.ndarray
    polygon: np.ndarray
    area: float


def find_surface(grey: np.ndarray, dark: bool, config: PreprocessConfig) -> Surface | None:
    """The surface the writing is on, or None when the whole frame is the surface (or unclear)."""
    h, w = grey.shape
    if min(h, w) < config.surface_min_side:
        return None  # a tight crop: no room for a desk around the writing
    g = grey if dark else 1.0 - grey
    s = min(1.0, config.surface_side / max(h, w))
    sw, sh = max(8, round(w * s)), max(8, round(h * s))
    small = cv2.resize(g.astype(np.float32, copy=False), (sw, sh), interpolation=cv2.INTER_AREA)
    k = max(3, int(config.surface_close * min(sw, sh)) | 1)
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    lit = closed  # brightness alone (before texture counts against it), for the exposure
    if config.surface_texture > 0:
        # paper is smooth, a desk is not (grain, bricks, fabric, keys): texture counts against
        # brightness, so a sheet stands out from a desk of its own brightness
        # (measured after the closing, so the writing itself is no texture)
        mean = cv2.blur(closed, (k, k))
        texture = np.sqrt(np.maximum(cv2.blur(closed * closed, (k, k)) - mean * mean, 0.0))
        closed = closed - config.surface_texture * cv2.blur(texture, (k, k))
    paper = cv2.GaussianBlur(closed, (0, 0), max(1.0, k / 4))
    frame = float(sw * sh)
    b = max(2, int(config.surface_edge_band * min(sw, sh)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * b + 1, 2 * b + 1))
    away = np.zeros((sh, sw), bool)
    away[b:-b, b:-b] = True
    best: tuple[float, np.ndarray, np.ndarray, float, np.ndarray] | None = None
    # every level between the surroundings and the sheet is tried: the sheet's edge is the
    # level whose region has the sharpest step at its border
    lo, hi = fast_quantiles(paper.ravel(), [0.03, 0.97])
    for level in np.linspace(lo, hi, config.surface_levels + 2)[1:-1]:
        found = _candidate(paper, closed, lit, level, frame, b, disc, away, config)
        if found is not None and (best is None or found[0] > best[0]):
            best = found
    if best is None:
        return edge_quad(grey, config) if dark and config.surface_edges else None
    _, inside, hull, area, region = best
    if not dark and float(fast_median(small[inside > 0])) < 1.0 - config.board_max_level:
        return None  # a "board" must be dark (chalk on a blackboard); a bright page is not one
    margin = max(1, int(config.surface_margin * min(sw, sh)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    core = cv2.erode(inside, disc)
    mask = _full_size(core, s, (h, w))
    wedges = _desk_wedges(inside, region)
    if wedges.any():  # the hull's corners of desk are desk, with the same margin as the sheet's edge
        beyond = cv2.resize(cv2.dilate(wedges, disc), (w, h), interpolation=cv2.INTER_LINEAR)
        mask[beyond > 0] = 0
    polygon = (hull.reshape(-1, 2).astype(np.float32) + 0.5) / s - 0.5
    return Surface(mask, polygon, float(area))


def edge_quad(grey: np.ndarray, config: PreprocessConfig) -> Surface | None:
    """A sheet found by its outline rather than its brightness, or None.

    A grey or tinted sheet on a desk as bright as itself, or a lamp's band falling across
    both, leaves no level that parts sheet from desk; its edge is still there, all round.
    The edges (Canny, at a level set by the image's own gradients) are closed up a little,
    and the regions between them are the candidates: a sheet is one that is a convex
    quadrilateral wholly inside the frame (four to six corners after simplification: a
    shadow's double edge or a fold may cut a corner; it fills `surface_rect_fill` of its
    rectangle, as a sheet found by brightness must; its area within
    `surface_min_area`..`surface_max_area`, `surface_min_width` across), whose sides lie
    on edges for `surface_edge_cover` of their length, and which is no darker than what
    lies around it (a note stuck on a page is darker than the page).  The writing and a
    ruling inside it make holes in the region, not a different outline.
    """
    h, w = grey.shape
    s = min(1.0, config.surface_edge_side / max(h, w))
    sw, sh = max(8, round(w * s)), max(8, round(h * s))
    small = cv2.resize(grey.astype(np.float32, copy=False), (sw, sh), interpolation=cv2.INTER_AREA)
    u8 = cv2.GaussianBlur(np.clip(small * 255.0, 0, 255).astype(np.uint8), (0, 0), 1.5)
    gx, gy = cv2.Sobel(u8, cv2.CV_32F, 1, 0), cv2.Sobel(u8, cv2.CV_32F, 0, 1)
    high = max(8.0, 2.0 * float(np.percentile(np.hypot(gx, gy), 90)))  # well above the grain and noise
    edges = cv2.Canny(u8, 0.5 * high, high)
    closed = cv2.dilate(edges, np.ones((5, 5), np.uint8))  # gaps of a few pixels (a corner, a faint stretch) close
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.bitwise_not(closed), connectivity=4)
    frame = float(sw * sh)
    near = cv2.dilate(closed, np.ones((5, 5), np.uint8))  # where a side counts as on an edge
    best: tuple[float, np.ndarray] | None = None
    for i in range(1, n):
        x, y, bw, bh, pixels = (int(v) for v in stats[i])
        if pixels < config.surface_min_area * frame / 2 or x <= 1 or y <= 1 or x + bw >= sw - 1 or y + bh >= sh - 1:
            continue  # too small, or running out of the frame (the desk around, or a clipped sheet)
        contours, _ = cv2.findContours((labels == i).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        outline = max(contours, key=cv2.contourArea)
        hull = cv2.convexHull(outline)  # (a notch where a stroke or a shadow meets the edge)
        quad = cv2.approxPolyDP(hull, config.surface_straightness * cv2.arcLength(hull, True), True)
        if not 4 <= len(quad) <= 5:
            continue  # (a corner cut off by a shadow's double edge or a fold; an oval needs six or more)
        area = float(cv2.contourArea(quad)) / frame
        if not config.surface_min_area <= area <= config.surface_max_area:
            continue
        (_, _), (rw, rh), _ = cv2.minAreaRect(quad)
        if area * frame < config.surface_rect_fill * rw * rh or cv2.contourArea(outline) < 0.9 * area * frame:
            continue  # not a sheet's outline (nor filled by the region)
        if min(rw, rh) < config.surface_min_width * min(sw, sh):
            continue
        # its sides lie on edges: sample them, a pixel or two outside the region
        ring = cv2.polylines(np.zeros((sh, sw), np.uint8), [quad], True, 255, 1)
        cover = cv2.countNonZero(cv2.bitwise_and(ring, near)) / max(1, cv2.countNonZero(ring))
        if cover < config.surface_edge_cover:
            continue
        if _drawn_line(small, quad):
            continue  # a box drawn round the writing, or the loop of a big 0: ink between paper and paper
        if _darker_inside(small, quad):
            continue  # a note or a label stuck on a page: the page around it is written on too
        if best is None or area > best[0]:
            best = (area, quad)
    if best is None:
        return None
    _, quad = best
    inside = cv2.fillConvexPoly(np.zeros((sh, sw), np.uint8), quad, 255)
    inside = cv2.dilate(inside, np.ones((5, 5), np.uint8))  # out to the edge, as far as the edges were grown
    hull = cv2.convexHull(cv2.findNonZero(inside))
    margin = max(1, int(config.surface_margin * min(sw, sh)))
    core = cv2.erode(inside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1)))
    polygon = (hull.reshape(-1, 2).astype(np.float32) + 0.5) / s - 0.5
    return Surface(_full_size(core, s, (h, w)), polygon, float(cv2.contourArea(hull)) / frame)


def _band(shape: tuple[int, ...], quad: np.ndarray, width: int, grow: int) -> np.ndarray:
    """Boolean band `width` px wide just inside the outline `quad` grown by `grow` px (shrunk when negative)."""
    inside = cv2.fillConvexPoly(np.zeros(shape[:2], np.uint8), quad, 255)
    if grow > 0:
        inside = cv2.dilate(inside, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    elif grow < 0:
        inside = cv2.erode(inside, np.ones((1 - 2 * grow, 1 - 2 * grow), np.uint8))
    return cv2.bitwise_xor(inside, cv2.erode(inside, np.ones((2 * width + 1, 2 * width + 1), np.uint8))) > 0


def _darker_inside(small: np.ndarray, quad: np.ndarray) -> bool:
    """Whether just inside the outline `quad` is clearly darker than just outside it: a
    sheet lies on something no brighter than itself (for pen on paper), while a sticky note
    or a label on a page is darker than the page it is stuck on."""
    inner = _band(small.shape, quad, 4, 0)
    grown = cv2.dilate(cv2.fillConvexPoly(np.zeros(small.shape, np.uint8), quad, 255), np.ones((11, 11), np.uint8))
    outer = cv2.bitwise_xor(cv2.dilate(grown, np.ones((15, 15), np.uint8)), grown) > 0
    if not inner.any() or not outer.any():
        return False
    return float(fast_median(small[inner])) < float(fast_median(small[outer])) - 0.02


def _drawn_line(small: np.ndarray, quad: np.ndarray) -> bool:
    """Whether the outline `quad` is a line drawn on the paper rather than a step to the desk:
    along it, the image is darker than both just inside and just outside (a step lies
    between its sides, a shadow's rim at the darker side's level)."""
    # the darker fifth of each band: a thin line fills a part of the band round the edge (found
    # a few pixels inside it), and a desk's grain darkens every band's darker fifth alike
    bands = [_band(small.shape, quad, width, grow) for width, grow in ((5, 5), (3, -4), (3, 12))]
    if not all(b.any() for b in bands):
        return False  # (a band wholly outside the frame: nothing to compare)
    on, inner, outer = (float(fast_percentile(small[b], 20)) for b in bands)
    return on < min(inner, outer) - 0.03


def _desk_wedges(inside: np.ndarray, region: np.ndarray) -> np.ndarray:
    """uint8 255 on the parts of the hull `inside` that are not the surface's own `region`
    and reach the hull's edge: the corners of desk between two stacked notes, or where a
    sheet's corner is folded or cut off by the frame.

    They are as dark as the desk, far darker than any pen on the paper: read as ink they set
    the ink level, and a pale pen's strokes fall under it (or are judged a paler "shadow" of
    them).  Dark parts that do not reach the edge (bold writing, a shadow inside the sheet)
    are the surface's own.
    """
    gaps = cv2.bitwise_and(inside, cv2.bitwise_not(region * np.uint8(255)))
    if not gaps.any():
        return gaps
    rim = cv2.bitwise_and(inside, cv2.bitwise_not(cv2.erode(inside, np.ones((3, 3), np.uint8))))
    return cv2.bitwise_and(gaps, cv2.bitwise_not(drop_touching(gaps, rim)))


def _full_size(core: np.ndarray, s: float, shape: tuple[int, int]) -> np.ndarray:
    """The convex mask found on the small copy (scale `s`), drawn at full size with straight sides.

    Scaled up pixel by pixel it would have steps of 1/s pixels along every slanted side,
    and each step's corner of desk left inside reads as a short dark stroke, too short to
    pass for a run along the outline (a stack of turned notes: pale digits under a level
    set by those corners).  Its hull drawn at full size follows the side itself.
    """
    h, w = shape
    contours, _ = cv2.findContours(core, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    mask = np.zeros((h, w), np.uint8)
    if not contours:
        return mask
    points = np.concatenate(contours).reshape(-1, 2).astype(np.float32)
    # a pixel's outer corners, not its centre: the hull covers every pixel of the core
    corners = np.concatenate([points + np.array([dx, dy], np.float32) for dx in (0.0, 1.0) for dy in (0.0, 1.0)])
    hull = cv2.convexHull(np.round(corners / s - 0.5).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255)
    return mask


def required_step(sheet_level: float, config: PreprocessConfig) -> float:
    """The brightness step a sheet's edge must show, for a sheet this bright (0..1 grey).

    Exposure scales every step: a sheet photographed at half the light shows half the
    step to its desk, though it stands out from it just as clearly.  So below a well-lit
    sheet's level the step asked for shrinks in proportion; above it, it is the full one.
    """
    if config.surface_lit_level <= 0:
        return config.surface_contrast
    return config.surface_contrast * min(1.0, max(sheet_level, 0.0) / config.surface_lit_level)


def _candidate(
    paper: np.ndarray,
    closed: np.ndarray,
    lit: np.ndarray,
    level: float,
    frame: float,
    b: int,
    disc: np.ndarray,
    away: np.ndarray,
    config: PreprocessConfig,
) -> tuple[float, np.ndarray, np.ndarray, float, np.ndarray] | None:
    """(edge step, filled hull mask, hull, area fraction, region 0/1) of the largest region brighter than level,
    if sheet-like."""
    bright: np.ndarray = (paper > level).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if n < 2:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[biggest, cv2.CC_STAT_AREA] < config.surface_min_area * frame:
        return None
    region = (labels == biggest).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outline = max(contours, key=cv2.contourArea)
    # a sheet, a note or a board has straight sides (the frame may clip it): a few corners;
    # a big thick digit or a blot is round and has many
    corners = cv2.approxPolyDP(outline, config.surface_straightness * cv2.arcLength(outline, True), True)
    if len(corners) > config.surface_max_corners:
        return None
    (_, _), (rw, rh), _ = cv2.minAreaRect(outline)
    if cv2.contourArea(outline) < config.surface_rect_fill * rw * rh:
        return None  # a sheet fills the rectangle around it (under perspective, most of it)
    hull = cv2.convexHull(outline)
    hull_area = float(cv2.contourArea(hull))
    area = hull_area / frame
    if not config.surface_min_area <= area <= config.surface_max_area:
        return None
    if min(cv2.minAreaRect(hull)[1]) < config.surface_min_width * min(paper.shape):
        return None  # a band along one side (a form's margin), not a sheet
    if float(stats[biggest, cv2.CC_STAT_AREA]) < config.surface_solidity * hull_area:
        return None  # ragged: lit patches of one surface, not a sheet
    inside = np.zeros(paper.shape, np.uint8)
    cv2.fillConvexPoly(inside, hull, 255)
    outside = inside == 0
    # a sheet's edge is a step: bright just inside, darker just outside (where the edge is
    # not the frame's); a lamp's fall-off or vignetting is a slope, the same on both sides
    band_in = (inside > 0) & (cv2.erode(inside, disc) == 0) & away
    band_out = (cv2.dilate(inside, disc) > 0) & outside & away
    if band_in.sum() < 4 * b or band_out.sum() < 4 * b:
        return None  # no edge of the surface inside the frame
    step = float(fast_median(closed[band_in])) - float(fast_median(closed[band_out]))
    if step < required_step(float(fast_median(lit[band_in])), config):
        return None  # a shadow or vignetting over one sheet, not a sheet on a darker desk
    return step, inside, hull, area, region

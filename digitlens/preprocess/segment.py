"""From a clean ink mask to digit candidates in reading order.

Connected components are the pieces; a digit may be several pieces (a 5 with a detached
bar, an open 4) and one piece may be several digits (touching 0s).  Every size test is
relative to the other digits in the image, so the same rules hold at any scale.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import cv2
import numpy as np

from digitlens.preprocess.config import PreprocessConfig
from digitlens.preprocess.lines import group_lines


@dataclass
class Candidate:
    """One digit candidate: its box (x, y, w, h) at working scale and its component labels."""

    x: int
    y: int
    w: int
    h: int
    labels: list[int] = field(default_factory=list)
    ink: int = 0
    line: int = 0
    #: a piece of a cut candidate: which pixels of its box are its own (the side of a curved
    #: cut it lies on); None: every pixel of its components in the box
    keep: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    def union(self, other: Candidate) -> Candidate:
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Candidate(
            x,
            y,
            max(self.x2, other.x2) - x,
            max(self.y2, other.y2) - y,
            self.labels + other.labels,
            self.ink + other.ink,
        )


def label_components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected labels and stats; Grana's block-based algorithm, about 3x faster with
    stats than OpenCV's default here (measured in benchmarks/)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return n, labels, stats


def components(mask: np.ndarray) -> tuple[np.ndarray, list[Candidate]]:
    _n, labels, stats = label_components(mask)
    cands = [
        Candidate(int(s[0]), int(s[1]), int(s[2]), int(s[3]), [i], int(s[4])) for i, s in enumerate(stats) if i > 0
    ]
    return labels, cands


def member_mask(labels: np.ndarray, c: Candidate) -> np.ndarray:
    """Boolean mask, over the candidate's box, of the pixels of its own components."""
    region = labels[c.y : c.y2, c.x : c.x2]
    if len(c.labels) == 1:
        own = region == c.labels[0]
    else:
        lut = np.zeros(max(c.labels) + 1, bool)
        lut[c.labels] = True
        own = lut[np.minimum(region, len(lut) - 1)] & (region < len(lut))
    if c.keep is not None:
        own = _without_crumbs(own & c.keep, own & ~c.keep, region)
    return own


def _without_crumbs(piece: np.ndarray, beyond: np.ndarray, region: np.ndarray, share: float = 0.25) -> np.ndarray:
    """A cut piece less the crumbs of its neighbour: parts under `share` of its largest whose
    component goes on beyond the cut (a detached bar of its own stays: none of it is beyond)."""
    n, lab, stats = label_components(piece.view(np.uint8))
    if n <= 2:
        return piece
    areas = stats[1:, cv2.CC_STAT_AREA]
    severed = set(np.unique(region[beyond]).tolist())
    out = piece.copy()
    for k in np.flatnonzero(areas < share * areas.max()):
        part = lab == k + 1
        if severed.intersection(np.unique(region[part]).tolist()):
            out[part] = False
    return out


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0, min(a1, b1) - max(a0, b0))


def merge_fragments(cands: list[Candidate], ref_h: float, config: PreprocessConfig, passes: int = 3) -> list[Candidate]:
    """Merge pieces stacked one above the other with a small gap (the parts of one digit).

    A sweep over boxes sorted by x, each pass linear in practice; a few passes settle
    chains (a 5 in three pieces) without the cubic cost of restarting after each merge.
    """
    for _ in range(passes):
        cands = sorted(cands, key=lambda c: c.x)
        alive = [True] * len(cands)
        merged_any = False
        for i in range(len(cands)):
            if not alive[i]:
                continue
            a = cands[i]
            for j in range(i + 1, len(cands)):
                b = cands[j]
                if b.x > a.x2:
                    break
                if not alive[j] or _overlap(a.x, a.x2, b.x, b.x2) < config.merge_overlap * min(a.w, b.w):
                    continue
                gap = max(a.y, b.y) - min(a.y2, b.y2)
                m = a.union(b)
                if (
                    gap <= config.merge_gap * max(a.h, b.h, 1)
                    and m.h <= 1.3 * ref_h
                    and m.w <= config.merge_max_width * ref_h
                ):
                    a = m
                    alive[j] = False
                    merged_any = True
            cands[i] = a
        cands = [c for c, ok in zip(cands, alive, strict=True) if ok]
        if not merged_any:
            break
    return cands


def reference_width(cands: list[Candidate]) -> float:
    """The typical width of a single digit: the median over boxes no wider than tall-ish."""
    widths = [c.w for c in cands if c.w <= 1.2 * c.h]
    return float(np.median(widths)) if widths else float(np.median([c.h for c in cands])) * 0.7


def split_wide(c: Candidate, ref_w: float, ink: np.ndarray, config: PreprocessConfig) -> list[list[Candidate]]:
    """Ways to cut a box far wider than its neighbours into digits; [] if it is not wide.

    Only proposals: a wide 0 is as wide as two touching 1s, and how many digits touch
    is a guess from the typical width, so each count near the guess is cut (at the
    columns with least ink) and the reader keeps whichever the classifier is surest of,
    the whole box included.
    """
    guess = round(c.w / max(ref_w, 1))
    if not (c.w >= config.split_width * ref_w and c.w > config.split_aspect * c.h and guess >= 2):
        return []
    patch = ink[c.y : c.y2, c.x : c.x2]
    counts = range(max(2, guess - 1), min(config.max_split, guess + 1) + 1)
    return [out for pieces in counts if len(out := _cut(c, patch, pieces, config.seam_gain)) >= 2]


def may_be_pair(c: Candidate, ref_w: float, config: PreprocessConfig) -> bool:
    """Whether a box is about as wide as tall and as wide as two digits may be when they touch.

    A fused pair is no wider than a broad 0 or 4 alone, and the typical width is no guide
    when the pairs themselves set it, so the width cannot tell: the reader asks for the
    pieces (`split_pair`, through `Preprocessed.pairs`) only for a box that would not be
    read whole, and only then are they cut.
    """
    if config.pair_aspect <= 0 or c.w > config.split_aspect * c.h:
        return False  # off, or wide enough for split_wide
    return c.w >= config.pair_aspect * c.h and c.w >= config.pair_width * ref_w


def split_pair(c: Candidate, ref_w: float, ink: np.ndarray, config: PreprocessConfig) -> list[Candidate]:
    """Two pieces of a box that may be two touching digits (`may_be_pair`); [] if not."""
    if not may_be_pair(c, ref_w, config):
        return []
    out = _cut(c, ink[c.y : c.y2, c.x : c.x2], 2, config.seam_gain)
    return out if len(out) == 2 else []


def seam(weights: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Per row, the column of the top-to-bottom path within columns [lo, hi] that crosses the
    least ink, moving at most one column a row (a step costs a little, so it stays straight
    where nothing is in its way).  Touching digits lean into each other: the stroke of a 5's
    bar over a 1, the tail of a 2 under a 0; a straight cut gives each piece a part of its
    neighbour, the path goes round them and crosses the ink where it is thinnest."""
    band = weights[:, lo : hi + 1].astype(np.float64)
    h, w = band.shape
    step = 0.02 * max(float(band.max()), 1e-6)
    acc = np.empty((h, w))
    acc[0] = band[0]
    for r in range(1, h):
        prev, best = acc[r - 1], acc[r - 1].copy()
        np.minimum(best[1:], prev[:-1] + step, out=best[1:])
        np.minimum(best[:-1], prev[1:] + step, out=best[:-1])
        acc[r] = band[r] + best
    path = np.zeros(h, np.int64)
    path[-1] = int(acc[-1].argmin())
    for r in range(h - 1, 0, -1):  # back up through the cheapest neighbour (a step costs `step`)
        j = int(path[r])
        a, b = max(j - 1, 0), min(j + 2, w)
        around = acc[r - 1, a:b] + step
        around[j - a] -= step
        path[r - 1] = a + int(around.argmin())
    return path + lo


def _cut(c: Candidate, patch: np.ndarray, pieces: int, seam_gain: float = 0.5) -> list[Candidate]:
    """`c` cut into `pieces` near equal spacing: along the paths of least ink (`seam`) where such a
    path crosses under `seam_gain` of the ink the straight cut would, else (and always when
    `seam_gain` is 0) straight down the columns of least ink."""
    profile = patch.sum(axis=0)
    paths = [np.zeros(c.h, np.int64)]
    for k in range(1, pieces):
        centre = c.w * k // pieces
        prev = int(paths[-1].max())
        lo, hi = max(prev + 1, centre - c.w // (3 * pieces)), min(c.w - 1, centre + c.w // (3 * pieces))
        if hi <= lo:
            paths.append(np.full(c.h, centre, np.int64))
        else:
            best = lo + int(np.argmin(profile[lo : hi + 1]))
            path = seam(patch, lo, hi) if seam_gain > 0 and profile[best] > 0 else None
            # the curve only where it goes round a stroke: it crosses well under the straight cut's ink
            if path is not None and float(patch[np.arange(c.h), path].sum()) < seam_gain * float(profile[best]):
                paths.append(path)
            else:
                paths.append(np.full(c.h, best, np.int64))
    paths.append(np.full(c.h, c.w, np.int64))
    out = []
    cols = np.arange(c.w)[None, :]
    for a, b in itertools.pairwise(paths):
        x0, x1 = int(a.min()), int(b.max())
        if x1 - x0 < 2 or int((b - a).max()) < 2:
            continue
        straight = bool((a == a[0]).all() and (b == b[0]).all())
        keep = None if straight else ((cols >= a[:, None]) & (cols < b[:, None]))[:, x0:x1]
        share = (x1 - x0) / max(c.w, 1)
        out.append(Candidate(c.x + x0, c.y, x1 - x0, c.h, list(c.labels), int(c.ink * share), c.line, keep))
    return out


def reading_order(cands: list[Candidate], config: PreprocessConfig, ref_h: float | None = None) -> list[Candidate]:
    """Text lines along the writing's skew, top to bottom, each left to right (see `lines`).

    Blocks side by side on one row get their own line numbers, so they are read apart.
    """
    if not cands:
        return []
    boxes = np.array([(c.x, c.y, c.w, c.h) for c in cands], np.float64)
    order, number, _ = group_lines(boxes, ref_h, config.line_tolerance, config.block_gap)
    ordered = []
    for i, n in zip(order, number, strict=True):
        cands[i].line = int(n)
        ordered.append(cands[i])
    return ordered


def reference_height(cands: list[Candidate], config: PreprocessConfig) -> float:
    """The typical digit height: the ink-weighted median of the pieces' heights.

    Weighting by ink lets the digits outvote both specks (many, but little ink) and a
    stray long edge (tall, but one piece).
    """
    pool = [c for c in cands if c.h >= config.min_height_px] or cands
    heights = np.array([c.h for c in pool], np.float64)
    weights = np.array([c.ink for c in pool], np.float64)
    order = np.argsort(heights)
    cum = np.cumsum(weights[order])
    return float(heights[order][np.searchsorted(cum, cum[-1] / 2)])


def writing_height(cands: list[Candidate], config: PreprocessConfig) -> float:
    """The digit height of `reference_height`, unless an object set it.

    A pen lying on the page, or a sheet's edge fused with its shadow, can carry more ink
    than a whole page of small digits and so win the ink-weighted vote; the digits are then
    many and all too small for that height.  When that height keeps at most `small_objects`
    pieces, and at least `small_writing` pieces (and three times as many as it keeps) are
    too small for it, alike in height (quartiles within `small_alike`) and together at
    least `small_ink` of the ink of what it keeps, they are the writing and their own
    height is the digit height (the crumbs and specks around one big digit are few in ink
    and of every size).
    """
    ref_h = reference_height(cands, config)
    if config.small_writing <= 0:
        return ref_h
    low = config.min_height_frac * ref_h
    small = [c for c in cands if config.min_height_px <= c.h < low]
    fitting = [c for c in cands if low <= c.h <= config.max_height_ratio * ref_h]
    if len(fitting) > config.small_objects or len(small) < max(config.small_writing, 3 * len(fitting)):
        return ref_h  # several tall pieces are digits (ticks or dots beside them are no writing)
    heights = np.array([c.h for c in small], np.float64)
    q25, q75 = np.percentile(heights, [25, 75])
    alike = q75 <= config.small_alike * q25  # digits of one hand, not specks and crumbs of every size
    inky = sum(c.ink for c in small) >= config.small_ink * sum(c.ink for c in fitting)  # not a big digit's crumbs
    return reference_height(small, config) if alike and inky else ref_h


def digit_shaped(
    c: Candidate,
    labels: np.ndarray,
    dist: np.ndarray,
    shape: tuple[int, int],
    config: PreprocessConfig,
    stroke: float = 0.0,
) -> bool:
    """Shape tests that need no knowledge of the other digits: ink ratio, blob, aspect, size.

    `stroke`: the page's pen width (px).  A digit's ink ratio scales with it (a 7 is two
    strokes across its box: about 2 x stroke / side), so with a pen far thinner than the
    digit is large (a thin brush on a big canvas) the floor follows the pen.
    """
    H, W = shape
    ratio = c.ink / max(1, c.w * c.h)
    floor = min(config.min_ink_ratio, config.min_ink_strokes * stroke / max(c.w, c.h, 1))
    if not (floor <= ratio <= config.max_ink_ratio):
        return False  # a thin outline (a note's edge, a frame) or a solid blot
    if c.w > config.max_aspect * c.h:
        return False  # a dash or a line
    if c.h > config.max_height_frac * H and c.w > config.max_height_frac * W:
        return False  # the page itself
    own = member_mask(labels, c)
    return 2.0 * float(dist[c.y : c.y2, c.x : c.x2][own].max(initial=0)) <= config.max_blob * max(c.w, c.h)


def same_pen(
    cands: list[Candidate],
    labels: np.ndarray,
    ink: np.ndarray,
    config: PreprocessConfig,
    dist: np.ndarray | None = None,
) -> list[Candidate]:
    """Drop marks far fainter than the page's writing: soft shadows, smudges, show-through.

    Digits on one page are written with one or a few pens, so their mean ink strength is
    alike; a shadow that a threshold let through is a fraction of it.  The writing's
    level is the ink-weighted upper quartile over the pieces (measured better than the
    unweighted one on 1,800 generated photos).  With `dist` (the mask's distance to the
    background), solid marks do not set that level: a piece as thick as its short side
    (`solid_fill`) and not a bar (short side at least `solid_round` of its long side) is a
    punched hole or a dark dot, no pen's stroke, and a pale pen's digits beside dark holes
    keep their level.  Solid marks are still judged against it.
    """
    if len(cands) < 2 or config.min_relative_ink <= 0:
        return cands
    flat = labels.ravel()
    at = np.flatnonzero(flat)  # the pieces' pixels only (the sums add in the same order)
    sums = np.bincount(flat[at], weights=ink.ravel()[at], minlength=max(max(c.labels) for c in cands) + 1)
    core = np.array([sums[c.labels].sum() / max(1, c.ink) for c in cands])  # c.ink: the pieces' pixel count
    weights = np.array([c.ink for c in cands], np.float64)
    if dist is not None and config.solid_fill > 0:
        solid = np.zeros(len(cands), bool)
        for i, c in enumerate(cands):
            short, long = min(c.w, c.h), max(c.w, c.h)
            # a solid mark fills half its box at least (a disc 79 %): only those are measured
            if short >= config.solid_round * long and c.ink >= 0.5 * c.w * c.h:
                thick = 2.0 * float(dist[c.y : c.y2, c.x : c.x2][member_mask(labels, c)].max(initial=0))
                solid[i] = thick >= config.solid_fill * short
        if not solid.all():
            weights[solid] = 0.0
    order = np.argsort(core)
    writing = core[order][min(len(core) - 1, np.searchsorted(np.cumsum(weights[order]), 0.75 * weights.sum()))]
    return [c for c, k in zip(cands, core, strict=True) if k >= config.min_relative_ink * writing]


def at_frame_edge(c: Candidate, shape: tuple[int, int], ref_h: float, config: PreprocessConfig) -> bool:
    """A sliver along the frame's edge: the edge of a scan or a page, or a digit cut off by the frame."""
    H, W = shape
    sliver = config.edge_sliver * ref_h
    return ((c.x <= 0 or c.x2 >= W) and c.w < sliver) or ((c.y <= 0 or c.y2 >= H) and c.h < sliver)


def find_digits(
    mask: np.ndarray, ink: np.ndarray, config: PreprocessConfig = PreprocessConfig(), stroke: float = 0.0
) -> tuple[np.ndarray, list[Candidate], list[tuple[int, list[Candidate]]], float]:
    """Mask -> (label image, digit candidates in reading order, proposed splits as (index,
    pieces), the typical digit width by which `split_pair` judges a candidate).

    The pieces of a touching pair are left to be cut when asked for (`split_pair`): the
    reader asks only for the boxes it cannot read whole, and a seam costs a path search.

    The typical digit height is taken only from digit-shaped pieces, so an outline or a
    blot cannot set the scale by which the real digits are then judged.  `stroke`: the
    measured pen width (px), 0 when unknown.
    """
    labels, cands = components(mask)
    cands = [c for c in cands if c.h >= 2 and c.ink >= 4]
    if len(cands) > config.max_pieces:  # a texture, not writing: keep the inkiest pieces
        cands = sorted(cands, key=lambda c: -c.ink)[: config.max_pieces]
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    cands = same_pen(cands, labels, ink, config, dist)
    if not cands:
        return labels, [], [], 0.0
    shaped = [c for c in cands if digit_shaped(c, labels, dist, mask.shape, config, stroke)]
    ref_h = writing_height(shaped or cands, config)
    merged = merge_fragments([c for c in cands if c.h < config.max_height_ratio * ref_h], ref_h, config)
    keep = [c for c in merged if digit_shaped(c, labels, dist, mask.shape, config, stroke)]
    ref_h = writing_height(keep, config) if keep else ref_h
    keep = [
        c
        for c in keep
        if max(config.min_height_px, config.min_height_frac * ref_h) <= c.h <= config.max_height_ratio * ref_h
        and not at_frame_edge(c, mask.shape, ref_h, config)
    ]
    keep = reading_order(keep, config, ref_h)[: config.max_digits]
    ref_w = reference_width(keep) if keep else 0.0
    splits = [(i, pieces) for i, c in enumerate(keep) for pieces in split_wide(c, ref_w, ink, config)]
    return labels, keep, splits, ref_w

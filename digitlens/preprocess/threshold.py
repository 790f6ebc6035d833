"""From ink strength to a binary ink mask, plus the morphology that cleans it.

Every kernel here is sized from the measured stroke width, not fixed pixels: the same
'erode' that removes specks from a webcam frame would erase a fine pen in a phone photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitlens.preprocess.config import PreprocessConfig
from digitlens.preprocess.segment import label_components
from digitlens.preprocess.stats import fast_median, fast_percentile


def noise_sigma(grey: np.ndarray) -> float:
    """Immerkaer's fast estimate of white-noise sigma (same units as grey)."""
    if min(grey.shape) < 3:
        return 0.0
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    resp = cv2.filter2D(grey.astype(np.float32), -1, k, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) / 6 * np.abs(resp).mean())


def binarize(
    ink: np.ndarray,
    grey: np.ndarray,
    dark: bool,
    config: PreprocessConfig = PreprocessConfig(),
    exclude: np.ndarray | None = None,
    noise_from: np.ndarray | None = None,
    quiet: bool = True,
) -> np.ndarray:
    """uint8 mask (255 = ink) by the configured method; `exclude` pixels do not vote in Otsu.

    `noise_from`: the grey image whose noise sets the floor (the writing surface, so a
    textured desk around it does not raise the floor over pale ink); default `grey`.
    `quiet`: the floor may drop to `quiet_contrast` on quiet paper (not on ruled paper,
    where what rule tracing missed of a faint rule would pass it too).
    """
    if config.threshold == "fixed":
        g8 = (grey * 255).astype(np.uint8)
        op = cv2.THRESH_BINARY_INV if dark else cv2.THRESH_BINARY
        return cv2.threshold(g8, config.fixed_level, 255, op)[1]
    ink8 = (ink * 255).astype(np.uint8)
    # ink must stand clear of the noise as well as of the paper
    sigma = noise_sigma(grey if noise_from is None else noise_from)
    contrast = min(0.95, max(config.min_contrast, config.noise_factor * sigma))
    voters = ink8 if exclude is None or not exclude.any() else ink8[exclude == 0].reshape(1, -1)
    if quiet and 0 < config.quiet_contrast < contrast and voters.size:
        # quiet paper: where nine pixels in ten of the paper's own ink field are near zero (no
        # grain, no texture, no shadow left), a pale pen at 11 % stands clear of it; grainy
        # paper keeps the floor (its field's upper decile sets it)
        field = float(fast_percentile(voters.ravel()[:: config.quiet_stride], config.quiet_quantile)) / 255
        contrast = min(contrast, max(config.quiet_contrast, config.noise_factor * sigma, config.quiet_factor * field))
    floor = round(contrast * 255)
    if config.threshold == "adaptive":
        block = max(3, int(min(ink.shape) * config.adaptive_block) | 1)
        local = cv2.adaptiveThreshold(ink8, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, -floor / 2)
        return _unless_noise(cv2.bitwise_and(local, cv2.threshold(ink8, floor, 255, cv2.THRESH_BINARY)[1]), config)
    level, _ = cv2.threshold(voters, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    high = max(level, floor)
    mask = cv2.threshold(ink8, high, 255, cv2.THRESH_BINARY)[1]
    if 0 < config.hysteresis < 1 and mask.any() and not mask.all():  # all ink: no stroke width to grow by
        noise = round(min(0.95, config.noise_factor * sigma) * 255)
        low = max(level, noise, round(config.hysteresis * floor))
        if low < high:
            weak = cv2.threshold(ink8, low, 255, cv2.THRESH_BINARY)[1]
            if exclude is not None:  # never along a rule (a stroke crossing it would take the grid)
                weak = cv2.bitwise_and(weak, cv2.bitwise_not(exclude))
            weak = cv2.bitwise_and(weak, faint_ridges(ink8, config.hysteresis_ridge))
            reach = int(np.ceil(config.hysteresis_reach * max(1.0, stroke_width(mask))))
            mask = grow_into(mask, weak, reach, config.hysteresis_gain)
    return _unless_noise(mask, config)


def faint_ridges(ink8: np.ndarray, ratio: float) -> np.ndarray:
    """uint8 mask of pixels at least `ratio` times the strongest ink next to them.

    A faint stretch of a stroke is its own local ridge; the soft edge (halo) of a strong
    stroke is a slope beside a much stronger neighbour.  Growing only into the first
    continues pale strokes without fattening dark ones (which would fuse close digits).
    """
    if ratio <= 0:
        return np.full(ink8.shape, 255, np.uint8)
    top = cv2.dilate(ink8, np.ones((3, 3), np.uint8)).astype(np.float32)
    return np.where(ink8.astype(np.float32) >= ratio * top, np.uint8(255), np.uint8(0))


def grow_into(seeds: np.ndarray, weak: np.ndarray, reach: int, max_gain: float = 0.0) -> np.ndarray:
    """Hysteresis: the `weak` mask's pixels (uint8 255) joined to `seeds` within `reach` px along it.

    A pale or thin stroke's faint stretches (a skipping ballpoint, blur on a 1 px line)
    fall under the contrast floor while its core clears it; they belong to the stroke
    they continue, not to the paper.  Faint marks with no strong pixel stay out; the
    growth goes no further than `reach` (a stroke width or two), so it fills a stroke's
    faint stretches but does not follow a faint rule from one digit to the next; and a
    piece more than `max_gain` times its seeds (a faint grid or texture a stroke touches)
    does not grow at all (0: no bound).
    """
    n, labels, stats = label_components(weak)
    if n < 2 or reach < 1:
        return seeds
    seeded = np.bincount(labels[seeds > 0], minlength=n)
    held = seeded > 0
    if max_gain > 0:
        held &= stats[:, cv2.CC_STAT_AREA] <= max_gain * seeded
    held[0] = False
    allowed = np.where(held[labels], np.uint8(255), np.uint8(0)) | seeds
    grown = seeds.copy()
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    for _ in range(reach):  # geodesic dilation: one pixel along the allowed mask per step
        nxt = cv2.bitwise_and(cv2.dilate(grown, cross), allowed)
        if np.array_equal(nxt, grown):
            break
        grown = nxt
    return grown


def _unless_noise(mask: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Handwriting covers a small part of a page; a mask mostly 'ink' is noise or texture."""
    if cv2.countNonZero(mask) > config.max_ink_fraction * mask.size:
        return np.zeros_like(mask)
    return mask


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the mean distance to the background along ridges."""
    if not mask.any():
        return 0.0
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    ridge = dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)) - 1e-6
    vals = dist[ridge & (mask > 0)]
    return float(2.0 * fast_median(vals)) if vals.size else 0.0


def find_rules(
    ink: np.ndarray, config: PreprocessConfig = PreprocessConfig(), frame: tuple[int, int] | None = None
) -> np.ndarray:
    """uint8 mask of ruled/squared-paper lines and straight page borders.

    A rule is a long and thin run: long against the image, thin against the image.  It is
    traced in a low-contrast mask, where a faint printed line is still continuous even
    when a threshold would leave only dashes of it; small tilts are tolerated by
    thickening across the line before looking for long runs.

    `frame`: (h, w) of the whole photo when `ink` is the box of the page found in it.  A
    family of parallel lines spanning much of the page (`rule_page_length` of its side)
    is then ruling too, however small the page is in the photo; lone upright lines are
    still measured against the photo (a big 1 on a small note is as long as the note is
    tall).  Tilted lines are measured against the box given (a family of three, or a line
    from edge to edge of the box, is asked of them).
    """
    h, w = ink.shape
    fh, fw = frame if frame is not None else (h, w)
    weak = cv2.threshold((ink * 255).astype(np.uint8), int(config.rule_contrast * 255), 255, cv2.THRESH_BINARY)[1]
    rules: np.ndarray = np.zeros_like(weak)
    for horizontal in (True, False):
        length = w if horizontal else h
        seg = max(15, int(length * config.rule_min_length / 4))
        # thin against the image's longer side, as long is: across a strip (a form's row of
        # boxes, a ledger line) the short side is about one digit, and a printed rule is
        # not a fraction of that
        thick_max = max(h, w) * config.rule_max_thickness + 2
        probe = cv2.dilate(weak, np.ones((3, 1) if horizontal else (1, 3), np.uint8))
        runs = cv2.morphologyEx(probe, cv2.MORPH_OPEN, np.ones((1, seg) if horizontal else (seg, 1), np.uint8))
        # only the box around the runs is labelled (they are few; what is kept does not
        # depend on how the pieces are numbered)
        x0, y0, bw, bh = cv2.boundingRect(runs)
        if bw == 0:
            continue
        box = (slice(y0, y0 + bh), slice(x0, x0 + bw))
        _n, labels, stats = label_components(np.ascontiguousarray(runs[box]))
        stats[1:, cv2.CC_STAT_LEFT] += x0
        stats[1:, cv2.CC_STAT_TOP] += y0
        extent = stats[:, cv2.CC_STAT_WIDTH if horizontal else cv2.CC_STAT_HEIGHT]
        thickness = stats[:, cv2.CC_STAT_AREA] / np.maximum(extent, 1) - 2
        thin = thickness <= thick_max
        thin[0] = False
        # a rule is long against the longer side (a 1 in a strip of digits is tall against
        # the strip, not against the strip's length)...
        long = thin & (extent >= max(fh, fw) * config.rule_min_length)
        # ...and a lone line must span most of the image (a margin, a page edge): shorter
        # ones count only in a family of parallel lines (ruled or squared paper)
        long &= (_lanes(stats, long, horizontal, thick_max) >= config.rule_family) | (
            extent >= (fw if horizontal else fh) * config.rule_alone_length
        )
        if frame is not None:  # a family spanning much of the page is its ruling
            page = thin & (extent >= length * config.rule_page_length)
            long |= page & (_lanes(stats, page, horizontal, thick_max) >= config.rule_family)
        # lines crossing the whole image, several side by side, are rules or a form's boxes too
        across_all = thin & (extent >= length * config.rule_cross_length)
        across_all &= _lanes(stats, across_all, horizontal, thick_max) >= config.rule_family
        keep = long | across_all
        if not horizontal and rules.any():
            # the walls of a form's boxes: upright runs from one horizontal rule to the next
            top, left = stats[:, cv2.CC_STAT_TOP], stats[:, cv2.CC_STAT_LEFT]
            bottom, right = top + extent, left + stats[:, cv2.CC_STAT_WIDTH]
            reach = int(thick_max) + 2
            ends = np.zeros(len(stats), bool)
            for i in np.flatnonzero(thin & ~keep):
                t, b, x0, x1 = int(top[i]), int(bottom[i]), int(left[i]), int(right[i])
                ends[i] = bool(
                    rules[max(0, t - reach) : t + reach, x0:x1].any()
                    and rules[max(0, b - reach) : b + reach, x0:x1].any()
                )
            if _lanes(stats, ends, horizontal, thick_max) >= config.rule_family:
                keep |= ends
        if keep.any():
            rules[box] |= (keep[labels] & (weak[box] > 0)).astype(np.uint8) * 255
    if config.tilted_rules:  # on what the upright rules left (fewer points: a faster transform)
        # (on a page's box, long against the page: a family of three or a line from edge to
        # edge is asked of them, which a big 1 on a small note is not)
        rules |= tilted_rules(cv2.bitwise_and(weak, cv2.bitwise_not(rules)), config)
    return rules


def _hough_copy(mask: np.ndarray, config: PreprocessConfig) -> tuple[np.ndarray, float, float]:
    """(the mask shrunk to at most `rule_hough_side` and binarised again, its scale, the
    shortest rule's length on it: `rule_min_length` of the mask's geometric-mean side)."""
    h, w = mask.shape
    scale = min(1.0, config.rule_hough_side / max(h, w))
    small = (
        mask
        if scale == 1.0
        else cv2.resize(mask, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    )
    return (small > 64).astype(np.uint8) * 255, scale, config.rule_min_length * float(np.sqrt(h * w)) * scale


def tilted_rules(weak: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Long thin straight lines at any angle (rules under perspective, a slanted page edge).

    Segments are found by a probabilistic Hough transform on the low-contrast mask,
    shrunk so that the cost stays bounded at any photo size; a segment is a rule when it
    is longer than `rule_min_length` of the image's size (the geometric mean of its sides:
    in a strip of writing the short side is about one digit tall, so a stroke of a 7 or a
    4 drawn with a thin pen would pass against it, while against the longer side a rule
    across a page seen in perspective falls short) and its median thickness (twice the
    distance to the background along it) is a rule's, not a pen stroke's (a tall 1
    filling the frame is long and straight too, but thick).
    """
    h, w = weak.shape
    out = np.zeros_like(weak)
    if np.count_nonzero(weak) > config.rule_max_cover * weak.size:
        return out  # a texture or noise, where straight segments are found by chance
    side = min(h, w)
    small, scale, min_len = _hough_copy(weak, config)
    _, _, stats = label_components(small)
    if len(stats) < 2 or np.hypot(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]).max() < min_len:
        return out  # nothing long enough to be a rule: no transform needed
    segments = cv2.HoughLinesP(
        small,
        1,
        np.pi / 360,
        threshold=max(10, int(min_len / 2)),
        minLineLength=min_len,
        maxLineGap=max(2, int(0.01 * side * scale)),
    )
    if segments is None:
        return out
    dist = cv2.distanceTransform(weak, cv2.DIST_L2, 3)
    thick_max = side * config.rule_max_thickness + 2
    # the thickness near the line, not only on it: along the edge of a solid object (a pen
    # on the page) the distance to the background is small, a pen's width away it is not
    # (1.5: the largest distance near a line lies on its middle, where the segment may not)
    reach = 2 * int(np.ceil(thick_max / 2)) + 1
    dist_near = cv2.dilate(dist, np.ones((reach, reach), np.uint8)) if config.rule_edge_to_edge else dist
    line = np.zeros_like(weak)
    thin = []
    for x0, y0, x1, y1 in segments.reshape(-1, 4)[: config.max_rules] / scale:
        line[:] = 0
        cv2.line(line, (round(x0), round(y0)), (round(x1), round(y1)), 255, 1)
        on = line > 0
        if not on.any():
            continue
        if 2.0 * float(fast_median(dist[on].astype(np.float64))) > thick_max:
            continue
        if 2.0 * float(fast_median(dist_near[on].astype(np.float64))) <= 1.5 * thick_max:
            thin.append((x0, y0, x1, y1))
    if not thin:
        return out
    seg = np.array(thin)
    angle = np.arctan2(seg[:, 3] - seg[:, 1], seg[:, 2] - seg[:, 0]) % np.pi
    width = max(1, int(np.ceil(thick_max)))
    edge = 0.01 * side + 2  # how near the frame's edge a line crossing it ends
    for i in range(len(seg)):
        # a rule is one of a family: several parallel lines (a pen stroke stands alone);
        # offsets along segment i's own normal (angles near 0 and near 180 degrees are one
        # direction, and their normals would point opposite ways)
        d = np.abs(angle - angle[i])
        family = np.minimum(d, np.pi - d) <= np.radians(3.0)
        offset = -np.sin(angle[i]) * seg[:, 0] + np.cos(angle[i]) * seg[:, 1]
        lanes = np.unique(np.round(offset[family] / (2.0 * thick_max)))
        p0, p1 = (round(seg[i, 0]), round(seg[i, 1])), (round(seg[i, 2]), round(seg[i, 3]))
        if len(lanes) < config.rule_family:
            # a line whose segments run from edge to edge of the frame is a rule even alone
            # (the one rule of a close-up page): a pen stroke, however long, ends inside
            chord = _chord(seg[i], (h, w)) if config.rule_edge_to_edge else None
            if chord is None:
                continue
            lane = family & (np.abs(offset - offset[i]) <= thick_max)
            covered, lo, hi = _covered(seg[lane], np.array([*chord[0], *chord[1]], np.float64))
            run = float(np.hypot(*np.subtract(chord[1], chord[0])))
            if covered < config.rule_alone_length * run or lo > edge or hi < run - edge:
                continue
            p0, p1 = chord
        cv2.line(out, p0, p1, 255, width)
    return cv2.bitwise_and(out, weak)


def rule_chords(rules: np.ndarray, config: PreprocessConfig = PreprocessConfig()) -> np.ndarray:
    """uint8 mask of the found rules' lines drawn on from edge to edge of the frame.

    A printed rule runs on to the edge of the page; writing crossing it, a fold or a shadow
    breaks it, and the stretches beyond the break are too short to be found on their own
    (they are left as 1s and dashes).  The lines come from a Hough transform of the rules
    themselves, on a copy at most `rule_hough_side` long; each is drawn as wide as the
    rules are thick, and a pixel more each side.
    """
    h, w = rules.shape
    out = np.zeros_like(rules)
    if not rules.any() or np.count_nonzero(rules) > config.rule_max_cover * rules.size:
        return out  # no rules, or a region too solid to be lines
    small, scale, min_len = _hough_copy(rules, config)
    segments = cv2.HoughLinesP(
        small, 1, np.pi / 360, threshold=max(10, int(min_len / 2)), minLineLength=min_len, maxLineGap=2
    )
    if segments is None:
        return out
    thick = stroke_width(rules)
    width = max(3, int(np.ceil(thick)) + 2) if np.isfinite(thick) else 3
    for segment in segments.reshape(-1, 4)[: config.max_rules] / scale:
        chord = _chord(segment, (h, w))
        if chord is not None:
            cv2.line(out, chord[0], chord[1], 255, width)
    return out


def _chord(segment: np.ndarray, shape: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The segment's line from one edge of a frame of `shape` (h, w) to the other."""
    h, w = shape
    x0, y0, x1, y1 = (float(v) for v in segment)
    n = float(np.hypot(x1 - x0, y1 - y0))
    if n == 0:
        return None
    reach = 2.0 * (h + w) / n  # beyond both edges from anywhere in the frame
    a = (round(x0 - reach * (x1 - x0)), round(y0 - reach * (y1 - y0)))
    b = (round(x1 + reach * (x1 - x0)), round(y1 + reach * (y1 - y0)))
    ok, p, q = cv2.clipLine((0, 0, w, h), a, b)
    start, end = (int(p[0]), int(p[1])), (int(q[0]), int(q[1]))
    return (start, end) if ok and start != end else None


def _covered(segments: np.ndarray, along: np.ndarray) -> tuple[float, float, float]:
    """(length of the union of `segments` projected on the segment `along`, where the union
    starts and where it ends), all in px from `along`'s first point."""
    d = np.array([along[2] - along[0], along[3] - along[1]], np.float64)
    d /= max(1e-9, float(np.hypot(*d)))
    a = (segments[:, 0] - along[0]) * d[0] + (segments[:, 1] - along[1]) * d[1]
    b = (segments[:, 2] - along[0]) * d[0] + (segments[:, 3] - along[1]) * d[1]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.argsort(lo)
    total, end = 0.0, -np.inf
    for s0, s1 in zip(lo[order], hi[order], strict=True):
        if s1 <= end:
            continue
        total += s1 - max(s0, end)
        end = s1
    return total, float(lo.min()), float(hi.max())


def _lanes(stats: np.ndarray, keep: np.ndarray, horizontal: bool, thick_max: float) -> int:
    """How many distinct parallel lines the kept runs lie on."""
    if horizontal:
        centre = stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT] / 2
    else:
        centre = stats[:, cv2.CC_STAT_LEFT] + stats[:, cv2.CC_STAT_WIDTH] / 2
    return int(np.unique(np.round(centre[keep] / (2.0 * thick_max))).size)


def remove_rules(
    mask: np.ndarray,
    ink: np.ndarray,
    rules: np.ndarray,
    config: PreprocessConfig = PreprocessConfig(),
    chords: np.ndarray | None = None,
) -> np.ndarray:
    """Take rule pixels out of the ink mask without cutting the digits written over them.

    Where a pen stroke crosses a printed rule the pixel is darker than the rule alone, so
    only rule pixels about as faint as the rule itself are removed; what remains of a
    crossing is then closed across the rule's width.  `chords`: the rules' lines drawn on
    to the edges (`rule_chords`), when already at hand (else made here from `rules`).
    """
    if not rules.any():
        return mask
    on_rule = rules > 0
    rule_level = float(fast_median(ink[on_rule]))
    pen = (mask > 0) & ~on_rule
    pen_level = float(fast_median(ink[pen])) if pen.any() else 1.0
    # halfway between the rule's ink and the pen's: darker is pen crossing the rule
    cut = max(rule_level * config.rule_ink_ratio, (rule_level + pen_level) / 2)
    faint = on_rule & (ink <= cut)
    cleaned = mask.copy()
    cleaned[faint] = 0
    if config.rule_remnants:
        # what is left of the rule itself: its darker grains and dashes, lying wholly on it
        # and no thicker than it (a pale pen is no darker than the rule, so darkness alone
        # cannot tell them apart); a pen crossing the rule runs on beyond it, and a digit
        # on a fine grid, all of it near some line, is a blob far thicker than a line
        near = cv2.dilate(rules, np.ones((3, 3), np.uint8)) > 0
        if config.rule_edge_to_edge:  # ...or on its line beyond the rule found, up to the frame's edges
            near |= (rule_chords(rules, config) if chords is None else chords) > 0
        n, labels, stats = label_components(cleaned)
        if n > 1:
            beyond = np.bincount(labels[(cleaned > 0) & ~near], minlength=n)
            remnant = beyond == 0
            remnant[0] = False
            if remnant.any():
                extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
                line = max(2.0, 1.5 * stroke_width(rules) + 1.0)
                remnant &= stats[:, cv2.CC_STAT_AREA] <= line * extent
                cleaned[remnant[labels]] = 0
    closed = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    restore = faint & (closed > 0)
    cleaned[restore] = 255
    return cleaned


def _border_runs(labels: np.ndarray, stats: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """bool [n]: the labelled regions lying along the image border (see remove_border_runs)."""
    n = len(stats)
    h, w = labels.shape
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
    return drop


def not_writing(
    mask: np.ndarray, config: PreprocessConfig = PreprocessConfig(), outside: np.ndarray | None = None
) -> np.ndarray:
    """uint8 mask of the regions of a threshold that are objects, not pen strokes.

    A pen or a phone lying on the page, the strip of desk beside it, a punched hole: each
    is solid (it fills most of its smallest rotated rectangle) and thick (its inscribed
    disc is `object_thickness` of the image's short side or more), where a stroke is a
    thin curve; and the desk along the frame runs along the border, or along the surface's
    outline (`outside`: 255 beyond the surface) where the hull cuts a sliver of it; and,
    with `object_disc`, round solid blobs of a digit's least height or more (punched holes,
    however small against the frame).  None of them is writing, so none of them should set
    the ink level (see binarize's `exclude`).
    """
    thick = config.object_thickness * min(mask.shape)
    on_border = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
    rim = None
    if outside is not None and outside.any():
        rim = cv2.dilate(outside, np.ones((3, 3), np.uint8))
        on_border = on_border or bool(cv2.bitwise_and(rim, mask).any())
    side = int(thick / np.sqrt(2))  # a disc `thick` across holds a square this wide
    disc = config.object_disc > 0
    if disc:  # a punched hole `min_height_px` across holds a square this wide
        side = min(side, max(2, int(0.8 * config.min_height_px / np.sqrt(2))))
    if not on_border and (thick <= 0 or side < 2 or not cv2.erode(mask, np.ones((side, side), np.uint8)).any()):
        return np.zeros_like(mask)  # nothing along the border, nothing thick: no labelling (every frame)
    n, labels, stats = label_components(mask)
    if n <= 1:
        return np.zeros_like(mask)
    drop = _border_runs(labels, stats, config)
    if outside is not None and rim is not None:
        drop |= _outline_runs(labels, stats, outside, config)
    if thick > 0:
        wide = np.flatnonzero(np.minimum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= thick)
        wide = wide[(wide > 0) & ~drop[wide]]
        for i in wide:
            x, y, bw, bh = stats[i, :4]
            # its own pixels, padded so the distance to the box's edge is no distance to paper
            own = cv2.copyMakeBorder((labels[y : y + bh, x : x + bw] == i).view(np.uint8), 1, 1, 1, 1, 0)
            if 2 * float(cv2.distanceTransform(own, cv2.DIST_L2, 3).max()) < thick:
                continue
            outline = max(cv2.findContours(own, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0], key=len)
            (_, _), (rw, rh), _ = cv2.minAreaRect(outline)
            drop[i] = stats[i, cv2.CC_STAT_AREA] >= config.object_fill * max(1.0, rw * rh)
    if disc:
        # a punched hole, a dot of a printed pattern: round, solid and at least a digit's
        # least height across, however small against the frame (a ring of ink, a 0, is not
        # solid; a pen's dot is smaller)
        w, h, area = (stats[:, k].astype(np.float64) for k in (cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT, cv2.CC_STAT_AREA))
        short, long = np.minimum(w, h), np.maximum(w, h)
        round_ = (short >= config.min_height_px) & (short >= config.object_disc * long) & (area >= 0.6 * w * h)
        round_[0] = False
        for i in np.flatnonzero(round_ & ~drop):
            x, y, bw, bh = stats[i, :4]
            own = cv2.copyMakeBorder((labels[y : y + bh, x : x + bw] == i).view(np.uint8), 1, 1, 1, 1, 0)
            drop[i] = 2 * float(cv2.distanceTransform(own, cv2.DIST_L2, 3).max()) >= 0.8 * short[i]
    if not drop.any():
        return np.zeros_like(mask)
    return np.where(drop[labels], np.uint8(255), np.uint8(0))


def drop_touching(mask: np.ndarray, zone: np.ndarray) -> np.ndarray:
    """mask without its connected regions that reach into `zone`."""
    n, labels, _stats = label_components(mask)
    if n <= 1 or not zone.any():
        return mask
    hit = np.zeros(n, bool)
    hit[np.unique(labels[zone > 0])] = True
    hit[0] = False
    return np.where(hit[labels], np.uint8(0), mask)


def _outline_runs(labels: np.ndarray, stats: np.ndarray, outside: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """bool [n]: the labelled regions lying along the edge of `outside` (255 beyond the surface).

    The surface's outline is a convex hull a little off the sheet's real edge where the
    frame cuts the sheet or its corner curls, so a sliver of desk or the sheet's shaded
    rim is left inside it: a long thin piece hugging the outline, as the desk along the
    frame hugs the border.  Long is measured against the surface, not the frame: the
    hull around two stacked notes takes in wedges of desk a fifth of the notes' side long
    that are short beside a photo of the whole desk.
    """
    n = len(stats)
    rim = cv2.dilate(outside, np.ones((3, 3), np.uint8))
    rim[0, :] = rim[-1, :] = rim[:, 0] = rim[:, -1] = 255  # the frame goes on the outline where it cuts the sheet
    contact = np.bincount(labels[rim > 0], minlength=n)
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    _x, _y, sw, sh = cv2.boundingRect(cv2.bitwise_not(outside))
    side = min(sw, sh) if sw > 0 else min(labels.shape)
    drop = (contact >= config.border_run * extent) & (contact >= config.border_min_side * side)
    drop[0] = False
    return drop


def remove_border_runs(
    mask: np.ndarray, config: PreprocessConfig = PreprocessConfig(), outside: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Drop regions that run along the image border: the desk around a page or a note.

    A digit that touches the frame touches it with a stroke end or two; a page edge or
    the desk beyond it lies along the border for much of its own length.  With `outside`
    (uint8, 255 beyond the writing surface), regions running along the surface's outline
    go too.  Returns (cleaned mask, removed regions).
    """
    n, labels, stats = label_components(mask)
    if n <= 1:
        return mask, np.zeros_like(mask)
    drop = _border_runs(labels, stats, config)
    if outside is not None and outside.any():
        drop |= _outline_runs(labels, stats, outside, config)
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
    c = round(sw * config.close_stroke_frac)
    if c >= 2:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (c, c)))
    return mask, sw

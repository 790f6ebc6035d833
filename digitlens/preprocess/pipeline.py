"""The whole photo-to-crops pipeline, as one pure function over numpy arrays.

Stages: grey -> working scale -> polarity -> flatten lighting -> threshold -> take away
rules -> clean -> segment -> order -> normalise.  Nothing here reads files or shows
windows; `keep_stages=True` returns every intermediate image for `--debug`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from digitlens import conventions as C
from digitlens.preprocess.colour import best_channel, channel, has_colour, working_colour
from digitlens.preprocess.config import PreprocessConfig
from digitlens.preprocess.illumination import background_copy, dark_ink, ink_strength
from digitlens.preprocess.image import to_grey
from digitlens.preprocess.level import boxes_back, level
from digitlens.preprocess.lines import skew_angle
from digitlens.preprocess.normalize import to_mnist
from digitlens.preprocess.scale import finer_side, ink_pool_size, shrink_keeping_ink, writing_size
from digitlens.preprocess.segment import Candidate, find_digits, label_components, may_be_pair, member_mask, split_pair
from digitlens.preprocess.stats import fast_median, fast_percentile
from digitlens.preprocess.surface import find_surface
from digitlens.preprocess.threshold import (
    binarize,
    clean,
    drop_touching,
    find_rules,
    not_writing,
    remove_border_runs,
    remove_rules,
    rule_chords,
)
from digitlens.preprocess.underline import cut_underlines


def _mark_pixels(mask: np.ndarray, min_side: int) -> int:
    """Pixels of the regions of a mask that are at least min_side long: marks, not specks."""
    n, _labels, stats = label_components(mask)
    sizes = stats[1:n]
    keep = np.maximum(sizes[:, cv2.CC_STAT_WIDTH], sizes[:, cv2.CC_STAT_HEIGHT]) >= min_side
    return int(sizes[keep, cv2.CC_STAT_AREA].sum())


@dataclass(frozen=True)
class Split:
    """A proposal to read candidate `index` as several digits: their crops and boxes."""

    index: int
    crops: np.ndarray
    boxes: np.ndarray

    def __post_init__(self) -> None:
        k = self.crops.shape[0]
        if k < 2 or self.crops.shape != (k, C.IMAGE_SIZE, C.IMAGE_SIZE) or self.boxes.shape != (k, 4):
            raise ValueError(
                f"a split needs >= 2 crops [k, 28, 28] and boxes [k, 4], got {self.crops.shape}, {self.boxes.shape}"
            )


@dataclass(frozen=True)
class Preprocessed:
    """MNIST-like crops of every digit found, with where they came from.

    crops: float32 [N, 28, 28] in 0..1, white on black; boxes: int [N, 4] as
    (x, y, w, h) in original image pixels; lines: int [N] text-line index, in
    reading order.  splits: ways to read a wide candidate as touching digits
    (several per candidate), with the crops of their pieces; the reader decides.
    stages: name -> uint8 image, only when asked for.
    """

    crops: np.ndarray
    boxes: np.ndarray
    lines: np.ndarray
    image_size: tuple[int, int]  # (height, width) of the input
    dark_ink: bool = True
    stroke_width: float = 0.0
    stages: dict[str, np.ndarray] = field(default_factory=dict)
    splits: tuple[Split, ...] = ()
    surface: np.ndarray | None = None  # float32 [K, 2] (x, y) outline of the sheet/board in input pixels, if found
    #: candidate indices -> the pair splits of those of them that may be two touching digits,
    #: normalised only when asked (the reader asks for the few it could not read whole)
    pairs: Callable[[Sequence[int]], tuple[Split, ...]] | None = field(default=None, repr=False, compare=False)
    skew: float = 0.0  # degrees the writing's lines sloped by (positive: falling to the right) when it was levelled
    #: boxes in the levelled frame (input scale), where the digits stand upright: what geometry cues judge
    level_boxes: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = self.crops.shape[0]
        if self.crops.shape != (n, C.IMAGE_SIZE, C.IMAGE_SIZE) or self.crops.dtype != np.float32:
            raise ValueError(f"crops must be float32 [N, 28, 28], got {self.crops.dtype} {self.crops.shape}")
        if self.boxes.shape != (n, 4):
            raise ValueError(f"boxes must be [{n}, 4], got {self.boxes.shape}")
        if self.lines.shape != (n,):
            raise ValueError(f"lines must be [{n}], got {self.lines.shape}")
        if any(not 0 <= sp.index < n for sp in self.splits):
            raise ValueError("a split refers to a candidate that does not exist")

    def __len__(self) -> int:
        return int(self.crops.shape[0])


def grey_digit(own: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """The digit's own ink strength, its strokes' core scaled to 1, over its mask grown by one pixel."""
    grown = cv2.dilate(own.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    strokes = ink[own]
    core = float(fast_percentile(strokes, 75)) if strokes.size else 1.0
    scaled = _unit(ink / max(core, 1e-3))
    return np.where(grown, scaled, np.float32(0.0)).astype(np.float32, copy=False)


def _unit(a: np.ndarray) -> np.ndarray:
    """np.clip(a, 0, 1) in place, for float arrays without NaN or -0 (np.clip's overhead is per call)."""
    return np.minimum(np.maximum(a, 0.0, out=a), 1.0, out=a)


def _within(grey: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The part of the image inside the mask's bounding box."""
    ys, xs = np.nonzero(mask)
    return grey[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] if len(ys) else grey


def working_scale(shape: tuple[int, int], max_side: int) -> float:
    return min(1.0, max_side / max(shape))


class _Clock:
    """Adds the time since the last tick to timings[name] (a no-op without a dict)."""

    def __init__(self, timings: dict | None):
        self.timings = timings
        self.last = time.perf_counter()

    def tick(self, name: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[name] = self.timings.get(name, 0.0) + now - self.last
            self.last = now


def preprocess(
    image: np.ndarray,
    config: PreprocessConfig = PreprocessConfig(),
    keep_stages: bool = False,
    timings: dict | None = None,
) -> Preprocessed:
    """Any photo or frame (HxW, HxWx3 BGR, HxWx4 BGRA; uint8/uint16/float 0..1) -> crops.

    `timings`, when given, receives seconds per stage (for benchmarks).
    """
    clock = _Clock(timings)
    grey_full = to_grey(image)
    H, W = grey_full.shape
    s = working_scale((H, W), config.max_side)
    grey = (
        grey_full
        if s == 1.0
        else cv2.resize(grey_full, (max(1, round(W * s)), max(1, round(H * s))), interpolation=cv2.INTER_AREA)
    )
    clock.tick("convert")
    surface = None
    sheet = False  # a sheet brighter than its desk was found: pen on paper, unless the strokes say otherwise
    if config.find_surface:  # a sheet brighter than its desk, else a board darker than its wall
        surface = find_surface(grey, True, config)
        sheet = surface is not None
        if surface is None and float(fast_median(grey[::8, ::8].ravel())) < config.board_max_level:
            surface = find_surface(grey, False, config)  # a dark board fills much of the frame
    clock.tick("surface")
    best = -1  # the colour channel read instead of grey (-1: grey)
    if config.colour_ink and has_colour(image, config):
        bgr = working_colour(image, (grey.shape[1], grey.shape[0]), scaled=False)
        if bgr is not None:
            best = best_channel(bgr, grey, None if surface is None else surface.mask, config)
            if best >= 0:
                grey = channel(bgr, best)
        clock.tick("colour")
    # the ink's polarity is judged on the surface alone: a desk around a sheet outweighs it
    on_surface = grey if surface is None else _within(grey, surface.mask)
    small = background_copy(grey, config) if on_surface is grey else None  # shrunk once for both
    dark = dark_ink(on_surface, config, small, prior=True if sheet else None)
    pool = ink_pool_size(1.0 / s, config.ink_pool)
    if pool > 1:  # a big photo: shrink it again, keeping its thin strokes' contrast
        if best < 0:
            full = grey_full
        elif image.dtype in (np.uint8, np.uint16) and image.shape[2] == 3:
            full = channel(image, best)
        else:
            colour = working_colour(image, (W, H))
            assert colour is not None  # has_colour said it has three channels
            full = channel(colour, best)
        grey = shrink_keeping_ink(full, (grey.shape[1], grey.shape[0]), dark, pool)
        on_surface = grey if surface is None else _within(grey, surface.mask)
        small = background_copy(grey, config) if on_surface is grey else None
        clock.tick("scale")
    ink, background = ink_strength(grey, dark, config, small)
    if surface is not None:
        ink = np.where(surface.mask > 0, ink, np.float32(0.0))
    clock.tick("illumination")
    rules: np.ndarray = np.zeros(ink.shape, np.uint8)
    chords: np.ndarray | None = None  # the rules' lines on to the edges (of the page when read on it)
    page = cv2.boundingRect(surface.mask) if surface is not None and config.rules_on_surface else (0, 0, 0, 0)
    if config.remove_rules and min(page[2:]) >= config.surface_min_width * min(ink.shape):
        # a family of rules is long against the page it is printed on, not the photo of a desk
        x, y, w, h = page
        box = (slice(y, y + h), slice(x, x + w))
        rules[box] = find_rules(np.ascontiguousarray(ink[box]), config, frame=ink.shape[:2])
        chords = np.zeros_like(rules)
        chords[box] = rule_chords(np.ascontiguousarray(rules[box]), config)
    elif config.remove_rules:
        rules = find_rules(ink, config)
        chords = rule_chords(rules, config) if config.rule_edge_to_edge else None
    if surface is None:
        exclude, noise_from = rules, None
    else:  # only the surface votes, and its own grain sets the noise floor
        exclude = cv2.bitwise_or(rules, np.where(surface.mask > 0, np.uint8(0), np.uint8(255)))
        noise_from = on_surface
    quiet = not rules.any()  # ruled paper is not quiet: a faint rule's untraced stretches would pass a low floor
    threshold = binarize(ink, grey, dark, config, exclude=exclude, noise_from=noise_from, quiet=quiet)
    mask = remove_rules(threshold, ink, rules, config, chords)
    outside = None if surface is None else cv2.bitwise_not(surface.mask)
    objects = not_writing(mask, config, outside) if config.object_revote and config.threshold == "otsu" else None
    if objects is not None and cv2.countNonZero(objects) >= config.object_vote * cv2.countNonZero(mask) > 0:
        # a pen on the page or a strip of desk is no ink, so it must not set the ink level
        # either: one dark object pulls Otsu's level above a pale pen's strokes.  The new
        # level is kept only when it finds clearly more ink apart from the objects (a bold
        # digit alone in the frame looks solid too, and nothing lies beside it)
        reach = max(1, round(config.object_revote * min(ink.shape)))
        apart = cv2.dilate(objects, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach + 1, 2 * reach + 1)))
        revoted = binarize(
            ink, grey, dark, config, exclude=cv2.bitwise_or(exclude, apart), noise_from=noise_from, quiet=quiet
        )
        beside = drop_touching(remove_rules(revoted, ink, rules, config, chords), objects)
        marks = _mark_pixels(beside, config.min_height_px)
        before = _mark_pixels(drop_touching(mask, objects), config.min_height_px)
        if marks > max(config.object_gain * before, config.object_share * cv2.countNonZero(objects)):
            threshold, mask = revoted, beside  # the objects go too: their thickness would set the stroke width
    mask, border = remove_border_runs(mask, config, outside)
    cleaned, sw = clean(mask, config)
    clock.tick("threshold")
    if s < 1.0 and config.zoom_below > 0:
        # writing too small to read at this scale (tiny digits on a big page): read again finer
        size = writing_size(mask)
        if 0 < size < config.zoom_below:
            side = finer_side((H, W), s, size, config.zoom_target, config.zoom_max_pixels)
            if side > 1.25 * config.max_side:
                return preprocess(image, config.with_(max_side=side, zoom_below=0.0), keep_stages, timings)
    cleaned, underlines = cut_underlines(cleaned, sw, config)
    labels, cands, proposed, ref_w = find_digits(cleaned, ink, config, sw)
    unlevelled = cleaned.shape
    back = None  # the levelled frame -> the working frame, when the writing was levelled
    skew = 0.0
    if config.level_skew > 0 and len(cands) >= 2:
        skew = skew_angle(np.array([(c.x, c.y, c.w, c.h) for c in cands], np.float64))
        if abs(skew) >= config.level_skew:  # a page photographed at a slant: read its lines level
            stages_cleaned = cleaned
            cleaned, ink, back = level(cleaned, ink, skew)
            cleaned = cut_underlines(cleaned, sw, config)[0]  # an underline sloping with the writing is level now
            labels, cands, proposed, ref_w = find_digits(cleaned, ink, config, sw)
        else:
            skew = 0.0
    clock.tick("segmentation")

    def normalised(group: list[Candidate]) -> tuple[np.ndarray, np.ndarray]:
        crops = np.zeros((len(group), C.IMAGE_SIZE, C.IMAGE_SIZE), np.float32)
        for i, c in enumerate(group):
            own = member_mask(labels, c)
            digit = grey_digit(own, ink[c.y : c.y2, c.x : c.x2]) if config.grey_crops else own.astype(np.uint8) * 255
            crops[i] = to_mnist(digit, config.stroke_target, config.stroke_tolerance, config.deskew)
        return crops, to_input(np.array([(c.x, c.y, c.w, c.h) for c in group], np.float64).reshape(-1, 4))

    def to_input(work: np.ndarray) -> np.ndarray:
        """Boxes at working scale (levelled, if it was) -> int boxes in input pixels."""
        if back is not None:
            work = boxes_back(work, back, unlevelled)
        x0, y0 = np.floor(work[:, 0] / s), np.floor(work[:, 1] / s)
        x1 = np.minimum(W, np.ceil((work[:, 0] + work[:, 2]) / s))
        y1 = np.minimum(H, np.ceil((work[:, 1] + work[:, 3]) / s))
        return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.int64)

    crops, boxes = normalised(cands)
    lines = np.array([c.line for c in cands], np.int64)
    splits = tuple(Split(i, *normalised(pieces)) for i, pieces in proposed)

    maybe_pairs = {i for i, c in enumerate(cands) if may_be_pair(c, ref_w, config)}
    cut: dict[int, Split | None] = {}  # pairs already cut (the reader may ask twice)

    def pairs(indices: Sequence[int]) -> tuple[Split, ...]:
        for i in {int(i) for i in indices} & maybe_pairs - cut.keys():
            pieces = split_pair(cands[i], ref_w, ink, config)
            cut[i] = Split(i, *normalised(pieces)) if pieces else None
        return tuple(sp for i in indices if (sp := cut.get(int(i))) is not None)

    clock.tick("normalisation")

    stages = {}
    if keep_stages:
        stages = {
            "1_grey": (grey * 255).astype(np.uint8),
            "2_background": (np.clip(background, 0, 1) * 255).astype(np.uint8),
            "3_ink": (ink * 255).astype(np.uint8),
            "4_threshold": threshold,
            "5_rules_removed": cv2.bitwise_or(cv2.bitwise_or(rules, border), underlines),
            "6_cleaned": cleaned if back is None else stages_cleaned,
        }
        if back is not None:
            stages["7_levelled"] = cleaned
        if surface is not None:
            stages["0_surface"] = surface.mask
    outline = None if surface is None else (surface.polygon + 0.5) / s - 0.5
    level_boxes = None
    if back is not None:
        level_boxes = np.array([(c.x, c.y, c.w, c.h) for c in cands], np.float64).reshape(-1, 4) / s
    return Preprocessed(
        crops,
        boxes,
        lines,
        (H, W),
        dark,
        sw,
        stages,
        splits,
        outline,
        pairs if maybe_pairs else None,
        skew,
        level_boxes,
    )

"""The whole photo-to-crops pipeline, as one pure function over numpy arrays.

Stages: grey -> working scale -> polarity -> flatten lighting -> threshold -> take away
rules -> clean -> segment -> order -> normalise.  Nothing here reads files or shows
windows; `keep_stages=True` returns every intermediate image for `--debug`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from digitlens import conventions as C
from digitlens.preprocess.config import PreprocessConfig
from digitlens.preprocess.illumination import dark_ink, ink_strength
from digitlens.preprocess.image import to_grey
from digitlens.preprocess.normalize import to_mnist
from digitlens.preprocess.segment import find_digits, member_mask
from digitlens.preprocess.threshold import binarize, clean, find_rules, remove_border_runs, remove_rules


@dataclass(frozen=True)
class Preprocessed:
    """MNIST-like crops of every digit found, with where they came from.

    crops: float32 [N, 28, 28] in 0..1, white on black; boxes: int [N, 4] as
    (x, y, w, h) in original image pixels; lines: int [N] text-line index, in
    reading order.  stages: name -> uint8 image, only when asked for.
    """

    crops: np.ndarray
    boxes: np.ndarray
    lines: np.ndarray
    image_size: tuple[int, int]  # (height, width) of the input
    dark_ink: bool = True
    stroke_width: float = 0.0
    stages: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.crops.shape[0]
        if self.crops.shape != (n, C.IMAGE_SIZE, C.IMAGE_SIZE) or self.crops.dtype != np.float32:
            raise ValueError(f"crops must be float32 [N, 28, 28], got {self.crops.dtype} {self.crops.shape}")
        if self.boxes.shape != (n, 4):
            raise ValueError(f"boxes must be [{n}, 4], got {self.boxes.shape}")
        if self.lines.shape != (n,):
            raise ValueError(f"lines must be [{n}], got {self.lines.shape}")

    def __len__(self) -> int:
        return int(self.crops.shape[0])


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


def preprocess(image: np.ndarray, config: PreprocessConfig = PreprocessConfig(), keep_stages: bool = False,
               timings: dict | None = None) -> Preprocessed:
    """Any photo or frame (HxW, HxWx3 BGR, HxWx4 BGRA; uint8/uint16/float 0..1) -> crops.

    `timings`, when given, receives seconds per stage (for benchmarks).
    """
    clock = _Clock(timings)
    grey_full = to_grey(image)
    H, W = grey_full.shape
    s = working_scale((H, W), config.max_side)
    grey = grey_full if s == 1.0 else cv2.resize(grey_full, (max(1, round(W * s)), max(1, round(H * s))), interpolation=cv2.INTER_AREA)
    clock.tick("convert")
    dark = dark_ink(grey, config)
    ink, background = ink_strength(grey, dark, config)
    clock.tick("illumination")
    rules = find_rules(ink, config) if config.remove_rules else np.zeros(ink.shape, np.uint8)
    threshold = binarize(ink, grey, dark, config, exclude=rules)
    mask = remove_rules(threshold, ink, rules, config)
    mask, border = remove_border_runs(mask, config)
    cleaned, sw = clean(mask, config)
    clock.tick("threshold")
    labels, cands = find_digits(cleaned, ink, config)
    clock.tick("segmentation")

    crops = np.zeros((len(cands), C.IMAGE_SIZE, C.IMAGE_SIZE), np.float32)
    boxes = np.zeros((len(cands), 4), np.int64)
    lines = np.zeros(len(cands), np.int64)
    for i, c in enumerate(cands):
        digit = member_mask(labels, c).astype(np.uint8) * 255
        crops[i] = to_mnist(digit, config.stroke_target, config.stroke_tolerance, config.deskew)
        x0, y0 = int(np.floor(c.x / s)), int(np.floor(c.y / s))
        x1, y1 = min(W, int(np.ceil(c.x2 / s))), min(H, int(np.ceil(c.y2 / s)))
        boxes[i] = (x0, y0, x1 - x0, y1 - y0)
        lines[i] = c.line
    clock.tick("normalisation")

    stages = {}
    if keep_stages:
        stages = {
            "1_grey": (grey * 255).astype(np.uint8),
            "2_background": (np.clip(background, 0, 1) * 255).astype(np.uint8),
            "3_ink": (ink * 255).astype(np.uint8),
            "4_threshold": threshold,
            "5_rules_removed": cv2.bitwise_or(rules, border),
            "6_cleaned": cleaned,
        }
    return Preprocessed(crops, boxes, lines, (H, W), dark, sw, stages)

"""Faint coloured ink: read the colour channel in which the writing stands out most.

A pale blue ballpoint on white paper, or any pen on a yellow sticky note, is faint in
plain grey (which mixes the channels as the eye's brightness does) but dark in one
channel: blue ink absorbs red light, so the red channel shows it almost black, while the
paper stays bright in every channel but blue.  The channel is chosen per image by
contrast against noise: how far the writing's tail (the darkest or lightest 0.2 %)
stands from the paper's median, in units of the paper's own grain (a robust sigma).
Plain grey is kept unless a channel is clearly better, so black ink and grey photos
read exactly as before.  Pure function on numpy arrays.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitlens.preprocess.config import PreprocessConfig
from digitlens.preprocess.stats import fast_median, fast_percentile, fast_quantiles


def _contrast(values: np.ndarray) -> float:
    """Writing tail against paper, in paper-noise units (either polarity)."""
    med = float(fast_median(values))
    sigma = 1.4826 * float(fast_median(np.abs(values - med))) + 0.005
    lo, hi = fast_quantiles(values, [0.002, 0.998])
    return max(med - float(lo), float(hi) - med) / sigma


def ink_channel(bgr: np.ndarray, grey: np.ndarray, region: np.ndarray | None, config: PreprocessConfig) -> np.ndarray:
    """grey, or the colour channel (float32 0..1, same size) in which the writing has most contrast.

    bgr: HxWx3 at the same size as grey, float32 0..1 or uint8/uint16 (scaled to 0..1 here,
    only where it is looked at); region: uint8 mask of where to judge (the writing
    surface), or None for the whole image.
    """
    best = best_channel(bgr, grey, region, config)
    return grey if best < 0 else channel(bgr, best)


def channel(bgr: np.ndarray, index: int) -> np.ndarray:
    """Channel `index` of a BGR image as contiguous float32 0..1."""
    scale = _scale(bgr.dtype)
    c = bgr[:, :, index]
    return np.ascontiguousarray(c if scale is None else np.multiply(c, np.float32(scale), dtype=np.float32))


def best_channel(bgr: np.ndarray, grey: np.ndarray, region: np.ndarray | None, config: PreprocessConfig) -> int:
    """Which BGR channel (0..2) shows the writing best, or -1 for plain grey (see ink_channel)."""
    step = max(1, int(np.sqrt(grey.size / config.colour_samples)))
    pick = slice(None, None, step)
    inside = None if region is None else region[pick, pick] > 0
    scale = _scale(bgr.dtype)

    def as_float(a: np.ndarray) -> np.ndarray:
        return a if scale is None else np.multiply(a, np.float32(scale), dtype=np.float32)

    def sample(a: np.ndarray) -> np.ndarray:
        s = a[pick, pick]
        return s[inside] if inside is not None and inside.any() else s.ravel()

    best, best_score = -1, _contrast(sample(grey)) * config.colour_gain
    for c in range(3):
        score = _contrast(as_float(sample(bgr[:, :, c])))
        if score > best_score:
            best, best_score = c, score
    return best


def _scale(dtype: np.dtype) -> float | None:
    """What turns an integer image into 0..1 (None: already float)."""
    return 1.0 / 65535.0 if dtype == np.uint16 else 1.0 / 255.0 if dtype == np.uint8 else None


def has_colour(image: np.ndarray, config: PreprocessConfig) -> bool:
    """Whether the image has colour worth a look (a sparse sample, so a grey frame costs nothing)."""
    if image.ndim != 3 or image.shape[2] < 3:
        return False
    step = max(1, int(np.sqrt(image.shape[0] * image.shape[1] / 2000)))
    sample = image[::step, ::step, :3]
    if sample.dtype.kind == "f":  # floats are 0..1; clipped before the cast (1e38 in float64 is inf in float32)
        sample = np.clip(sample, 0.0, 1.0)
    sample = sample.astype(np.float32)
    spread = sample.max(axis=2) - sample.min(axis=2)
    full = 65535.0 if image.dtype == np.uint16 else 255.0 if image.dtype == np.uint8 else 1.0
    return float(fast_percentile(spread.ravel(), 99)) > config.colour_min_chroma * full


def working_colour(image: np.ndarray, size: tuple[int, int], scaled: bool = True) -> np.ndarray | None:
    """The image as float32 BGR 0..1 at (width, height) size, or None for a grey image.

    `scaled=False` leaves a uint8/uint16 image without alpha as it is (only resized), for
    `ink_channel` to scale just the pixels it looks at.
    """
    if image.ndim != 3 or image.shape[2] < 3:
        return None
    bgr = image[:, :, :3]
    if (bgr.shape[1], bgr.shape[0]) != size:
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    scale = _scale(image.dtype)
    if scale is not None and image.shape[2] == 3:
        # integers scale into 0..1 exactly as they are (255 / 255 is 1.0 in float32 too): nothing to clip
        return bgr if not scaled else np.multiply(bgr, np.float32(scale), dtype=np.float32)
    if scale is None:  # floats: clipped to 0..1 before the cast, as in has_colour
        bgr = np.clip(bgr, 0.0, 1.0)
    out = bgr.astype(np.float32) * np.float32(1.0 if scale is None else scale)
    if image.shape[2] == 4:  # alpha over white, as to_grey does
        alpha = image[:, :, 3]
        if (alpha.shape[1], alpha.shape[0]) != size:
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
        if scale is None:
            alpha = np.clip(alpha, 0.0, 1.0)
        a = (alpha.astype(np.float32) * np.float32(1.0 if scale is None else scale))[:, :, None]
        out = out * a + (1.0 - a)
    return np.clip(out, 0.0, 1.0)

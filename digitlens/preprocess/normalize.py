"""MNIST's own normalisation, applied to one digit mask.

LeCun et al. fitted each binary NIST digit into a 20x20 box keeping its aspect ratio
(anti-aliased, hence grey edges) and placed it in 28x28 with its centre of mass at the
centre.  Doing exactly that, after matching MNIST's stroke width, is what makes a photo
crop look like the data the network learnt from.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitlens import conventions as C
from digitlens.preprocess.threshold import stroke_width


def match_stroke(digit: np.ndarray, target: float, tolerance: float) -> np.ndarray:
    """Thicken or thin a digit (float 0..1) so its stroke, once scaled into the 20px box, is near `target`."""
    h, w = digit.shape
    scale = C.BOX_SIZE / max(h, w)
    sw = stroke_width((digit >= 0.5).view(np.uint8))  # (any non-zero value is ink to it)
    if sw <= 0:
        return digit
    scaled = sw * scale
    if scaled > target * tolerance:
        k = round((sw - target / scale) / 2)
        if k >= 1:
            thinner = cv2.erode(digit, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
            if thinner.sum() > 0.25 * digit.sum():
                return thinner
    elif scaled < target / tolerance:
        k = round((target / scale - sw) / 2)
        if k >= 1:
            return cv2.dilate(digit, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    return digit


def fit_box(digit: np.ndarray) -> np.ndarray:
    """float32 digit (tight crop) -> float32 fitted into BOX_SIZE keeping aspect ratio."""
    h, w = digit.shape
    scale = C.BOX_SIZE / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(digit, (nw, nh), interpolation=interp)


def centre_by_mass(small: np.ndarray) -> np.ndarray:
    """Place a fitted digit in 28x28 with its centre of mass at the centre."""
    size = C.IMAGE_SIZE
    h, w = small.shape
    m = cv2.moments(small)
    if m["m00"] <= 1e-6:
        cx, cy = (w - 1) / 2, (h - 1) / 2
    else:
        cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    shift = np.array([[1, 0, (size - 1) / 2 - cx], [0, 1, (size - 1) / 2 - cy]], np.float32)
    return cv2.warpAffine(small, shift, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0)


def deskew(crop: np.ndarray) -> np.ndarray:
    """Remove slant by image moments (the OpenCV digits sample's method)."""
    m = cv2.moments(crop)
    if abs(m["mu02"]) < 1e-2:
        return crop
    skew = m["mu11"] / m["mu02"]
    size = C.IMAGE_SIZE
    M = np.array([[1, skew, -0.5 * size * skew], [0, 1, 0]], np.float32)
    return cv2.warpAffine(crop, M, (size, size), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR, borderValue=0.0)


def to_mnist(
    digit: np.ndarray, stroke_target: float = 2.4, tolerance: float = 1.5, do_deskew: bool = False
) -> np.ndarray:
    """One digit (uint8 mask, 255 = ink, or float 0..1 ink strength; any size) -> float32 28x28 in 0..1."""
    img = digit.astype(np.float32) / 255.0 if digit.dtype == np.uint8 else digit.astype(np.float32, copy=False)
    x, y, w, h = cv2.boundingRect((img > 0).view(np.uint8))
    if w == 0:
        return np.zeros((C.IMAGE_SIZE, C.IMAGE_SIZE), np.float32)
    tight: np.ndarray = img[y : y + h, x : x + w]
    pad = max(2, max(tight.shape) // 8)
    tight = cv2.copyMakeBorder(tight, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    tight = match_stroke(tight, stroke_target, tolerance)
    x, y, w, h = cv2.boundingRect((tight > 0).view(np.uint8))
    if w == 0:
        return np.zeros((C.IMAGE_SIZE, C.IMAGE_SIZE), np.float32)
    tight = tight[y : y + h, x : x + w]
    small = fit_box(tight)
    crop = centre_by_mass(small)
    if do_deskew:
        crop = deskew(crop)
    # np.clip(crop, 0, 1) in place (np.clip's own overhead is most of its cost at 28x28)
    return np.minimum(np.maximum(crop, 0.0, out=crop), 1.0, out=crop).astype(np.float32, copy=False)

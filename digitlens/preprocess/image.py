"""Array checks and conversion to grey: the entry to every pure image function.

Arrays from users arrive in every dtype and layout; they are checked here once, so
OpenCV never sees something that would make it assert deep inside the pipeline.
"""

from __future__ import annotations

import cv2
import numpy as np


def validate_image(image: object) -> np.ndarray:
    """Raise ValueError unless `image` is a usable HxW, HxWx1, HxWx3 or HxWx4 array."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be HxW or HxWxC, got shape {image.shape}")
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image must have 1, 3 or 4 channels, got {image.shape[2]}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty (shape {image.shape})")
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if image.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise ValueError(f"image dtype must be uint8, uint16, float32 or float64, got {image.dtype}")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError("image contains NaN or infinite values")
    return image


def to_grey(image: np.ndarray) -> np.ndarray:
    """Any validated image -> float32 HxW in 0..1.

    Floats are taken as 0..1 (clipped); alpha is composited over white, because a
    transparent background in a scanned or exported drawing means paper.
    """
    image = validate_image(image)
    h, w = image.shape[:2]
    out = np.empty((h, w), np.float32)
    # a strip of rows at a time: the float copies of a colour photo stay in the cache (a
    # 4000x3000 photo would otherwise make three of 144 MB); every pixel's arithmetic is its own
    rows = max(1, _STRIP_PIXELS // w)
    for y in range(0, h, rows):
        _grey_rows(image[y : y + rows], out[y : y + rows])
    return out


_STRIP_PIXELS = 16384


def _grey_rows(image: np.ndarray, out: np.ndarray) -> None:
    """to_grey on a strip of rows, written into `out`."""
    if image.dtype == np.uint8:
        scale = 1.0 / 255.0
    elif image.dtype == np.uint16:
        scale = 1.0 / 65535.0
    else:
        scale = 1.0
    if image.dtype.kind == "f":
        image = np.clip(image, 0.0, 1.0)  # before the cast: 1e38 in float64 is inf in float32 (found by fuzzing)
    img = image.astype(np.float32) * np.float32(scale)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3:
        if img.shape[2] == 4:
            alpha = np.clip(img[:, :, 3:4], 0.0, 1.0)
            img = img[:, :, :3] * alpha + (1.0 - alpha)
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2GRAY)
    np.clip(img, 0.0, 1.0, out=out)


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any validated image -> uint8 BGR, for drawing overlays on."""
    image = validate_image(image)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        return (image[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return image

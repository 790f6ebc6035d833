"""Level the writing: turn a page photographed at a slant so that its text lines run level.

A phone held at an angle turns the page, and everything on it, by 10-40 degrees: the
lines slope and every digit leans by the same angle.  Reading order copes with slopes
(`lines`), but the recogniser learnt upright MNIST digits, and pieces of one digit (a
pale 8 broken in two) lie along the slanted vertical, where the merge that joins pieces
stacked one above the other does not see them.  So when the digits found say the lines
slope (the skew of `lines.skew_angle`), the mask and the ink are turned by that angle
and segmented again, upright; boxes are mapped back to the frame they came from.

Pure functions on numpy arrays.
"""

from __future__ import annotations

import cv2
import numpy as np


def level(mask: np.ndarray, ink: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn a binary mask and its ink strength so that lines sloping by `angle` degrees run level.

    angle: the lines' direction, positive when they fall to the right (image y down), as
    `lines.skew_angle` gives it.  The canvas grows so that nothing is cut off.  Returns the
    turned mask (uint8 0/255), the turned ink (float32) and the 2x3 affine that maps points
    of the turned frame back to the given one.
    """
    H, W = mask.shape
    t = np.radians(angle)
    c, s = abs(np.cos(t)), abs(np.sin(t))
    W2, H2 = int(np.ceil(W * c + H * s)), int(np.ceil(W * s + H * c))
    M = cv2.getRotationMatrix2D(((W - 1) / 2.0, (H - 1) / 2.0), float(angle), 1.0)  # x' = x cos t + y sin t
    M[0, 2] += (W2 - W) / 2.0
    M[1, 2] += (H2 - H) / 2.0
    turned = cv2.warpAffine(mask, M, (W2, H2), flags=cv2.INTER_LINEAR, borderValue=0)
    _, turned = cv2.threshold(turned, 127, 255, cv2.THRESH_BINARY)
    ink_turned = cv2.warpAffine(ink, M, (W2, H2), flags=cv2.INTER_LINEAR, borderValue=0)
    return turned, ink_turned, cv2.invertAffineTransform(M)


def boxes_back(boxes: np.ndarray, back: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boxes (x, y, w, h) of the levelled frame -> the boxes enclosing them in the frame before levelling.

    float64 [N, 4]; clipped to `shape` (height, width) of that frame.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(b) == 0:
        return b.copy()
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    corners = np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1), np.stack([x0, y1], 1), np.stack([x1, y1], 1)], 1)
    pts = corners @ back[:, :2].T + back[:, 2]  # [N, 4, 2]
    H, W = shape
    lo = np.maximum(pts.min(axis=1), 0.0)
    hi = np.minimum(pts.max(axis=1), [W, H])
    return np.concatenate([lo, np.maximum(hi - lo, 1.0)], axis=1)

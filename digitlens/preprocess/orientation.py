"""Which way up is the writing: quarter turns, and the cue of the text's own geometry.

A page photographed sideways carries no EXIF tag when it was scanned, cropped or sent
through a chat app.  Two things tell which way it lies:

* geometry (here): handwritten digits are taller than wide and stand side by side along
  a line, so in a sideways photo the boxes are wide and their nearest neighbours sit
  above and below them.  This separates 0/180 from 90/270;
* the recogniser (in `digitlens.inference.reader`): an upside-down 2, 3, 4, 5 or 7 is
  read with little confidence; this separates 0 from 180 (and 90 from 270), and is
  cautious when a lone 6/9, 0, 1 or 8 reads the same both ways.

Everything here is a pure function on numpy arrays.  Quarter turns are clockwise: a
photo needing `quarters=1` is turned 90 degrees clockwise to be read upright.
"""

from __future__ import annotations

import numpy as np

ROTATIONS = (0, 90, 180, 270)


def turn(image: np.ndarray, quarters: int) -> np.ndarray:
    """The image turned clockwise by `quarters` quarter turns (a contiguous copy unless 0)."""
    q = quarters % 4
    return image if q == 0 else np.ascontiguousarray(np.rot90(image, -q))


def boxes_to_source(boxes: np.ndarray, quarters: int, source_shape: tuple[int, int]) -> np.ndarray:
    """Boxes (x, y, w, h) found in the image turned by `quarters` -> the same boxes in the source image.

    source_shape is (height, width) of the image before it was turned.
    """
    q = quarters % 4
    b = np.asarray(boxes, np.int64).reshape(-1, 4)
    if q == 0 or len(b) == 0:
        return b.copy()
    H, W = source_shape
    x, y, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    if q == 1:  # turned clockwise: a source column became a row read from the bottom
        out = np.stack([y, H - (x + w), h, w], axis=1)
    elif q == 2:
        out = np.stack([W - (x + w), H - (y + h), w, h], axis=1)
    else:
        out = np.stack([W - (y + h), x, h, w], axis=1)
    return out.astype(np.int64)


def sideways_evidence(boxes: np.ndarray, min_boxes: int = 1) -> float:
    """Positive when the writing in these boxes runs top to bottom (the photo lies sideways).

    The sum of two cues, each about -1..1 for clear cases: the median log aspect
    log(w/h) of the boxes (digits are taller than wide), and the mean of
    (|dy| - |dx|) / (|dy| + |dx|) towards each box's nearest neighbour (digits of a line
    are each other's nearest neighbours).  0.0 when there is nothing to judge.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    b = b[(b[:, 2] > 1) & (b[:, 3] > 1)]
    if len(b) < min_boxes or len(b) == 0:
        return 0.0
    aspect = float(np.median(np.log(b[:, 2] / b[:, 3])))
    if len(b) < 2:
        return aspect
    cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    dx, dy = cx[:, None] - cx[None, :], cy[:, None] - cy[None, :]
    d = np.hypot(dx, dy)
    np.fill_diagonal(d, np.inf)
    nearest = d.argmin(axis=1)
    ax, ay = np.abs(dx[np.arange(len(b)), nearest]), np.abs(dy[np.arange(len(b)), nearest])
    neighbour = float(np.mean((ay - ax) / np.maximum(ax + ay, 1e-9)))
    return aspect + neighbour


def points_to_source(points: np.ndarray, quarters: int, source_shape: tuple[int, int]) -> np.ndarray:
    """Points (x, y) in the image turned by `quarters` -> the same points in the source image."""
    q = quarters % 4
    p = np.asarray(points, np.float64).reshape(-1, 2)
    if q == 0 or len(p) == 0:
        return p.copy()
    H, W = source_shape
    x, y = p[:, 0], p[:, 1]
    if q == 1:
        return np.stack([y, H - x], axis=1)
    if q == 2:
        return np.stack([W - x, H - y], axis=1)
    return np.stack([W - y, x], axis=1)

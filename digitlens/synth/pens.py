"""Pens: MNIST digits redrawn along their skeleton with the width, colour and grain of a real pen.

An MNIST digit is thinned to its centre line once (Zhang-Suen, numpy only); the distance to
that line, scaled to any height, gives a clean stroke of any width: a 1 px pale ballpoint
line on a 12 px digit as well as a felt-pen stroke on a digit filling the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PENS = ("ballpoint", "pale-ballpoint", "pencil", "felt-pen", "gel")

_UP = 2  # thinning resolution: MNIST upsampled this many times
_PAD = 3  # MNIST pixels of margin around the digit's ink


@dataclass(frozen=True)
class Pen:
    name: str
    colour: tuple[float, float, float]  # BGR of the ink where it is fully laid down
    width: float  # stroke width as a fraction of the digit height
    min_width: float  # pixels
    opacity: float  # 0..1: how much of the paper the ink hides
    grain: float  # 0..1: pencil graphite breaking up on the paper's tooth
    skip: float  # 0..1: ballpoint skipping (faint stretches along a stroke)


def make_pen(rng: np.random.Generator, name: str | None = None) -> Pen:
    """One pen of the named type (a random type when None), its colour and width drawn by the rng."""
    name = name or PENS[int(rng.integers(len(PENS)))]
    colour: tuple[float, float, float]
    if name == "ballpoint":
        colour = [(25, 25, 30), (120, 40, 20), (110, 50, 35), (40, 30, 25)][int(rng.integers(4))]
        return Pen(name, colour, rng.uniform(0.05, 0.09), 1.3, rng.uniform(0.8, 0.95), 0.0, rng.uniform(0, 0.3))
    if name == "pale-ballpoint":
        colour = (float(rng.uniform(190, 225)), float(rng.uniform(140, 175)), float(rng.uniform(90, 130)))
        return Pen(name, colour, rng.uniform(0.03, 0.05), 1.2, rng.uniform(0.55, 0.8), 0.0, rng.uniform(0.2, 0.6))
    if name == "pencil":
        g = float(rng.uniform(70, 130))
        return Pen(
            name, (g, g, g * 0.97), rng.uniform(0.04, 0.08), 1.3, rng.uniform(0.6, 0.85), rng.uniform(0.3, 0.6), 0
        )
    if name == "felt-pen":
        colour = [(20, 20, 20), (140, 50, 20), (30, 30, 170), (40, 110, 30), (20, 20, 20)][int(rng.integers(5))]
        return Pen(name, colour, rng.uniform(0.12, 0.2), 2.5, rng.uniform(0.88, 0.98), 0.0, 0.0)
    if name == "gel":
        colour = [(30, 30, 190), (20, 20, 20), (150, 40, 20)][int(rng.integers(3))]
        return Pen(name, colour, rng.uniform(0.07, 0.11), 1.6, rng.uniform(0.85, 0.97), 0.0, 0.0)
    raise ValueError(f"unknown pen {name!r}; known: {', '.join(PENS)}")


def _thin(binary: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean image (vectorised sub-iterations)."""
    img = binary.astype(np.uint8)
    while True:
        changed = False
        for step in (0, 1):
            P = np.pad(img, 1)
            p2, p3, p4 = P[:-2, 1:-1], P[:-2, 2:], P[1:-1, 2:]
            p5, p6, p7 = P[2:, 2:], P[2:, 1:-1], P[2:, :-2]
            p8, p9 = P[1:-1, :-2], P[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            B = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9
            A = sum(((ring[i] == 0) & (ring[i + 1] == 1)).astype(np.uint8) for i in range(8))
            if step == 0:
                cond = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                cond = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            m = (img == 1) & (B >= 2) & (B <= 6) & (A == 1) & cond
            if m.any():
                img[m] = 0
                changed = True
        if not changed:
            return img


class DigitInk:
    """Renders MNIST digits with a pen; the thinned centre lines are cached per digit index."""

    def __init__(self, images: np.ndarray):
        self.images = images
        self._cache: dict[int, tuple[np.ndarray, int]] = {}

    def centre_distance(self, index: int) -> tuple[np.ndarray, int]:
        """Distance (in upsampled pixels) to the digit's centre line, and the ink height there."""
        if index not in self._cache:
            d = self.images[index]
            ys, xs = np.nonzero(d > 40)
            crop = d[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
            crop = np.pad(crop, _PAD)
            big = cv2.resize(crop, None, fx=_UP, fy=_UP, interpolation=cv2.INTER_CUBIC)
            skel = _thin(big > 80)
            if skel.sum() < 3:
                skel = (big > 80).astype(np.uint8)
            dist = cv2.distanceTransform((1 - skel).astype(np.uint8), cv2.DIST_L2, 5)
            # smooth the pixel staircase of the centre line, keeping the line itself at distance ~0
            dist = cv2.GaussianBlur(dist, (0, 0), 0.9)
            dist = np.maximum(dist - float(np.median(dist[skel > 0])), 0)
            if len(self._cache) > 20000:
                self._cache.clear()
            self._cache[index] = (dist.astype(np.float32), (ys.max() - ys.min() + 1) * _UP)
        return self._cache[index]

    def render(self, index: int, height: float, pen: Pen, rng: np.random.Generator) -> np.ndarray:
        """The digit's ink (float32 0..1), its ink `height` pixels tall, with a margin for the stroke."""
        dist, ink_h = self.centre_distance(index)
        s = max(height, 4.0) / ink_h
        w = max(3, round(dist.shape[1] * s))
        h = max(3, round(dist.shape[0] * s))
        d = cv2.resize(dist, (w, h), interpolation=cv2.INTER_LINEAR) * s
        width = max(pen.min_width, pen.width * height) * rng.uniform(0.85, 1.15)
        # pressure: the width drifts smoothly over the digit
        press = cv2.resize(rng.uniform(0.75, 1.25, (3, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        return stroke_alpha(d, width * press, pen, rng)


def stroke_alpha(dist: np.ndarray, width: np.ndarray | float, pen: Pen, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage of a stroke `width` wide around a centre line at distance `dist`, with the pen's texture."""
    a = np.clip(np.asarray(width, np.float32) / 2 + 0.5 - dist, 0, 1).astype(np.float32)
    a *= pen.opacity
    if pen.skip > 0:
        sk = cv2.resize(rng.uniform(0, 1, (4, 4)).astype(np.float32), a.shape[::-1], interpolation=cv2.INTER_CUBIC)
        a *= 1 - pen.skip * np.clip(sk, 0, 1) * 0.6
    if pen.grain > 0:
        g = rng.uniform(0, 1, a.shape).astype(np.float32)
        if min(a.shape) > 30:
            g = cv2.GaussianBlur(g, (0, 0), 0.7)
            g = (g - g.mean()) / (g.std() + 1e-6) * 0.3 + 0.5
        a *= np.clip(1 - pen.grain + pen.grain * 1.6 * g, 0, 1)
    return a


def mark_alpha(ink: np.ndarray, pen: Pen, rng: np.random.Generator) -> np.ndarray:
    """A mark from digitlens.synth.marks given the pen's opacity and texture."""
    a = ink.astype(np.float32) * pen.opacity
    if pen.grain > 0:
        a *= np.clip(1 - pen.grain + pen.grain * rng.uniform(0, 1.6, a.shape).astype(np.float32), 0, 1)
    return a

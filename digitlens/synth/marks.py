"""Handwritten-looking marks that are not digits: operators, punctuation and a few letters.

Each mark is drawn from a few strokes (polylines, arcs and dots) in a unit cell, then
jittered as a hand would: the whole mark slants, turns and stretches a little, every
stroke wobbles along its length, ends overshoot or stop short, and the pen width varies.
Only numpy and OpenCV are used, so the recogniser's "not a digit" negatives and the scene
generator can both draw them anywhere.

    ink = draw_mark("+", 56, np.random.default_rng(0), stroke=4.0)   # float32, 0..1, height 56

The returned cell has the height asked for and the width the mark needs; the mark sits
where a writer puts it beside digits of that height (a dot on the baseline, a minus at
mid-height, brackets the full height). `tight` crops it to its ink.
"""

from __future__ import annotations

import cv2
import numpy as np

# Letters that do not pass for a digit (no o/O, l/I, S, Z, b, g, q, G, B, D...).
LETTERS = ("a", "c", "e", "h", "k", "m", "n", "r", "t", "u", "v", "w", "x", "y", "A", "E", "F", "H", "K", "M", "N", "R")
OPERATORS = ("+", "-", "×", "÷", "=", "/", "%", "(", ")")
PUNCTUATION = (".", ",", ":")
MARKS = OPERATORS + PUNCTUATION + LETTERS

_SS = 4  # supersampling of the drawing


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> list[tuple[float, float]]:
    """Points on an ellipse from angle a0 to a1 (degrees, 0 = right, 90 = down)."""
    t = np.deg2rad(np.linspace(a0, a1, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t]


# Symbol -> (strokes, dots). Coordinates: x from 0 (left) in units of the cell height, y from
# 0 (top of a digit) to 1 (baseline). Lower-case letters sit between y 0.45 and 1.
_Shape = tuple[list[list[tuple[float, float]]], list[tuple[float, float]]]


def _shapes() -> dict[str, _Shape]:
    s: dict[str, _Shape] = {
        "+": ([[(0.05, 0.55), (0.65, 0.55)], [(0.35, 0.25), (0.35, 0.85)]], []),
        "-": ([[(0.05, 0.55), (0.6, 0.55)]], []),
        "×": ([[(0.08, 0.3), (0.55, 0.8)], [(0.55, 0.3), (0.08, 0.8)]], []),
        "÷": ([[(0.05, 0.55), (0.65, 0.55)]], [(0.35, 0.33), (0.35, 0.77)]),
        "=": ([[(0.05, 0.42), (0.6, 0.42)], [(0.05, 0.68), (0.6, 0.68)]], []),
        "/": ([[(0.5, 0.0), (0.05, 1.0)]], []),
        "%": (
            [[(0.6, 0.05), (0.1, 0.95)], _arc(0.17, 0.2, 0.11, 0.15, 0, 360), _arc(0.55, 0.8, 0.11, 0.15, 0, 360)],
            [],
        ),
        "(": ([_arc(0.42, 0.5, 0.32, 0.55, 120, 240)], []),
        ")": ([_arc(0.0, 0.5, 0.32, 0.55, -60, 60)], []),
        ".": ([], [(0.1, 0.93)]),
        ",": ([[(0.14, 0.8), (0.13, 0.88), (0.05, 0.98)]], [(0.13, 0.8)]),
        ":": ([], [(0.1, 0.5), (0.1, 0.88)]),
        # lower case
        "a": ([_arc(0.22, 0.74, 0.2, 0.25, -10, 340), [(0.43, 0.5), (0.43, 1.0)]], []),
        "c": ([_arc(0.25, 0.74, 0.22, 0.26, -45, -315)], []),  # open on the right
        "e": ([[(0.04, 0.74), (0.46, 0.74), *_arc(0.25, 0.74, 0.21, 0.25, 0, -300)]], []),
        "h": ([[(0.05, 0.0), (0.05, 1.0)], [(0.05, 0.7), *_arc(0.25, 0.72, 0.2, 0.22, 180, 360), (0.45, 1.0)]], []),
        "k": ([[(0.05, 0.0), (0.05, 1.0)], [(0.4, 0.45), (0.06, 0.75), (0.42, 1.0)]], []),
        "m": (
            [
                [(0.04, 0.48), (0.04, 1.0)],
                [(0.04, 0.65), *_arc(0.19, 0.66, 0.15, 0.18, 180, 360), (0.34, 1.0)],
                [(0.34, 0.65), *_arc(0.49, 0.66, 0.15, 0.18, 180, 360), (0.64, 1.0)],
            ],
            [],
        ),
        "n": ([[(0.05, 0.48), (0.05, 1.0)], [(0.05, 0.68), *_arc(0.23, 0.69, 0.18, 0.21, 180, 360), (0.41, 1.0)]], []),
        "r": ([[(0.05, 0.48), (0.05, 1.0)], [(0.05, 0.7), *_arc(0.2, 0.64, 0.16, 0.15, 190, 300)]], []),
        "t": ([[(0.18, 0.1), (0.18, 0.9), *_arc(0.3, 0.9, 0.12, 0.1, 180, 60)], [(0.02, 0.42), (0.4, 0.42)]], []),
        "u": (
            [[(0.05, 0.48), *_arc(0.23, 0.78, 0.18, 0.22, 180, 0, 16), (0.41, 0.48)], [(0.41, 0.48), (0.42, 1.0)]],
            [],
        ),
        "v": ([[(0.03, 0.48), (0.23, 1.0), (0.43, 0.48)]], []),
        "w": ([[(0.02, 0.48), (0.16, 1.0), (0.3, 0.6), (0.44, 1.0), (0.58, 0.48)]], []),
        "x": ([[(0.05, 0.48), (0.45, 1.0)], [(0.45, 0.48), (0.05, 1.0)]], []),
        "y": ([[(0.05, 0.35), (0.25, 0.72)], [(0.45, 0.35), (0.18, 0.92), (0.05, 0.97)]], []),  # tail in the cell
        # capitals
        "A": ([[(0.02, 1.0), (0.3, 0.0), (0.58, 1.0)], [(0.13, 0.62), (0.47, 0.62)]], []),
        "E": ([[(0.5, 0.0), (0.05, 0.0), (0.05, 1.0), (0.5, 1.0)], [(0.05, 0.5), (0.4, 0.5)]], []),
        "F": ([[(0.5, 0.0), (0.05, 0.0), (0.05, 1.0)], [(0.05, 0.5), (0.4, 0.5)]], []),
        "H": ([[(0.05, 0.0), (0.05, 1.0)], [(0.55, 0.0), (0.55, 1.0)], [(0.05, 0.5), (0.55, 0.5)]], []),
        "K": ([[(0.05, 0.0), (0.05, 1.0)], [(0.5, 0.0), (0.06, 0.55), (0.52, 1.0)]], []),
        "M": ([[(0.03, 1.0), (0.08, 0.0), (0.35, 0.65), (0.62, 0.0), (0.67, 1.0)]], []),
        "N": ([[(0.05, 1.0), (0.05, 0.0), (0.55, 1.0), (0.55, 0.0)]], []),
        "R": (
            [[(0.05, 1.0), (0.05, 0.0), (0.3, 0.0), *_arc(0.3, 0.25, 0.22, 0.25, -90, 90), (0.05, 0.5), (0.5, 1.0)]],
            [],
        ),
    }
    return s


_SHAPES = _shapes()
assert set(_SHAPES) == set(MARKS)


def _resample(pts: np.ndarray, step: float) -> np.ndarray:
    """Points along the polyline every `step` units (keeps the ends)."""
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    length = float(seg.sum())
    if length < 1e-6:
        return pts[:1]
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0, length, max(2, int(length / step) + 1))
    return np.stack([np.interp(t, cum, pts[:, 0]), np.interp(t, cum, pts[:, 1])], axis=1)


def _wobble(pts: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Smooth sideways drift along a stroke plus jittered ends (overshoot or short stop)."""
    n = len(pts)
    if n < 2:
        return pts + rng.normal(0, amount, pts.shape)
    t = np.linspace(0, 1, n)[:, None]
    drift = np.zeros_like(pts)
    for k in (1, 2):
        drift += rng.normal(0, amount / k, 2) * np.sin(np.pi * k * t + rng.uniform(0, np.pi))
    out = pts + drift
    # ends: extend or shorten along the stroke direction
    for end, nb in ((0, 1), (n - 1, n - 2)):
        d = out[end] - out[nb]
        norm = np.linalg.norm(d)
        if norm > 1e-6:
            out[end] = out[end] + d / norm * rng.normal(0, amount * 1.5)
    return out


def draw_mark(symbol: str, height: int, rng: np.random.Generator, stroke: float | None = None) -> np.ndarray:
    """A handwritten-looking `symbol` in a cell `height` pixels high: float32 ink 0..1.

    `stroke` is the pen width in pixels (default: about height / 10, varied by the rng).
    The cell's width follows the mark. Raises ValueError for an unknown symbol.
    """
    if symbol not in _SHAPES:
        raise ValueError(f"unknown mark {symbol!r}; known: {' '.join(MARKS)}")
    height = max(6, int(height))
    stroke = float(stroke) if stroke and stroke > 0 else max(1.0, height / 10 * rng.uniform(0.7, 1.3))
    strokes, dots = _SHAPES[symbol]
    # a hand's variation of the whole mark: size, slant, turn, and where it sits
    sx, sy = rng.uniform(0.8, 1.2), rng.uniform(0.85, 1.1)
    shear = rng.uniform(-0.25, 0.15)
    ang = np.deg2rad(rng.uniform(-8, 8))
    c, s = np.cos(ang), np.sin(ang)
    A = np.array([[c, -s], [s, c]]) @ np.array([[sx, shear], [0, sy]])
    dy = rng.normal(0, 0.04)

    def place(p: np.ndarray) -> np.ndarray:
        q = (p - [0.3, 0.5]) @ A.T + [0.3, 0.5 + dy]
        return q

    amount = 0.02 * rng.uniform(0.5, 1.5)
    polys = [place(_wobble(_resample(np.array(st, np.float64), 0.04), rng, amount)) for st in strokes]
    dot_pts = [place(np.array([d], np.float64) + rng.normal(0, 0.02, (1, 2)))[0] for d in dots]
    allp = np.concatenate([*polys, np.array(dot_pts).reshape(-1, 2)]) if polys or dot_pts else np.zeros((1, 2))
    margin = stroke / height + 0.04
    x0 = allp[:, 0].min() - margin
    width = max(3, int(np.ceil((allp[:, 0].max() + margin - x0) * height)))
    Hs, Ws = height * _SS, width * _SS
    canvas = np.zeros((Hs, Ws), np.uint8)

    def to_px(p: np.ndarray) -> np.ndarray:
        return np.round((p - [x0, 0.0]) * height * _SS * 16).astype(np.int32)  # 4 fractional bits

    for poly in polys:
        px = to_px(poly)
        # pen pressure: the width changes slowly along the stroke
        widths = stroke * _SS * np.clip(1 + 0.25 * np.sin(np.linspace(0, np.pi, len(px)) + rng.uniform(0, 3)), 0.6, 1.4)
        for i in range(len(px) - 1):
            th = max(1, round(float(widths[i]) * rng.uniform(0.9, 1.1)))
            cv2.line(canvas, tuple(px[i]), tuple(px[i + 1]), 255, th, cv2.LINE_AA, shift=4)
        if len(px) == 1:
            cv2.circle(canvas, tuple(px[0]), max(1, int(stroke * _SS / 2)), 255, -1, cv2.LINE_AA, shift=4)
    for d in dot_pts:
        r = stroke * _SS * rng.uniform(0.55, 0.9) * 16
        cv2.circle(canvas, tuple(to_px(d)), max(8, int(r)), 255, -1, cv2.LINE_AA, shift=4)
    ink = cv2.resize(canvas.astype(np.float32) / 255.0, (width, height), interpolation=cv2.INTER_AREA)
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def tight(ink: np.ndarray, threshold: float = 0.15) -> np.ndarray:
    """The ink's bounding crop (the input itself when it holds no ink above threshold)."""
    ys, xs = np.nonzero(ink > threshold)
    if ys.size == 0:
        return ink
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def random_mark(rng: np.random.Generator, kinds: str = "all") -> str:
    """One symbol: kinds is 'operators', 'punctuation', 'letters' or 'all'."""
    pool = {"operators": OPERATORS, "punctuation": PUNCTUATION, "letters": LETTERS, "all": MARKS}[kinds]
    return pool[int(rng.integers(len(pool)))]

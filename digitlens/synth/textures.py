"""Desks and paper: procedural wood grain, cloth, laminate and dark desks, and real textures.

The real textures (brick, grass, gravel) come from scikit-image's bundled sample images
when scikit-image is installed (an optional dependency of the generator only); without
it those desks fall back to procedural ones, so scenes stay deterministic per install.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

DESKS = ("wood", "dark", "cloth", "laminate", "brick", "grass", "gravel")
SKIMAGE_TEXTURES = ("brick", "grass", "gravel")


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth random field in about -1..1 with `cells` blobs across the longer side."""
    ch = max(2, round(cells * h / max(h, w)) + 1)
    cw = max(2, round(cells * w / max(h, w)) + 1)
    return cv2.resize(rng.uniform(-1, 1, (ch, cw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)


@lru_cache(maxsize=8)
def _skimage_gray(name: str) -> np.ndarray | None:
    try:
        from skimage import data
    except ImportError:
        return None
    try:
        img = getattr(data, name)()
    except Exception:  # a sample missing from this scikit-image build
        return None
    return np.asarray(img, np.float32)


def skimage_available() -> bool:
    return _skimage_gray("brick") is not None


def _mirror_tile(tex: np.ndarray, h: int, w: int, tile: int, rng: np.random.Generator) -> np.ndarray:
    """The texture scaled to `tile` px and tiled with mirrored copies (no seams) over h x w."""
    t = cv2.resize(tex, (tile, tile), interpolation=cv2.INTER_AREA if tile < tex.shape[0] else cv2.INTER_LINEAR)
    block = np.vstack([np.hstack([t, t[:, ::-1]]), np.hstack([t[::-1], t[::-1, ::-1]])])
    reps = (h // block.shape[0] + 2, w // block.shape[1] + 2)
    big = np.tile(block, reps)
    oy, ox = int(rng.integers(0, block.shape[0])), int(rng.integers(0, block.shape[1]))
    return big[oy : oy + h, ox : ox + w]


def _tint(v: np.ndarray, dark: tuple, light: tuple) -> np.ndarray:
    """Map 0..1 values onto a colour ramp between two BGR colours."""
    d, l = np.array(dark, np.float32), np.array(light, np.float32)
    return d + (l - d) * np.clip(v, 0, 1)[:, :, None]


def wood(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Planks with growth rings, fine streaks and a random grain direction (float32 BGR)."""
    palettes = [
        ((45, 85, 140), (110, 165, 215)),  # oak
        ((25, 45, 80), (60, 95, 140)),  # walnut
        ((80, 140, 195), (150, 200, 235)),  # pine / birch
        ((30, 55, 110), (75, 120, 180)),  # cherry
    ]
    dark, light = palettes[int(rng.integers(len(palettes)))]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    scale = max(h, w)
    u = (xx * np.cos(ang) + yy * np.sin(ang)) / scale  # along the grain
    v = (-xx * np.sin(ang) + yy * np.cos(ang)) / scale  # across the grain
    plank = rng.uniform(0.12, 0.3)
    idx = np.floor(v / plank)
    warp = smooth_noise(rng, h, w, 6) * 0.02 + smooth_noise(rng, h, w, 20) * 0.004
    period = rng.uniform(0.008, 0.02)
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * (v + warp + 0.3 * idx * 0.37 + 0.02 * np.sin(u * 3 + idx)) / period)
    rings = rings ** rng.uniform(1.5, 4)
    grid = np.linspace(-2, 2, 6000)
    streak_v = np.interp(v + warp * 0.3, grid, rng.uniform(-1, 1, grid.size)).astype(np.float32)
    tone = np.interp(idx, np.arange(-20, 21), rng.uniform(-0.12, 0.12, 41)).astype(np.float32)
    val = 0.65 - 0.35 * rings + 0.08 * streak_v + tone
    gap = np.abs((v / plank) - np.round(v / plank)) * plank * scale
    val = np.where(gap < max(1.0, scale * 0.0015), val * 0.45, val)
    return _tint(val, dark, light)


def cloth(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    colours = [(120, 70, 40), (90, 90, 90), (60, 100, 60), (140, 120, 110), (50, 40, 110)]
    base = np.array(colours[int(rng.integers(len(colours)))], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = 2 * np.pi / max(2.5, max(h, w) / rng.uniform(250, 600))
    weave = 0.5 * np.sin(xx * f) * np.sin(yy * f) + 0.3 * rng.uniform(-1, 1, (h, w)).astype(np.float32)
    folds = smooth_noise(rng, h, w, 4)
    val = 1 + 0.06 * weave + 0.15 * folds
    return base * val[:, :, None]


def laminate(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    colours = [(225, 225, 225), (200, 205, 210), (180, 200, 215), (150, 150, 150), (235, 240, 240)]
    base = np.array(colours[int(rng.integers(len(colours)))], np.float32)
    val = 1 + 0.04 * smooth_noise(rng, h, w, 5) + 0.015 * rng.standard_normal((h, w), dtype=np.float32)
    return base * val[:, :, None]


def dark_desk(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    colours = [(25, 25, 25), (35, 30, 28), (45, 35, 30), (30, 28, 40), (50, 50, 50)]
    base = np.array(colours[int(rng.integers(len(colours)))], np.float32)
    val = 1 + 0.15 * smooth_noise(rng, h, w, 4) + 0.06 * rng.standard_normal((h, w), dtype=np.float32)
    img = base * val[:, :, None]
    if rng.random() < 0.5:  # a glossy reflection of a window or lamp
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.1, 0.4) * max(h, w)
        img += rng.uniform(15, 50) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[:, :, None]
    return img


def real_texture(rng: np.random.Generator, h: int, w: int, name: str) -> np.ndarray:
    """A scikit-image sample tiled over the desk and tinted; procedural wood when unavailable."""
    tex = _skimage_gray(name)
    if tex is None:
        return wood(rng, h, w)
    tile = max(32, int(max(h, w) * rng.uniform(0.25, 0.7)))
    t = _mirror_tile(tex, h, w, tile, rng) / 255.0
    t = (t - t.mean()) / (t.std() + 1e-6)
    tints = {
        "brick": ((40, 60, 120), (120, 150, 200)),
        "grass": ((30, 80, 40), (90, 170, 120)),
        "gravel": ((70, 75, 80), (180, 180, 175)),
    }
    dark, light = tints.get(name, ((60, 60, 60), (200, 200, 200)))
    return _tint(0.5 + 0.22 * t, dark, light)


def desk(rng: np.random.Generator, h: int, w: int, name: str) -> np.ndarray:
    """A desk surface of the named kind, h x w float32 BGR (0..255).

    Drawn at most 1100 px on its longer side and enlarged: the desk is background, and the
    camera's own blur and noise are added to the whole photo later.
    """
    q = max(1.0, max(h, w) / 1100)
    if q > 1:
        small = _desk(rng, max(2, round(h / q)), max(2, round(w / q)), name).astype(np.float32)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return _desk(rng, h, w, name).astype(np.float32)


def _desk(rng: np.random.Generator, h: int, w: int, name: str) -> np.ndarray:
    if name == "wood":
        return wood(rng, h, w)
    if name == "dark":
        return dark_desk(rng, h, w)
    if name == "cloth":
        return cloth(rng, h, w)
    if name == "laminate":
        return laminate(rng, h, w)
    if name in SKIMAGE_TEXTURES:
        return real_texture(rng, h, w, name)
    raise ValueError(f"unknown desk {name!r}; known: {', '.join(DESKS)}")


def paper(rng: np.random.Generator, h: int, w: int, colour: tuple[float, float, float]) -> np.ndarray:
    """A sheet of paper: its colour, a faint uneven tone and fine grain (float32 BGR)."""
    c = np.array(colour, np.float32)
    grain = rng.uniform(0.004, 0.015)
    val = 1 + 0.02 * smooth_noise(rng, h, w, 3)
    if h * w <= 1500 * 1500:
        val += grain * rng.standard_normal((h, w), np.float32)
    else:  # big sheets: the same grain drawn smaller and enlarged
        small = rng.standard_normal((max(2, h // 2), max(2, w // 2)), np.float32)
        val += grain * cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    img = c * val[:, :, None]
    if rng.random() < 0.25:  # a crease: a faint straight line, lighter on one side (drawn small, enlarged)
        q = max(1.0, max(h, w) / 600)
        sh, sw = max(2, round(h / q)), max(2, round(w / q))
        p0 = np.array([rng.uniform(0, sw), 0.0])
        p1 = np.array([rng.uniform(0, sw), float(sh)])
        if rng.random() < 0.5:
            p0, p1 = np.array([0.0, rng.uniform(0, sh)]), np.array([float(sw), rng.uniform(0, sh)])
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        d = p1 - p0
        side = ((xx - p0[0]) * d[1] - (yy - p0[1]) * d[0]) / (np.hypot(*d) + 1e-6)
        crease = 1 - 0.05 * np.exp(-(side**2) / (2 * (0.004 * max(sh, sw) + 1) ** 2)) + 0.015 * np.tanh(side)
        img *= cv2.resize(crease.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None]
    return img

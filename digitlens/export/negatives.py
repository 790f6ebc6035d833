"""Hard negatives for the "not a digit" class, made in code and cut the way inference cuts.

Every mark is first drawn as an ink-strength image (float 0..1, 1 = full ink) at roughly
photo scale, then turned into a crop by the very steps the photo pipeline applies to a
candidate: a binary mask of its own pixels, `grey_digit` (ink strength over the mask grown
by one pixel, stroke core scaled to 1) and `to_mnist` (stroke matched, fitted in 20x20,
centred by mass).  So a plus, a page corner or a patch of gravel reaches the network
exactly as it would from a photo.

Only numpy and OpenCV are used (scikit-image's bundled photographs, when installed, for
real textures), so the generator runs without torch.  `generate(count, seed, digits)` is
deterministic for a given seed.

Families (each a real source of false digits on photos):
operator (+ - × ÷ = . , : / ( ) %), letter (handwriting-like Hershey glyphs, digit-like
letters such as O, l, S, Z, b, g, q left out), fragment (a cut-off part of a digit),
pair (two touching digits in one crop), rule (pieces of ruled and squared lines), edge
(page edges and corners), shadow, speck, grain (paper grain) and texture (scikit-image's
brick, grass, gravel, page, text, coffee and cat-fur photographs).  Vertical straight
strokes (a margin line piece) are not generated: a lone vertical bar is a "1".
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from digitlens import conventions as C
from digitlens.preprocess.config import PreprocessConfig
from digitlens.preprocess.normalize import to_mnist
from digitlens.preprocess.pipeline import grey_digit

FAMILIES = ("operator", "letter", "fragment", "pair", "rule", "edge", "shadow", "speck", "grain", "texture")
#: Relative share of each family in `generate` (operators, letters and fragments are the common confusions).
WEIGHTS = {
    "operator": 3.0,
    "letter": 2.5,
    "fragment": 1.0,
    "pair": 1.0,
    "rule": 1.0,
    "edge": 0.7,
    "shadow": 0.5,
    "speck": 0.5,
    "grain": 0.5,
    "texture": 1.5,
}
#: Opt-in family, not in the default draw (so the held-out set of FAMILIES stays what it was):
#: digits lying sideways or upside down, which read as no digit (see `turned`).
ALL_FAMILIES = (*FAMILIES, "turned")
WEIGHTS["turned"] = 1.0
#: Classes that are no digit turned by 180 degrees (an upside-down 6 is a 9; 0, 1 and 8 and a
#: Z-like 2 or S-like 5 read as themselves) and by a quarter turn (a sideways 0, 1 or 8 is
#: close to a wide 0 or 8 or a dash; a dash is the rule family's).
TURN_HALF = (3, 4, 7)
TURN_QUARTER = (2, 3, 4, 5, 6, 7, 9)
OPERATORS = ("+", "-", "×", "÷", "=", ".", ",", ":", "/", "(", ")", "%")
#: Letters that do not look like a digit when handwritten (no O o D l I i j Z z S s b g q B G T t).
LETTERS = "acehkmnpruvwxyACEFHKLMNPRUVWXY"
TEXTURES = ("brick", "grass", "gravel", "page", "text", "coffee", "chelsea")

_CANVAS = 96


def _smooth_noise(rng: np.random.Generator, n: int, amount: float) -> np.ndarray:
    """n 2-D offsets drifting smoothly (a hand's wobble), std about `amount`."""
    walk = np.cumsum(rng.normal(0, 1, (n, 2)), axis=0)
    walk -= np.linspace(walk[0], walk[-1], n)  # ends stay put
    walk /= max(1.0, float(np.abs(walk).max()))
    return walk * amount


def _stroke(rng: np.random.Generator, pts: list[tuple[float, float]], wobble: float) -> np.ndarray:
    """Resample a polyline to many points and add a smooth wobble."""
    p = np.asarray(pts, np.float64)
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    total = max(float(seg.sum()), 1e-6)
    n = max(4, int(total / 3))
    t = np.concatenate([[0], np.cumsum(seg)]) / total
    s = np.linspace(0, 1, n)
    q = np.stack([np.interp(s, t, p[:, 0]), np.interp(s, t, p[:, 1])], 1)
    return q + _smooth_noise(rng, n, wobble)


def _draw(strokes: list[np.ndarray], dots: list[tuple[float, float, float]], thickness: int) -> np.ndarray:
    canvas = np.zeros((_CANVAS * 4, _CANVAS * 4), np.uint8)
    for s in strokes:
        pts = np.round(s * 4 * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [pts], False, 255, thickness * 4, cv2.LINE_AA, shift=4)
    for x, y, r in dots:
        cv2.circle(canvas, (round(x * 4 * 16), round(y * 4 * 16)), max(1, round(r * 4 * 16)), 255, -1, cv2.LINE_AA, 4)
    return cv2.resize(canvas, (_CANVAS, _CANVAS), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _arc(cx, cy, rx, ry, a0, a1, n=16):
    a = np.linspace(math.radians(a0), math.radians(a1), n)
    return list(zip(cx + rx * np.cos(a), cy + ry * np.sin(a), strict=True))


def operator(rng: np.random.Generator, symbol: str | None = None) -> np.ndarray:
    """A handwritten-style operator or punctuation mark as ink strength [96, 96]."""
    sym = symbol or OPERATORS[int(rng.integers(len(OPERATORS)))]
    th = int(rng.integers(2, 7))
    size = rng.uniform(30, 70)
    cx, cy = _CANVAS / 2 + rng.normal(0, 3), _CANVAS / 2 + rng.normal(0, 3)
    w = size * rng.uniform(0.7, 1.3)
    h = size * rng.uniform(0.7, 1.3)
    wob = rng.uniform(0.5, 2.5)
    x0, x1, y0, y1 = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
    r = th * rng.uniform(0.6, 1.4)
    strokes, dots = [], []

    def j():
        return rng.normal(0, size * 0.04)

    if sym == "+":
        strokes = [[(cx + j(), y0), (cx + j(), y1)], [(x0, cy + j()), (x1, cy + j())]]
    elif sym == "-":
        strokes = [[(x0, cy + j()), (x1, cy + j())]]
    elif sym == "×":
        strokes = [[(x0, y0), (x1, y1)], [(x1 + j(), y0 + j()), (x0 + j(), y1 + j())]]
    elif sym == "÷":
        gap = h * rng.uniform(0.25, 0.45)
        strokes = [[(x0, cy + j()), (x1, cy + j())]]
        dots = [(cx + j(), cy - gap, r), (cx + j(), cy + gap, r)]
    elif sym == "=":
        gap = h * rng.uniform(0.15, 0.35)
        strokes = [
            [(x0 + j(), cy - gap), (x1 + j(), cy - gap + j())],
            [(x0 + j(), cy + gap), (x1 + j(), cy + gap + j())],
        ]
    elif sym == ".":
        dots = [(cx, cy, rng.uniform(1.5, 5))]
    elif sym == ",":
        dots = [(cx, cy, rng.uniform(1.5, 4))]
        strokes = [[(cx + 1, cy), (cx + 1 - rng.uniform(0, 3), cy + rng.uniform(5, 12))]]
    elif sym == ":":
        gap = rng.uniform(6, 20)
        dots = [(cx + j(), cy - gap, r + 1), (cx + j(), cy + gap, r + 1)]
    elif sym == "/":
        # at least 30 degrees off vertical: a steeper stroke is a "1"
        lean = math.tan(math.radians(rng.uniform(30, 60))) * h / 2
        strokes = [[(cx + lean, y0), (cx - lean, y1)]]
    elif sym in "()":
        rx = w * rng.uniform(0.25, 0.45)
        span = rng.uniform(50, 75)
        base = 180 if sym == "(" else 0
        ox = cx + (rx * 0.6 if sym == "(" else -rx * 0.6)
        strokes = [_arc(ox, cy, rx, h / 2, base - span, base + span)]
    elif sym == "%":
        rr = size * rng.uniform(0.12, 0.2)
        strokes = [
            [(x1, y0), (x0, y1)],
            _arc(x0 + rr, y0 + rr, rr, rr, 0, 360),
            _arc(x1 - rr, y1 - rr, rr, rr, 0, 360),
        ]
    else:
        raise ValueError(f"unknown operator {sym!r}")
    return _draw([_stroke(rng, s, wob) for s in strokes], dots, th)


_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
)


def _warp(rng: np.random.Generator, img: np.ndarray, rot: float = 12, shear: float = 0.3) -> np.ndarray:
    h, w = img.shape
    a = math.radians(rng.uniform(-rot, rot))
    sh = rng.uniform(-shear, shear)
    sx, sy = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)
    m = np.array([[math.cos(a) * sx, -math.sin(a) + sh, 0], [math.sin(a), math.cos(a) * sy, 0]], np.float64)
    m[:, 2] = np.array([w / 2, h / 2]) - m[:, :2] @ np.array([w / 2, h / 2])
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)


def letter(rng: np.random.Generator, text: str | None = None) -> np.ndarray:
    """One letter (sometimes a short word) in a Hershey stroke font, warped like handwriting."""
    if text is None:
        n = 1 if rng.random() < 0.75 else int(rng.integers(2, 4))
        text = "".join(LETTERS[int(rng.integers(len(LETTERS)))] for _ in range(n))
    font = _FONTS[int(rng.integers(len(_FONTS)))] | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    canvas = np.zeros((_CANVAS * 2, _CANVAS * 3), np.uint8)
    scale = 2.0 if len(text) == 1 else 1.3
    th = int(rng.integers(2, 8))
    cv2.putText(canvas, text, (20, int(_CANVAS * 1.3)), font, scale, 255, th, cv2.LINE_AA)
    return _warp(rng, canvas.astype(np.float32) / 255.0)


def _digit_ink(digit: np.ndarray, height: int) -> np.ndarray:
    ys, xs = np.nonzero(digit > 40)
    d = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0
    w = max(2, round(d.shape[1] * height / d.shape[0]))
    return np.clip(cv2.resize(d, (w, height), interpolation=cv2.INTER_CUBIC) * 1.3 - 0.15, 0, 1)


def fragment(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """The part of a digit that a cut leaves: 20-50% of its ink, on one side of a straight cut."""
    for _ in range(20):
        k = int(rng.integers(len(digits)))
        if labels is not None and labels[k] == 1:
            continue  # a piece of a 1 is a shorter 1
        ink = _digit_ink(digits[k], int(rng.integers(40, 80)))
        h, w = ink.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ang = rng.uniform(0, 2 * math.pi)
        proj = (xx - w / 2) * math.cos(ang) + (yy - h / 2) * math.sin(ang)
        order = np.sort(proj[ink > 0.3])
        if order.size < 20:
            continue
        keep = rng.uniform(0.2, 0.5)
        cut = order[int(keep * (order.size - 1))]
        piece = np.where(proj <= cut, ink, 0.0).astype(np.float32)
        if (piece > 0.3).sum() >= 10:
            return piece
    return ink


def turned(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """A digit lying sideways or upside down: what a photo read the wrong way up shows.

    The orientation stage compares readings of a photo turned each way; a model that
    calls a turned 3, 4 or 7 (or a sideways 2-7, 9) a digit gives the wrong way up as much
    confidence as the right one.
    """
    for _ in range(50):
        k = int(rng.integers(len(digits)))
        half, quarter = int(labels[k]) in TURN_HALF, int(labels[k]) in TURN_QUARTER
        if not (half or quarter):
            continue
        turns = ([2] if half else []) + ([1, 3] if quarter else [])
        q = turns[int(rng.integers(len(turns)))]
        return _digit_ink(np.ascontiguousarray(np.rot90(digits[k], q)), int(rng.integers(40, 80)))
    return _digit_ink(np.ascontiguousarray(np.rot90(digits[0], 2)), 60)


def pair(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """Two digits written touching or overlapping, one crop for both."""
    h = int(rng.integers(40, 70))
    a = _digit_ink(digits[int(rng.integers(len(digits)))], h)
    b = _digit_ink(digits[int(rng.integers(len(digits)))], int(h * rng.uniform(0.85, 1.15)))
    overlap = int(rng.integers(1, max(2, min(a.shape[1], b.shape[1]) // 3)))
    dy = int(rng.integers(-h // 10, h // 10 + 1))
    H = max(a.shape[0], b.shape[0] + abs(dy)) + abs(dy)
    W = a.shape[1] + b.shape[1] - overlap
    canvas = np.zeros((H + 2, W + 2), np.float32)
    canvas[: a.shape[0], : a.shape[1]] = a
    y0 = max(0, dy)
    x0 = a.shape[1] - overlap
    canvas[y0 : y0 + b.shape[0], x0 : x0 + b.shape[1]] = np.maximum(
        canvas[y0 : y0 + b.shape[0], x0 : x0 + b.shape[1]], b
    )
    return canvas


def rule(rng: np.random.Generator) -> np.ndarray:
    """Pieces of ruled or squared paper: near-horizontal lines, sometimes a grid, sometimes broken."""
    canvas = np.zeros((_CANVAS, _CANVAS), np.float32)
    th = int(rng.integers(1, 5))
    val = float(rng.uniform(0.6, 1.0))
    tilt = math.tan(math.radians(rng.uniform(-15, 15)))
    kind = rng.random()
    length = rng.uniform(30, 95)
    x0 = rng.uniform(0, _CANVAS - length)
    if kind < 0.5:  # one rule piece, maybe broken
        y = rng.uniform(20, 76)
        xs = [(x0, x0 + length)]
        if rng.random() < 0.3:
            g = rng.uniform(0.3, 0.7) * length
            xs = [(x0, x0 + g - 4), (x0 + g + 4, x0 + length)]
        for a, b in xs:
            cv2.line(canvas, (int(a), int(y + tilt * a)), (int(b), int(y + tilt * b)), val, th, cv2.LINE_AA)
    else:  # a corner or crossing of a squared grid
        gap = rng.uniform(12, 40)
        for y in np.arange(rng.uniform(0, gap), _CANVAS, gap):
            cv2.line(canvas, (0, int(y)), (_CANVAS, int(y + tilt * _CANVAS)), val, th, cv2.LINE_AA)
        for x in np.arange(rng.uniform(0, gap), _CANVAS, gap):
            cv2.line(canvas, (int(x), 0), (int(x - tilt * _CANVAS), _CANVAS), val, th, cv2.LINE_AA)
        window = int(rng.uniform(gap * 1.1, _CANVAS))
        ox, oy = (int(rng.integers(0, _CANVAS - window + 1)) for _ in range(2))
        canvas = canvas[oy : oy + window, ox : ox + window].copy()
    return canvas


def edge(rng: np.random.Generator) -> np.ndarray:
    """A page edge or corner: the dark desk beyond it, or the shadow line along it."""
    canvas = np.zeros((_CANVAS, _CANVAS), np.float32)
    c = np.array([rng.uniform(20, 76), rng.uniform(20, 76)])
    a = rng.uniform(0, 2 * math.pi)
    d1 = np.array([math.cos(a), math.sin(a)])
    corner = rng.random() < 0.6
    b = a + math.radians(rng.uniform(70, 110)) if corner else a + math.pi
    d2 = np.array([math.cos(b), math.sin(b)])
    far = 300
    if rng.random() < 0.7:  # the desk as a filled wedge / half plane
        pts = np.array(
            [c + d1 * far, c, c + d2 * far, c + (d1 + d2) * far if corner else c + (d1 - d2) * 0], np.float32
        )
        if not corner:
            n = np.array([-d1[1], d1[0]])
            pts = np.array([c + d1 * far, c - d1 * far, c - d1 * far + n * far, c + d1 * far + n * far], np.float32)
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], float(rng.uniform(0.5, 1.0)), cv2.LINE_AA)
        canvas = np.asarray(cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.5, 2.5)), np.float32)
    else:  # the thin shadow line along the edge
        th = int(rng.integers(2, 6))
        for d in (d1, d2) if corner else (d1, -d1):
            q = c + d * far
            cv2.line(
                canvas, (int(c[0]), int(c[1])), (int(q[0]), int(q[1])), float(rng.uniform(0.6, 1)), th, cv2.LINE_AA
            )
    return canvas


def shadow(rng: np.random.Generator) -> np.ndarray:
    """A soft shadow or smudge: a blurred blob or wedge with graded darkness."""
    canvas = np.zeros((_CANVAS, _CANVAS), np.float32)
    pts = rng.uniform(10, 86, (int(rng.integers(3, 7)), 2)).astype(np.int32)
    cv2.fillConvexPoly(canvas, cv2.convexHull(pts), 1.0)
    canvas = np.asarray(cv2.GaussianBlur(canvas, (0, 0), rng.uniform(3, 10)), np.float32)
    return canvas / max(1e-3, float(canvas.max())) * rng.uniform(0.5, 1.0)


def speck(rng: np.random.Generator) -> np.ndarray:
    """Dust, a pen dot or a few specks close together."""
    canvas = np.zeros((_CANVAS, _CANVAS), np.float32)
    n = int(rng.integers(1, 6))
    spread = rng.uniform(3, 25)
    for _ in range(n):
        x, y = _CANVAS / 2 + rng.normal(0, spread, 2)
        ax = (max(1, int(rng.uniform(1, 5))), max(1, int(rng.uniform(1, 5))))
        cv2.ellipse(canvas, (int(x), int(y)), ax, rng.uniform(0, 180), 0, 360, float(rng.uniform(0.6, 1)), -1)
    return cv2.GaussianBlur(canvas, (0, 0), 0.7)


def grain(rng: np.random.Generator) -> np.ndarray:
    """Paper grain or sensor noise that crossed the threshold: irregular clumps."""
    noise = rng.normal(0, 1, (_CANVAS, _CANVAS)).astype(np.float32)
    noise = np.asarray(cv2.GaussianBlur(noise, (0, 0), rng.uniform(1.0, 4.0)), np.float32)
    noise = (noise - noise.mean()) / max(1e-6, float(noise.std()))
    return np.clip((noise - rng.uniform(1.0, 2.2)) * 0.8, 0, 1).astype(np.float32)


_TEXTURE_CACHE: dict[str, np.ndarray] = {}


def _texture_image(name: str) -> np.ndarray | None:
    if name not in _TEXTURE_CACHE:
        try:
            import skimage.data
        except ImportError:
            return None
        img = getattr(skimage.data, name)()
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        _TEXTURE_CACHE[name] = img.astype(np.float32) / 255.0
    return _TEXTURE_CACHE[name]


def texture(rng: np.random.Generator) -> np.ndarray:
    """The dark parts of a patch of a real photograph (brick, grass, gravel, print, fur, a table)."""
    img = _texture_image(TEXTURES[int(rng.integers(len(TEXTURES)))])
    if img is None:  # scikit-image missing: fall back to synthetic grain
        return grain(rng)
    side = int(rng.integers(24, min(img.shape) // 2))
    y, x = int(rng.integers(0, img.shape[0] - side)), int(rng.integers(0, img.shape[1] - side))
    patch = cv2.resize(img[y : y + side, x : x + side], (_CANVAS, _CANVAS), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        patch = 1.0 - patch  # dark detail on light, or the reverse
    bg = cv2.dilate(patch, np.ones((15, 15), np.uint8))
    bg = cv2.GaussianBlur(bg, (0, 0), 5)
    ink = np.clip((bg - patch) / np.maximum(bg, 0.05), 0, 1)
    return ink / max(1e-3, float(np.percentile(ink, 99.5)))


def crop_from_ink(
    ink: np.ndarray, rng: np.random.Generator, config: PreprocessConfig | None = None, largest: bool = False
) -> np.ndarray | None:
    """Ink strength -> the 28x28 crop the pipeline would make of it (None when nothing passes the threshold).

    The mask is the ink above half its peak (Otsu's level for textures and grain); with
    `largest` only the biggest connected piece is kept, as one candidate of the pipeline.
    """
    config = config or PreprocessConfig()
    ink = np.clip(ink.astype(np.float32), 0, 1)
    peak = float(ink.max())
    if peak <= 0.05:
        return None
    if largest:
        level, _ = cv2.threshold((ink / peak * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        own = ink / peak * 255 > max(level, 60)
        n, lab, stats, _ = cv2.connectedComponentsWithStats(own.astype(np.uint8), connectivity=8)
        if n <= 1:
            return None
        big = 1 + np.argsort(stats[1:, cv2.CC_STAT_AREA])[::-1]
        k = int(big[0] if rng.random() < 0.7 or len(big) == 1 else big[int(rng.integers(min(3, len(big))))])
        own = lab == k
    else:
        own = ink > 0.5 * peak
    ys, xs = np.nonzero(own)
    if ys.size < 4:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    own_box = own[y0:y1, x0:x1]
    digit = grey_digit(own_box, ink[y0:y1, x0:x1]) if config.grey_crops else own_box.astype(np.uint8) * 255
    crop = to_mnist(digit, config.stroke_target, config.stroke_tolerance, config.deskew)
    return crop if crop.max() > 0 else None


def looks_like_one(crop: np.ndarray) -> bool:
    """A thin bar within 25 degrees of vertical: whatever made it, a reader sees a "1"."""
    m = cv2.moments(crop)
    if m["m00"] <= 1e-6:
        return False
    a, b, c = m["mu20"] / m["m00"], m["mu11"] / m["m00"], m["mu02"] / m["m00"]
    spread = math.sqrt(max(0.0, ((a - c) / 2) ** 2 + b**2))
    major, minor = (a + c) / 2 + spread, (a + c) / 2 - spread
    angle = 0.5 * math.degrees(math.atan2(2 * b, a - c))  # of the major axis, from horizontal
    return major > 5 * max(minor, 1e-6) and abs(abs(angle) - 90) < 25


def make(
    rng: np.random.Generator,
    family: str,
    digits: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    config: PreprocessConfig | None = None,
) -> np.ndarray:
    """One crop [28, 28] float32 of the given family (retries until a mark survives thresholding)."""
    for _ in range(50):
        if family == "operator":
            ink, largest = operator(rng), False
        elif family == "letter":
            ink, largest = letter(rng), False
        elif family in ("fragment", "pair"):
            if digits is None:
                raise ValueError(f"family {family!r} needs digit images")
            ink = fragment(rng, digits, labels) if family == "fragment" else pair(rng, digits)
            largest = False
        elif family == "turned":
            if digits is None or labels is None:
                raise ValueError("family 'turned' needs digit images and their labels")
            ink, largest = turned(rng, digits, labels), False
        elif family == "rule":
            ink, largest = rule(rng), False
        elif family == "edge":
            ink, largest = edge(rng), True
        elif family == "shadow":
            ink, largest = shadow(rng), False
        elif family == "speck":
            ink, largest = speck(rng), False
        elif family == "grain":
            ink, largest = grain(rng), True
        elif family == "texture":
            ink, largest = texture(rng), True
        else:
            raise ValueError(f"unknown family {family!r}; choose from {', '.join(ALL_FAMILIES)}")
        crop = crop_from_ink(ink, rng, config, largest)
        if crop is not None and not looks_like_one(crop):
            return crop
    return np.zeros((C.IMAGE_SIZE, C.IMAGE_SIZE), np.float32)


def generate(
    count: int,
    seed: int,
    digits: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    families: tuple[str, ...] = FAMILIES,
    config: PreprocessConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`count` non-digit crops -> (float32 [count, 28, 28] in 0..1, family index into ALL_FAMILIES [count]).

    Families are drawn by WEIGHTS; `digits` (uint8 [N, 28, 28], e.g. MNIST train) feed the
    fragment and pair families, which are skipped when no digits are given, and with
    their `labels` the turned family (opt-in: not in FAMILIES).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    fams = [
        f
        for f in families
        if (digits is not None or f not in ("fragment", "pair")) and (labels is not None or f != "turned")
    ]
    if not fams:
        raise ValueError("no family to draw from")
    p = np.array([WEIGHTS[f] for f in fams], np.float64)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(fams), size=count, p=p / p.sum())
    crops = np.zeros((count, C.IMAGE_SIZE, C.IMAGE_SIZE), np.float32)
    for i, k in enumerate(pick):
        crops[i] = make(rng, fams[k], digits, labels, config)
    return crops, np.array([ALL_FAMILIES.index(fams[k]) for k in pick], np.int64)

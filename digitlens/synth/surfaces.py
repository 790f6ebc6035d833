"""Writing surfaces and what lies around them, each drawn flat in its own canvas.

- `write_page`: a sheet, sticky note or notebook page (ruled or squared, margin rule,
  punched holes) with digits and non-digit marks written on it by one pen, in rows and
  side-by-side blocks; it returns where every digit's ink lies, for the truth.
- `keyboard`: rows of keycaps with printed legends (printed letters and digits are not
  handwriting and never part of the truth).
- `blank_sheet`, `pen_object`: other sheets of a stack, a pen lying on the desk.

The scene composer (digitlens.synth.scenes) places these canvases on the desk plane.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from digitlens.synth.marks import LETTERS, OPERATORS, draw_mark
from digitlens.synth.pens import DigitInk, Pen, mark_alpha
from digitlens.synth.textures import paper, smooth_noise

SURFACES = ("sheet", "note", "ruled", "squared")
NOTE_COLOURS: dict[str, tuple[float, float, float]] = {
    "yellow": (120, 235, 250),
    "pink": (195, 165, 250),
    "blue": (245, 215, 160),
    "green": (165, 240, 195),
    "orange": (110, 190, 250),
}


@dataclass
class Written:
    """One digit written on a page: its label, row, block and its ink's pixels (canvas x, y)."""

    label: int
    row: int
    block: int
    points: np.ndarray  # (N, 2) float, canvas coordinates of ink pixels


@dataclass
class Page:
    image: np.ndarray  # float32 BGR canvas
    alpha: np.ndarray  # float32 0..1: where the page is (holes and all)
    digits: list[Written]
    text_box: tuple[float, float, float, float]  # x0, y0, x1, y1 of all writing, canvas pixels
    digit_height: float  # canvas pixels
    surface: str
    colour: str
    marks: int = 0
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------- text plan


def _number_tokens(rng: np.random.Generator, n: int, marks: float) -> list[str]:
    """n digits ('d'), with operators, punctuation or a letter prefix among them when marks > 0."""
    toks = ["d"] * n
    if marks <= 0 or rng.random() > marks:
        return toks
    style = rng.choice(["sum", "decimal", "date", "prefix", "bracket", "unit"])
    if style == "sum" and n >= 3:
        cut = sorted(rng.choice(np.arange(1, n), size=min(2, n - 1), replace=False).tolist())
        ops = [OPERATORS[int(rng.integers(5))], "="]  # + - × ÷ =
        for k, c in enumerate(reversed(cut)):
            toks.insert(c, ops[1 - k] if len(cut) == 2 else ops[0])
    elif style == "decimal" and n >= 2:
        toks.insert(int(rng.integers(1, n)), "." if rng.random() < 0.6 else ",")
    elif style == "date" and n >= 4:
        toks.insert(2, "/")
        if n >= 6:
            toks.insert(5, "/")
    elif style == "prefix":
        word = [LETTERS[int(rng.integers(len(LETTERS)))] for _ in range(int(rng.integers(1, 4)))]
        toks = [*word, ":" if rng.random() < 0.6 else "=", *toks]
    elif style == "bracket":
        toks = ["(", *toks, ")"]
    else:  # a unit or a percent after the number
        toks = [*toks, "%"] if rng.random() < 0.5 else [*toks, LETTERS[int(rng.integers(len(LETTERS)))]]
    return toks


def plan_text(
    rng: np.random.Generator, layout: str, max_digits_row: int, max_rows: int, marks: float
) -> list[list[list[str]]]:
    """Rows of blocks of tokens: 'd' for a digit, else a mark symbol."""
    max_digits_row = max(1, max_digits_row)
    max_rows = max(1, max_rows)
    if layout == "single":
        return [[["d"]]]
    if layout == "line":
        n = int(rng.integers(2, max(3, min(10, max_digits_row) + 1)))
        return [[_number_tokens(rng, n, marks)]]
    if layout == "lines":
        rows = int(rng.integers(2, max(3, min(5, max_rows) + 1)))
        return [
            [_number_tokens(rng, int(rng.integers(2, max(3, min(9, max_digits_row) + 1))), marks)] for _ in range(rows)
        ]
    if layout == "blocks":
        rows = int(rng.integers(2, max(3, min(4, max_rows) + 1)))
        per = max(1, min(6, (max_digits_row - 3) // 2))
        return [
            [_number_tokens(rng, int(rng.integers(1, per + 1)), marks * 0.5) for _ in range(2)] for _ in range(rows)
        ]
    if layout == "page":
        rows = int(rng.integers(4, max(5, min(16, max_rows) + 1)))
        out = []
        for _ in range(rows):
            n = int(rng.integers(3, max(4, min(14, max_digits_row) + 1)))
            toks = _number_tokens(rng, n, marks)
            # gaps inside a row (groups of digits) are not marked in the truth
            for _ in range(int(rng.integers(0, 3))):
                toks.insert(int(rng.integers(1, len(toks))), "gap")
            out.append([toks])
        return out
    raise ValueError(f"unknown layout {layout!r}")


# ---------------------------------------------------------------- page


def _rounded_box(
    img: np.ndarray, x0: float, y0: float, x1: float, y1: float, r: float, colour: float | tuple[int, ...]
) -> None:
    r = int(max(0, min(r, (x1 - x0) / 2, (y1 - y0) / 2)))
    x0, y0, x1, y1 = int(x0), int(y0), int(x1), int(y1)
    cv2.rectangle(img, (x0 + r, y0), (x1 - r, y1), colour, -1, cv2.LINE_AA)
    cv2.rectangle(img, (x0, y0 + r), (x1, y1 - r), colour, -1, cv2.LINE_AA)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(img, (cx, cy), r, colour, -1, cv2.LINE_AA)


def write_page(
    rng: np.random.Generator,
    ink: DigitInk,
    labels: np.ndarray,
    surface: str,
    layout: str,
    pen: Pen,
    cd: float,
    page_cd: tuple[float, float],
    marks: float = 0.0,
    max_text: tuple[float, float] | None = None,
) -> Page:
    """A page `page_cd` (width, height in digit heights) with writing `cd` canvas pixels high.

    `max_text` (width, height in digit heights) bounds the writing further, so that it fits
    the photo's frame at the size it is meant to have there.
    """
    pw_cd, ph_cd = page_cd
    ruled = surface == "ruled"
    squared = surface == "squared"
    # rows: pitch in digit heights; on ruled paper the rules set it
    cell = 0.0
    if ruled:
        pitch = rng.uniform(1.35, 1.9)
    elif squared:
        cell = 1 / rng.uniform(1.1, 2.2)  # square side in digit heights
        pitch = cell * (np.ceil(1.25 / cell) + int(rng.integers(0, 2)))  # rows on the grid
    else:
        pitch = rng.uniform(1.4, 2.4)
    margin_left = 0.14 if ruled and rng.random() < 0.8 else 0.06
    usable_w = pw_cd * (1 - margin_left - 0.06)
    avail_h = ph_cd * 0.85
    if max_text:
        usable_w = min(usable_w, max_text[0])
        avail_h = min(avail_h, max_text[1])
    adv = 0.95  # average advance per digit, in digit heights
    block_gap = rng.uniform(3.5, 6)
    max_digits = int(usable_w / adv)
    if layout == "blocks":
        max_digits = int((usable_w - block_gap) / adv)
    max_rows = int(max(1.0, avail_h - 1) / pitch) + 1
    plan = plan_text(rng, layout, max_digits, max_rows, marks)

    # place tokens in text coordinates (pixels, origin at the first row's top-left)
    glyphs: list[tuple[np.ndarray, float, float, int | None, int, int]] = []  # alpha, x, y, label, row, block
    slope_all = np.deg2rad(rng.normal(0, 2))
    n_marks = 0
    gap = rng.uniform(0.12, 0.35)
    x_max = usable_w * cd
    for r, row in enumerate(plan):
        base = (r * pitch + 1) * cd
        slope = slope_all + np.deg2rad(rng.normal(0, 1))
        indent = rng.uniform(0, 0.6) * cd if layout != "single" else 0.0
        x = indent
        for b, toks in enumerate(row):
            if b > 0:
                x += block_gap * cd
            for t in toks:
                if t == "gap":
                    x += rng.uniform(0.6, 1.2) * cd
                    continue
                yb = base + np.tan(slope) * x + rng.normal(0, 0.04) * cd
                if t == "d":
                    k = int(rng.integers(len(labels)))
                    h = cd * rng.uniform(0.88, 1.12)
                    a = ink.render(k, h, pen, rng)
                    # the render has a margin: put the ink's bottom on the baseline
                    ys = np.nonzero(a.max(axis=1) > 0.05)[0]
                    xs = np.nonzero(a.max(axis=0) > 0.05)[0]
                    if ys.size == 0:
                        continue
                    a = a[:, xs.min() : xs.max() + 1]
                    glyphs.append((a, x, yb - ys.max(), int(labels[k]), r, b))
                    x += a.shape[1] + gap * cd * rng.uniform(0.7, 1.3)
                else:
                    stroke = max(pen.min_width, pen.width * cd) * rng.uniform(0.8, 1.1)
                    m = mark_alpha(draw_mark(t, max(6, round(cd)), rng, stroke), pen, rng)
                    glyphs.append((m, x, yb - cd, None, r, b))
                    n_marks += 1
                    x += m.shape[1] + gap * cd * rng.uniform(0.5, 1.0)
                if x > x_max:
                    break
    drawn = underlines(glyphs, pen, cd) if layout in ("line", "lines", "blocks") and glyphs else []
    glyphs += drawn
    # the writing's extent
    x0 = min(g[1] for g in glyphs)
    y0 = min(g[2] for g in glyphs)
    x1 = max(g[1] + g[0].shape[1] for g in glyphs)
    y1 = max(g[2] + g[0].shape[0] for g in glyphs)
    tw, th = x1 - x0, y1 - y0
    W = int(max(pw_cd * cd, tw / (1 - margin_left - 0.05)))
    H = int(max(ph_cd * cd, th * 1.1 + 2 * cd))
    if surface == "note":  # sticky notes are square
        W = H = max(W, H)
    # where the writing starts on the page
    left = margin_left * W + cd * 0.2
    ox = left + rng.uniform(0, max(0.0, W - left - tw - 0.04 * W)) * (0.35 if layout != "single" else 1.0)
    oy = cd * 0.4 + rng.uniform(0, max(0.0, H - th - cd * 0.8)) * (0.6 if layout != "single" else 1.0)
    ox -= x0
    oy -= y0

    colour_name = "white"
    if surface == "note":
        colour_name = list(NOTE_COLOURS)[int(rng.integers(len(NOTE_COLOURS)))]
        colour = NOTE_COLOURS[colour_name]
    else:
        v = rng.uniform(228, 250)
        tint = rng.choice(["white", "white", "warm", "cool", "recycled"])
        colour = {
            "white": (v, v, v),
            "warm": (v - 18, v - 6, v),
            "cool": (v, v - 3, v - 8),
            "recycled": (v - 25, v - 22, v - 20),
        }[tint]
        colour_name = str(tint)
    img = paper(rng, H, W, colour)
    alpha = np.ones((H, W), np.float32)
    meta: dict = {"underlines": len(drawn)} if drawn else {}
    rule_col = tuple(float(c) for c in np.array([225, 185, 150]) * rng.uniform(0.85, 1.05))
    if ruled:
        g = pitch * cd
        th_px = max(1, round(cd * rng.uniform(0.02, 0.05)))
        across = rng.random() < 0.15  # the writing runs across the rules (the page was turned)
        meta["rules_across"] = bool(across)
        if across:
            start = rng.uniform(0, g)
            for xv in np.arange(start, W, g * rng.uniform(0.8, 1.2)):
                cv2.line(img, (int(xv), 0), (int(xv), H), rule_col, th_px, cv2.LINE_AA)
        else:
            start = (oy + cd * 1.0 + cd * rng.uniform(0.0, 0.15)) % g
            for yv in np.arange(start + g * np.ceil(0.06 * H / g), H, g):
                cv2.line(img, (0, int(yv)), (W, int(yv)), rule_col, th_px, cv2.LINE_AA)
        if margin_left > 0.1:
            mx = int(margin_left * W)
            red = (float(rng.uniform(110, 150)), float(rng.uniform(110, 150)), float(rng.uniform(215, 240)))
            cv2.line(img, (mx, 0), (mx, H), red, th_px, cv2.LINE_AA)
            if rng.random() < 0.3:
                cv2.line(img, (mx + 3 * th_px, 0), (mx + 3 * th_px, H), red, th_px, cv2.LINE_AA)
    if squared:
        g = cell * cd
        th_px = max(1, round(cd * rng.uniform(0.01, 0.03)))
        col = tuple(float(c) for c in np.array([215, 200, 185]) * rng.uniform(0.9, 1.05))
        sx, sy = rng.uniform(0, g), (oy + cd) % g
        for xv in np.arange(sx, W, g):
            cv2.line(img, (int(xv), 0), (int(xv), H), col, th_px, cv2.LINE_AA)
        for yv in np.arange(sy, H, g):
            cv2.line(img, (0, int(yv)), (W, int(yv)), col, th_px, cv2.LINE_AA)
    if surface in ("ruled", "squared") and rng.random() < 0.5:
        # punched holes or spiral holes along the left edge, clear of the writing
        r = max(2, int(0.012 * max(W, H)))
        step = int(rng.uniform(0.04, 0.1) * H) if rng.random() < 0.5 else int(H / 4)
        hx = int(0.035 * W)
        if hx + r < ox + x0 - cd * 0.3:
            for hy in range(step // 2, H, max(step, 3 * r)):
                cv2.circle(alpha, (hx, hy), r, 0.0, -1, cv2.LINE_AA)
    if surface == "note":
        # a note lifts off the desk at its free end: the far part is a little darker
        yy = np.linspace(0, 1, H, dtype=np.float32)[:, None]
        img *= (1 - rng.uniform(0.0, 0.1) * np.clip((yy - 0.6) / 0.4, 0, 1))[:, :, None]
        img *= (1 + 0.02 * smooth_noise(rng, H, W, 2))[:, :, None]

    # write: the ink takes the paper's light away in its colour (multiplicative)
    ink_t = np.array(pen.colour, np.float32) / 255.0
    digits: list[Written] = []
    tb = [np.inf, np.inf, -np.inf, -np.inf]
    for a, gx, gy, lab, r, b in glyphs:
        xi, yi = round(gx + ox), round(gy + oy)
        h, w = a.shape
        xa, ya = max(0, xi), max(0, yi)
        xb, yb = min(W, xi + w), min(H, yi + h)
        if xb <= xa or yb <= ya:
            continue
        sub = a[ya - yi : yb - yi, xa - xi : xb - xi, None]
        img[ya:yb, xa:xb] *= 1 - sub * (1 - ink_t)
        ys, xs = np.nonzero(sub[:, :, 0] > 0.35 * pen.opacity)
        if ys.size:
            tb = [
                min(tb[0], xa + xs.min()),
                min(tb[1], ya + ys.min()),
                max(tb[2], xa + xs.max() + 1),
                max(tb[3], ya + ys.max() + 1),
            ]
        if lab is not None and ys.size:
            pts = np.stack([xs + xa + 0.5, ys + ya + 0.5], axis=1).astype(np.float32)
            digits.append(Written(lab, r, b, pts))
    return Page(img, alpha, digits, (tb[0], tb[1], tb[2], tb[3]), cd, surface, colour_name, n_marks, meta)


def underlines(
    glyphs: list[tuple[np.ndarray, float, float, int | None, int, int]], pen: Pen, cd: float, share: float = 0.2
) -> list[tuple[np.ndarray, float, float, int | None, int, int]]:
    """Lines drawn in the pen under a row of writing (an underline, a sum's bar), touching its digits.

    On `share` of the pages with rows.  Drawn from a generator of its own, seeded by the
    page's writing, so that pages without a line (and every later draw of the scene) stay
    as they were before this case was added.
    """
    first = glyphs[0]
    rng = np.random.default_rng([abs(round(v)) for v in (len(glyphs), cd * 1000, first[1] * 100, first[2] * 100)])
    if rng.random() >= share:
        return []
    rows = sorted({g[4] for g in glyphs})
    chosen = rows if rng.random() < 0.3 else [rows[int(rng.integers(len(rows)))]]
    out: list[tuple[np.ndarray, float, float, int | None, int, int]] = []
    for r in chosen:
        row = [g for g in glyphs if g[4] == r]
        x0 = min(g[1] for g in row) - rng.uniform(0.15, 0.5) * cd  # run on past the number, as people draw them
        x1 = max(g[1] + g[0].shape[1] for g in row) + rng.uniform(0.15, 0.5) * cd
        bottom = [  # where each digit's ink ends (its render has a margin below)
            (g[1] + g[0].shape[1] / 2, g[2] + np.nonzero(g[0].max(axis=1) > 0.05)[0].max())
            for g in row
            if g[3] is not None
        ]
        if len(bottom) < 2 or x1 - x0 < 2 * cd:
            continue
        bx, by = np.array(bottom).T
        slope, base = np.polyfit(bx - x0, by, 1)
        stroke = max(pen.min_width, pen.width * cd) * rng.uniform(0.8, 1.2)
        drop = rng.uniform(-0.05, 0.08) * cd  # at the digits' feet: touching some, crossing others
        w = int(np.ceil(x1 - x0)) + 4
        rise = slope * w
        pad = int(np.ceil(abs(rise) + 3 * stroke + 0.1 * cd)) + 2
        h = 2 * pad
        canvas = np.zeros((h, w), np.float32)
        xs = np.linspace(2, w - 3, 12)
        ys = pad + slope * xs + rng.normal(0, 0.02 * cd, xs.size).cumsum() * 0.3  # a hand's gentle wobble
        pts = np.round(np.stack([xs, ys], axis=1) * 8).astype(np.int32)
        cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], False, 1.0, max(1, round(stroke)), cv2.LINE_AA, shift=3)
        out.append((mark_alpha(canvas, pen, rng), float(x0), float(base + drop - pad), None, r, 0))
    return out


# ---------------------------------------------------------------- other objects


def blank_sheet(rng: np.random.Generator, w: int, h: int, note: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A sheet (or note) with nothing written on it, sometimes faintly ruled."""
    if note:
        colour = list(NOTE_COLOURS.values())[int(rng.integers(len(NOTE_COLOURS)))]
    else:
        v = rng.uniform(215, 248)
        colour = (v, v - rng.uniform(0, 8), v - rng.uniform(0, 12))
    img = paper(rng, h, w, colour)
    roll = rng.random()
    if not note and roll < 0.35:
        g = h / rng.uniform(25, 35)
        for y in np.arange(g * 2, h, g):
            cv2.line(img, (0, int(y)), (w, int(y)), (225, 195, 165), max(1, int(h / 900)), cv2.LINE_AA)
    elif not note and roll < 0.7:  # a printed page: lines of words (printed, never handwriting)
        img = _printed(rng, img)
    return img, np.ones((h, w), np.float32)


def _printed(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    canvas = np.clip(img, 0, 255).astype(np.uint8)  # putText draws on 8-bit images only
    pitch = h / rng.uniform(30, 45)
    fs = pitch / 40
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPRSTUVW0123456789"
    for y in np.arange(pitch * 3, h - pitch * 2, pitch):
        x = w * 0.1
        while x < w * 0.85:
            word = "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), int(rng.integers(2, 9))))
            cv2.putText(canvas, word, (int(x), int(y)), cv2.FONT_HERSHEY_SIMPLEX, fs, (60, 60, 60), 1, cv2.LINE_AA)
            x += (len(word) + 1) * pitch * 0.45
    return canvas.astype(np.float32)


_ROWS = ["1234567890-=", "QWERTYUIOP[]", "ASDFGHJKL;'", "ZXCVBNM,./"]


def keyboard(rng: np.random.Generator, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A keyboard seen from above: keycaps with printed legends (not handwriting)."""
    width = max(120, int(width))
    pitch = width / 15.2
    height = int(pitch * 5.6)
    dark = rng.random() < 0.6
    body = np.array([35, 35, 38] if dark else [200, 200, 205], np.float32) * rng.uniform(0.85, 1.1)
    cap = body + (18 if dark else 22)
    legend = (225, 225, 225) if dark else (40, 40, 40)
    img = np.empty((height, width, 3), np.uint8)  # putText draws on 8-bit images only
    img[:] = np.clip(body, 0, 255).astype(np.uint8)
    alpha = np.zeros((height, width), np.float32)
    _rounded_box(alpha, 0, 0, width - 1, height - 1, pitch * 0.3, 1.0)
    font = cv2.FONT_HERSHEY_SIMPLEX
    fs = pitch / 75
    tw = max(1, int(pitch / 28))
    shrink = pitch * 0.08
    for r, row in enumerate([*_ROWS, None]):
        y0 = pitch * (0.3 + r)
        x = pitch * (0.3 + [0, 0.5, 0.8, 1.2, 3.5][r])
        keys = list(row) if row else [" "]
        for kc in keys:
            kw = pitch * (6 if row is None else 1)
            xa, ya, xb, yb = x + shrink, y0 + shrink, x + kw - shrink, y0 + pitch - shrink
            _rounded_box(img, xa, ya, xb, yb, pitch * 0.12, tuple(int(c) for c in np.clip(cap * 0.85, 0, 255)))
            _rounded_box(
                img,
                xa + shrink * 0.6,
                ya + shrink * 0.3,
                xb - shrink * 0.6,
                yb - shrink * 1.2,
                pitch * 0.1,
                tuple(int(c) for c in np.clip(cap, 0, 255)),
            )
            if kc.strip():
                (_lw, lh), _ = cv2.getTextSize(kc, font, fs, tw)
                org = (int(xa + shrink * 1.5), int(ya + shrink * 1.5 + lh))
                cv2.putText(img, kc, org, font, fs, legend, tw, cv2.LINE_AA)
            x += kw
    return img.astype(np.float32), alpha


def pen_object(rng: np.random.Generator, length: int) -> tuple[np.ndarray, np.ndarray]:
    """A pen or pencil lying on the desk: a shaded cylinder with a tip."""
    length = max(40, int(length))
    w = max(6, int(length / rng.uniform(11, 16)))
    colours = [(30, 30, 30), (150, 60, 20), (40, 40, 170), (40, 190, 230), (200, 200, 200)]
    base = np.array(colours[int(rng.integers(len(colours)))], np.float32)
    yy = np.linspace(-1, 1, w, dtype=np.float32)[:, None]
    shade = (0.55 + 0.45 * np.sqrt(np.clip(1 - yy**2, 0, 1))) + 0.35 * np.exp(-((yy + 0.4) ** 2) / 0.02)
    img = np.repeat((base * shade[:, :, None] * np.ones((1, length, 1), np.float32)), 1, axis=0)
    alpha = np.ones((w, length), np.float32)
    tip = int(length * 0.12)
    xs = np.arange(tip, dtype=np.float32)
    half = (w / 2) * (xs / max(1, tip))
    yc = np.abs(np.arange(w, dtype=np.float32)[:, None] - (w - 1) / 2)
    alpha[:, :tip] = np.clip(half[None, :] - yc + 0.5, 0, 1)
    img[:, : tip // 2] = np.array([40, 40, 40], np.float32) if rng.random() < 0.5 else img[:, : tip // 2] * 0.8
    return img.astype(np.float32), alpha

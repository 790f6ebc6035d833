"""The classic scenes: one surface filling the frame, composed from MNIST digits.

Used to measure the photo pipeline end to end (recall, precision, character error rate)
without a camera, and to make the committed samples.  Each scene varies what real photos
vary: paper, rules and squares, sticky notes on a desk, white and dark boards, ink colour,
lamp gradients and soft shadows, tilt and perspective, blur, noise and JPEG.
These are the scenes the pipeline was first tuned on (tests/preprocess/test_synthetic_set.py
and BENCHMARKS.md use them with seed 2024); `digitlens.synth.scenes` adds the harder ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

KINDS = ("paper", "ruled", "squared", "sticky", "whiteboard", "blackboard")
LAYOUTS = ("single", "line", "lines", "small")


@dataclass
class Scene:
    image: np.ndarray  # uint8 BGR
    text: str  # digits per line, lines joined by one space
    labels: list[int]
    boxes: list[tuple[int, int, int, int]]  # x, y, w, h per digit, in reading order
    lines: list[int]
    kind: str
    layout: str
    meta: dict = field(default_factory=dict)


def _tight(digit: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(digit > 40)
    return digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _layout(rng: np.random.Generator, layout: str, W: int, H: int) -> list[tuple[float, float, float, int]]:
    """Lines as (x start, y top, digit height, digit count)."""
    if layout == "single":
        h = rng.uniform(0.4, 0.7) * H
        return [(W / 2 - h * 0.3, H / 2 - h / 2, h, 1)]
    if layout == "small":
        h = rng.uniform(18, 30) * max(1.0, min(W, H) / 480)
        return [(rng.uniform(0.1, 0.6) * W, rng.uniform(0.15, 0.75) * H, h, int(rng.integers(2, 6)))]
    nlines = 1 if layout == "line" else int(rng.integers(2, 4))
    h = rng.uniform(0.12, 0.18) * H if nlines > 1 else rng.uniform(0.15, 0.3) * H
    lines, y = [], rng.uniform(0.1, 0.25) * H
    for _ in range(nlines):
        n = int(rng.integers(2, 8))
        lines.append((rng.uniform(0.04, 0.3) * W, y, h, n))
        y += h * rng.uniform(1.5, 1.9)
        if y + h > 0.95 * H:
            break
    return lines


def make_scene(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    kind: str | None = None,
    layout: str | None = None,
    size: tuple[int, int] = (640, 480),
) -> Scene:
    kind = kind or KINDS[int(rng.integers(len(KINDS)))]
    layout = layout or LAYOUTS[int(rng.integers(len(LAYOUTS)))]
    W, H = size
    dark_board = kind == "blackboard"
    if kind == "blackboard":
        paper = np.array(rng.choice([[40, 50, 35], [35, 35, 35], [60, 70, 40]]), np.float32)
        ink = np.array([rng.uniform(210, 245)] * 3, np.float32)
    else:
        paper = {
            "sticky": np.array([120, 235, 250], np.float32),
            "whiteboard": np.array([245, 245, 242], np.float32),
        }.get(kind, np.array([rng.uniform(215, 245)] * 3, np.float32) - np.array([0, 3, 6], np.float32))
        ink = np.array(rng.choice([[20, 20, 20], [120, 40, 10], [30, 30, 150], [90, 60, 30]]), np.float32)
        if kind == "whiteboard":
            ink = np.array(rng.choice([[30, 30, 30], [150, 60, 20], [40, 120, 30]]), np.float32)
    canvas: np.ndarray = np.empty((H, W, 3), np.float32)
    canvas[:] = paper
    if kind == "sticky":
        # a square note on a darker desk, the desk showing on one or more sides
        desk = np.array(rng.choice([[70, 90, 120], [110, 110, 110], [60, 60, 70]]), np.float32)
        canvas[:] = desk
        m = rng.uniform(0.02, 0.1, 4)
        x0, y0, x1, y1 = int(m[0] * W), int(m[1] * H), int(W * (1 - m[2])), int(H * (1 - m[3]))
        canvas[y0:y1, x0:x1] = paper
        inner = (x0, y0, x1, y1)
    else:
        inner = (0, 0, W, H)
    if kind == "ruled":
        gap = rng.uniform(0.08, 0.14) * H
        col = np.array([200, 170, 140], np.float32) * rng.uniform(0.9, 1.05)
        y = rng.uniform(0, gap)
        while y < H:
            cv2.line(canvas, (0, int(y)), (W, int(y)), col.tolist(), int(rng.integers(1, 3)), cv2.LINE_AA)
            y += gap
        if rng.random() < 0.5:
            margin = int(rng.uniform(0.05, 0.12) * W)
            cv2.line(canvas, (margin, 0), (margin, H), (140, 140, 230), 1, cv2.LINE_AA)
    if kind == "squared":
        gap = rng.uniform(0.04, 0.07) * H
        col = np.array([210, 195, 175], np.float32)
        for v in np.arange(rng.uniform(0, gap), max(W, H), gap):
            cv2.line(canvas, (int(v), 0), (int(v), H), col.tolist(), 1, cv2.LINE_AA)
            cv2.line(canvas, (0, int(v)), (W, int(v)), col.tolist(), 1, cv2.LINE_AA)

    slots = _layout(rng, layout, inner[2] - inner[0], inner[3] - inner[1])
    ids = np.zeros((H, W), np.int32)
    digit_labels: list[int] = []
    digit_lines: list[int] = []
    thickness = rng.choice([-1, 0, 0, 1, 2])  # pen: thinner, as MNIST, or thicker
    for li, (x, y0_line, h_line, n) in enumerate(slots):
        for _ in range(n):
            h = h_line * rng.uniform(0.9, 1.1)
            y = y0_line + rng.normal(0, h_line * 0.04)
            k = int(rng.integers(len(images)))
            d = _tight(images[k])
            hh = max(6, round(h))
            ww = max(2, round(d.shape[1] * hh / d.shape[0]))
            if x + ww > inner[2] - inner[0] - 0.02 * W:
                break
            alpha = cv2.resize(d.astype(np.float32) / 255.0, (ww, hh), interpolation=cv2.INTER_CUBIC)
            alpha = np.clip(alpha * 1.3 - 0.15, 0, 1)
            kt = int(thickness * max(1, hh // 40))
            if kt > 0:
                alpha = cv2.dilate(alpha, np.ones((kt + 1, kt + 1), np.uint8))
            elif kt < 0:
                alpha = cv2.erode(alpha, np.ones((2, 2), np.uint8)) if hh > 40 else alpha
            xi, yi = int(x + inner[0]), int(y + inner[1])
            x0, y0 = max(0, xi), max(0, yi)
            x1, y1 = min(W, xi + ww), min(H, yi + hh)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            a = alpha[y0 - yi : y1 - yi, x0 - xi : x1 - xi, None] * rng.uniform(0.8, 1.0)
            canvas[y0:y1, x0:x1] = canvas[y0:y1, x0:x1] * (1 - a) + ink * a
            ids[y0:y1, x0:x1][a[:, :, 0] > 0.35] = len(digit_labels) + 1
            digit_labels.append(int(labels[k]))
            digit_lines.append(li)
            x += ww + h_line * rng.uniform(0.12, 0.4)

    # light: a lamp gradient, a vignette and sometimes a soft shadow
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    grad = 1 - rng.uniform(0, 0.35) * (0.5 + 0.5 * ((xx / W - 0.5) * np.cos(ang) + (yy / H - 0.5) * np.sin(ang)))
    r2 = ((xx / W - 0.5) ** 2 + (yy / H - 0.5) ** 2) * 2
    light = grad * (1 - rng.uniform(0, 0.3) * r2)
    if rng.random() < 0.35 and not dark_board:
        shadow: np.ndarray = np.zeros((H, W), np.float32)
        pts = np.array([[rng.uniform(-0.2, 1.2) * W, rng.uniform(-0.2, 1.2) * H] for _ in range(4)], np.int32)
        cv2.fillConvexPoly(shadow, cv2.convexHull(pts), 1.0)
        shadow = cv2.GaussianBlur(shadow, (0, 0), W * rng.uniform(0.03, 0.08))
        light *= 1 - rng.uniform(0.2, 0.45) * shadow
    if kind == "whiteboard" and rng.random() < 0.6:
        gl = np.exp(-(((xx - rng.uniform(0, W)) ** 2 + (yy - rng.uniform(0, H)) ** 2) / (2 * (0.15 * W) ** 2)))
        canvas = canvas + 40 * gl[:, :, None]
    canvas *= light[:, :, None]

    # camera: tilt and perspective (ids warped the same way), blur, noise, JPEG
    jitter = rng.uniform(-0.03, 0.03, (4, 2)) * [W, H]
    rot = np.deg2rad(rng.uniform(-4, 4))
    c, s = np.cos(rot), np.sin(rot)
    src = np.array([[0, 0], [W, 0], [W, H], [0, H]], np.float32)
    centred = src - [W / 2, H / 2]
    dst = np.float32(centred @ np.array([[c, s], [-s, c]]) + [W / 2, H / 2] + jitter)
    M = cv2.getPerspectiveTransform(src, dst)
    border = tuple(float(v) for v in canvas[0, 0])
    canvas = cv2.warpPerspective(canvas, M, (W, H), borderMode=cv2.BORDER_REPLICATE)
    ids = cv2.warpPerspective(ids.astype(np.float32), M, (W, H), flags=cv2.INTER_NEAREST, borderValue=0).astype(
        np.int32
    )
    sigma = rng.uniform(0, 1.2) * max(1.0, min(W, H) / 480)
    if sigma > 0.3:
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    canvas += rng.normal(0, rng.uniform(1, 6), canvas.shape).astype(np.float32)
    _ok, enc = cv2.imencode(
        ".jpg", np.clip(canvas, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 96))]
    )
    img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    if img is None:  # cannot happen for a buffer cv2 has just encoded
        raise RuntimeError("synth: JPEG round trip failed")
    del border

    boxes, keep = [], []
    for i in range(len(digit_labels)):
        ys, xs = np.nonzero(ids == i + 1)
        if ys.size == 0:
            continue
        boxes.append((int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)))
        keep.append(i)
    labels_out = [digit_labels[i] for i in keep]
    lines_out = [digit_lines[i] for i in keep]
    text = " ".join(
        "".join(str(labels_out[j]) for j in range(len(keep)) if lines_out[j] == li) for li in sorted(set(lines_out))
    )
    return Scene(img, text, labels_out, boxes, lines_out, kind, layout)


def generate(
    count: int, images: np.ndarray, labels: np.ndarray, seed: int = 0, size: tuple[int, int] = (640, 480)
) -> list[Scene]:
    rng = np.random.default_rng(seed)
    return [
        make_scene(rng, images, labels, KINDS[i % len(KINDS)], LAYOUTS[(i // len(KINDS)) % len(LAYOUTS)], size)
        for i in range(count)
    ]

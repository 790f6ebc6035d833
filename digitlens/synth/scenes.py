"""Scenes as people photograph them: a page lying on a desk, seen by a phone.

A scene is built on the desk plane and photographed once:

- the desk: wood grain, a dark desk, cloth, laminate, or a real texture (scikit-image);
- what lies on it: other sheets of a stack, a keyboard with printed keycaps, a pen;
- the page on top, with a soft drop shadow: a sheet, a square sticky note or a notebook
  page (ruled with a margin rule, or squared), written in ballpoint, pale ballpoint,
  pencil, felt pen or gel pen, with operators, punctuation and letters between digits;
- the camera: the page turned on the desk (skew up to +-40 degrees), seen at an angle
  (perspective), placed anywhere in the frame and partly outside it, at any scale from
  12 px digits in a 4000x3000 frame to one digit filling the frame; uneven light, cast
  shadows, blur, noise and JPEG; and the whole photo stored turned by 0/90/180/270.

The truth follows real-dev's label convention: digits in reading order of the upright
page, one space between lines and between side-by-side blocks; marks are not in it.
Boxes are in stored-image coordinates; `meta` carries kind, orientation, skew, pen,
desk, scale and the page outline (`polygon`, stored-image coordinates).

    from digitlens.synth.scenes import generate_real
    scenes = generate_real(400, mnist_test.images, mnist_test.labels, seed=2026)
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Sequence
from dataclasses import replace

import cv2
import numpy as np
from numpy.typing import ArrayLike

from digitlens.synth.classic import Scene
from digitlens.synth.pens import PENS, DigitInk, _thin, make_pen
from digitlens.synth.surfaces import blank_sheet, keyboard, pen_object, write_page
from digitlens.synth.textures import DESKS, desk

REAL_KINDS = ("sheet", "note", "notebook-ruled", "notebook-squared", "stack", "keyboard", "closeup", "bigframe")
REAL_LAYOUTS = ("single", "line", "lines", "blocks", "page")
ORIENTATIONS = (0, 90, 180, 270)
BIG_FRAME = (4000, 3000)
_FRAMES = [(640, 480), (1024, 768), (1280, 960), (1600, 1200), (2000, 1500), (1280, 720), (1080, 1080)]
_FRAME_P = [0.25, 0.15, 0.25, 0.13, 0.1, 0.06, 0.06]
_LAYOUT_P = {
    "sheet": ("single", "line", "lines", "blocks", "page"),
    "note": ("single", "line", "line", "lines"),
    "notebook-ruled": ("line", "lines", "lines", "page", "blocks"),
    "notebook-squared": ("line", "lines", "lines", "page", "blocks"),
    "stack": ("single", "line", "lines", "blocks"),
    "keyboard": ("single", "line", "lines"),
    "closeup": ("single", "single", "single", "line"),
    "bigframe": ("lines", "page", "page", "blocks"),
}
_DESK_P = [0.32, 0.16, 0.1, 0.22, 0.07, 0.05, 0.08]  # real textures (brick, grass, gravel) rarer, as on real desks
_T = typing.TypeVar("_T")


# ---------------------------------------------------------------- geometry


def _camera(rng: np.random.Generator, W: int, H: int, strong: bool) -> tuple[np.ndarray, tuple[float, float]]:
    """Desk plane -> frame: a pinhole camera looking at the plane, unit scale at the frame centre."""
    lim = (12, 35) if strong else (0, 7)
    ax, ay = (np.deg2rad(rng.uniform(*lim)) * rng.choice([-1, 1]) for _ in range(2))
    f = max(W, H) * rng.uniform(0.8, 1.3)
    cx, cy = W / 2, H / 2
    Rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    Ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    R = Ry @ Rx
    K = np.array([[f, 0, cx], [0, f, cy], [0, 0, 1]])
    M = K @ np.column_stack([R[:, 0], R[:, 1], [0, 0, f]]) @ np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
    return M / M[2, 2], (float(np.rad2deg(ax)), float(np.rad2deg(ay)))


def _similarity(scale: float, theta: float, centre: tuple[float, float], at: tuple[float, float]) -> np.ndarray:
    """Canvas -> plane: turn by theta and scale about the canvas point `centre`, which lands on `at`."""
    c, s = np.cos(theta) * scale, np.sin(theta) * scale
    return np.array(
        [[c, -s, at[0] - c * centre[0] + s * centre[1]], [s, c, at[1] - s * centre[0] - c * centre[1]], [0, 0, 1]]
    )


def _project(M: np.ndarray, pts: ArrayLike) -> np.ndarray:
    p = np.asarray(pts, np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(p, M).reshape(-1, 2)


def _corners(w: float, h: float) -> np.ndarray:
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)


def _local_scale(M: np.ndarray, x: float, y: float) -> float:
    p = _project(M, [[x, y], [x + 1, y], [x, y + 1]])
    (ax, ay), (bx, by) = p[1] - p[0], p[2] - p[0]
    return float(np.sqrt(abs(ax * by - ay * bx)))


def _warp(img: np.ndarray, alpha: np.ndarray, M: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A layer seen through M, shrunk with area averaging first when M shrinks it a lot."""
    h, w = alpha.shape
    s = _local_scale(M, w / 2, h / 2)
    if s < 0.7:
        f = max(s * 1.2, 2.0 / min(h, w))
        img = cv2.resize(img, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_AREA)
        M = M @ np.diag([w / img.shape[1], h / img.shape[0], 1.0])
    flags = cv2.INTER_CUBIC if s > 2 else cv2.INTER_LINEAR
    out = cv2.warpPerspective(img, M, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    a = cv2.warpPerspective(alpha, M, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, np.clip(a, 0, 1)


def _soft(mask: np.ndarray, shift: tuple[float, float], sigma: float) -> np.ndarray:
    """The mask shifted and blurred, computed at a reduced size for speed."""
    H, W = mask.shape
    q = max(1.0, max(H, W) / 800)
    small = cv2.resize(mask, (max(2, round(W / q)), max(2, round(H / q))), interpolation=cv2.INTER_AREA)
    T = np.array([[1, 0, shift[0] / q], [0, 1, shift[1] / q]], np.float32)
    small = cv2.warpAffine(small, T, small.shape[::-1], borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, sigma / q))
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)


def _box_to_stored(box: tuple[int, int, int, int], orientation: int, W: int, H: int) -> tuple[int, int, int, int]:
    """An upright-frame box (W x H frame) in the stored image, turned `orientation` degrees clockwise."""
    x, y, w, h = box
    if orientation == 0:
        return x, y, w, h
    if orientation == 90:
        return H - y - h, x, h, w
    if orientation == 180:
        return W - x - w, H - y - h, w, h
    return y, W - x - w, h, w


def _pts_to_stored(pts: np.ndarray, orientation: int, W: int, H: int) -> np.ndarray:
    x, y = pts[:, 0], pts[:, 1]
    if orientation == 0:
        return pts.copy()
    if orientation == 90:
        return np.stack([H - y, x], axis=1)
    if orientation == 180:
        return np.stack([W - x, H - y], axis=1)
    return np.stack([y, W - x], axis=1)


def turn(image: np.ndarray, orientation: int) -> np.ndarray:
    """The upright image as stored by a camera turned `orientation` degrees clockwise."""
    return np.ascontiguousarray(np.rot90(image, k=-(orientation // 90) % 4))


# ---------------------------------------------------------------- one scene


def _choice(rng: np.random.Generator, items: Sequence[_T], p: Sequence[float] | None = None) -> _T:
    return items[int(rng.choice(len(items), p=p))]


def make_real_scene(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    kind: str | None = None,
    layout: str | None = None,
    orientation: int | None = None,
    pen: str | None = None,
    frame: tuple[int, int] | None = None,
    ink: DigitInk | None = None,
) -> Scene:
    """One photo of a page on a desk. Unset choices are drawn from the rng."""
    kind = kind or _choice(rng, REAL_KINDS)
    if kind not in REAL_KINDS:
        raise ValueError(f"unknown scene kind {kind!r}; known: {', '.join(REAL_KINDS)}")
    layout = layout or _choice(rng, _LAYOUT_P[kind])
    if layout not in REAL_LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(REAL_LAYOUTS)}")
    orientation = int(orientation if orientation is not None else _choice(rng, ORIENTATIONS))
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation}")
    ink = ink or DigitInk(images)
    if frame is None:
        frame = BIG_FRAME if kind == "bigframe" else _choice(rng, _FRAMES, _FRAME_P)
    Ws, Hs = frame
    Wu, Hu = (Ws, Hs) if orientation in (0, 180) else (Hs, Ws)  # the upright photo

    # the page: what it is, how big, and how big its writing is in the frame
    surface = {"sheet": "sheet", "note": "note", "notebook-ruled": "ruled", "notebook-squared": "squared"}.get(kind)
    if surface is None:
        surface = _choice(
            rng, ("sheet", "ruled", "squared") if kind == "bigframe" else ("sheet", "note", "ruled", "squared")
        )
    if surface == "note":
        side = rng.uniform(3.5, 9.0) if kind != "closeup" else rng.uniform(1.6, 4.0)
        page_cd = (side, side)
        phys_w = 7.6  # cm
    else:
        ph = {"closeup": rng.uniform(1.8, 6.0), "bigframe": rng.uniform(50, 150)}.get(kind, rng.uniform(10, 42))
        if layout == "single" and kind != "closeup":  # one digit is mostly written big on its page
            ph = rng.uniform(3.0, 16.0)
        page_cd = (ph / 1.414, ph) if rng.random() < 0.8 else (ph, ph / 1.414)
        phys_w = 21.0 * page_cd[0] / min(page_cd)
    short = min(Wu, Hu)
    if kind == "closeup":
        h_d = rng.uniform(0.45, 0.92) * Hu
    else:
        fill = rng.uniform(0.5, 1.1) if kind == "bigframe" else rng.uniform(0.45, 1.4)
        h_d = fill * short / page_cd[1]
    h_d = float(np.clip(h_d, 12.0 if kind == "bigframe" else 14.0, 0.9 * Hu))
    pen_ = make_pen(rng, pen)
    if kind == "closeup":  # a big digit is not written with a thicker pen
        pen_ = replace(pen_, width=pen_.width / rng.uniform(1.0, 2.5))
    cap = min(400.0, 2600.0 / max(page_cd))
    cd = float(max(10.0, min(h_d, cap)))
    marks = 0.0 if layout == "single" else (0.5 if rng.random() < 0.45 else 0.0)
    # the camera's view: skew and tilt decided first, so that the writing is planned to fit the frame
    strong = rng.random() < 0.3
    P, tilt = _camera(rng, Wu, Hu, strong)
    skew = float(rng.normal(0, 3) if rng.random() < 0.45 else rng.uniform(-40, 40))
    theta = np.deg2rad(skew)
    room = 0.8 if strong else 0.9
    fw, fh = Wu / h_d * room, Hu / h_d * room
    c, s_ = abs(np.cos(theta)), abs(np.sin(theta))
    if s_ > 0.05:  # a turned block needs room along both axes
        fw = fh = min(fw, fh) / (c + s_)
    page = write_page(rng, ink, labels, surface, layout, pen_, cd, page_cd, marks, max_text=(fw, max(fh, 1.5)))
    ph_px, pw_px = page.alpha.shape

    # where the page lies on the desk
    k = h_d / cd
    tx0, ty0, tx1, ty1 = page.text_box
    m = 0.3 * cd
    text_quad = np.array([[tx0 - m, ty0 - m], [tx1 + m, ty0 - m], [tx1 + m, ty1 + m], [tx0 - m, ty1 + m]])
    centre = ((tx0 + tx1) / 2, (ty0 + ty1) / 2)
    spread = 0.4 if rng.random() < 0.35 else 0.15  # sometimes the page hangs out of the frame
    at = np.array([Wu * (0.5 + rng.uniform(-spread, spread)), Hu * (0.5 + rng.uniform(-spread, spread))])
    margin = 0.02 * short + 2
    for _ in range(40):
        S = _similarity(k, theta, centre, tuple(at))
        quad = _project(P @ S, text_quad)
        bw, bh = np.ptp(quad[:, 0]), np.ptp(quad[:, 1])
        if bw > Wu - 2 * margin or bh > Hu - 2 * margin:
            k *= 0.97 * min((Wu - 2 * margin) / bw, (Hu - 2 * margin) / bh, 1.0)
            continue
        dx = max(0.0, margin - quad[:, 0].min()) - max(0.0, quad[:, 0].max() - (Wu - margin))
        dy = max(0.0, margin - quad[:, 1].min()) - max(0.0, quad[:, 1].max() - (Hu - margin))
        if dx == 0 and dy == 0:
            break
        at += (dx * 1.05, dy * 1.05)
    Hpage = P @ S
    plane_page = _project(S, _corners(pw_px, ph_px))
    page_w_plane = k * pw_px
    cm = page_w_plane / phys_w  # plane units per centimetre

    # the desk and what lies on it, drawn in order, each with a shadow
    desk_name = _choice(rng, DESKS, _DESK_P)
    if kind == "keyboard" and desk_name in ("grass", "gravel", "brick"):
        desk_name = "dark"
    img = desk(rng, Hu, Wu, desk_name)
    diag = float(np.hypot(Wu, Hu))
    light_dir = rng.uniform(0, 2 * np.pi)
    lift = rng.uniform(0.002, 0.01) * diag * max(0.3, min(1.5, page_w_plane / Wu))
    shadow_sigma = lift * rng.uniform(0.8, 2.0)
    shadow_strength = rng.uniform(0.25, 0.6)
    shift = (lift * np.cos(light_dir), lift * np.sin(light_dir))
    layers: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []  # img, alpha, canvas->plane, shadow gain
    extras: list[str] = []
    if kind == "stack" or (kind in ("sheet", "note") and rng.random() < 0.15):
        pad = surface == "note" and rng.random() < 0.5
        n = int(rng.integers(1, 4))
        res = min(1.0, 700 / max(pw_px, ph_px))
        for i in range(n):
            sw, sh = max(8, round(pw_px * res)), max(8, round(ph_px * res))
            im, al = blank_sheet(rng, sw, sh, note=surface == "note")
            if pad:  # a pad of notes: the same note a hair lower each sheet
                off = np.array([0.0, (i + 1) * 0.004 * ph_px * k])
                rot = 0.0
            else:
                off = rng.uniform(-0.25, 0.25, 2) * np.array([pw_px, ph_px]) * k
                rot = np.deg2rad(rng.normal(0, 12))
            Ssheet = _similarity(k / res, theta + rot, (sw / 2, sh / 2), tuple(plane_page.mean(axis=0) + off))
            layers.insert(0, (im, al, Ssheet, 0.6 if pad else 1.0))
        extras.append("pad" if pad else "stack")
    if kind == "keyboard" or (kind in ("sheet", "note") and rng.random() < 0.12):
        kb_w = 45 * cm * rng.uniform(0.85, 1.1)
        kw_px = int(min(2000, max(300, kb_w)))
        kim, kal = keyboard(rng, kw_px)
        # beside the page, off one of its sides, sometimes partly under it
        side = rng.uniform(0, 2 * np.pi)
        reach = 0.5 * np.hypot(page_w_plane, k * ph_px) + 0.3 * kb_w * rng.uniform(0.4, 1.2)
        pos = plane_page.mean(axis=0) + reach * np.array([np.cos(side), np.sin(side)])
        Skb = _similarity(
            kb_w / kw_px, theta + np.deg2rad(rng.normal(0, 15)), (kw_px / 2, kim.shape[0] / 2), tuple(pos)
        )
        layers.append((kim, kal, Skb, 1.3))
        extras.append("keyboard")
    layers.append((page.image, page.alpha, S, 1.0))
    if kind != "closeup" and rng.random() < 0.3:
        length = 14 * cm * rng.uniform(0.9, 1.1)
        pim, pal = pen_object(rng, int(min(1500, max(40, length))))
        for _ in range(6):  # lay the pen where it covers no writing
            pos = plane_page.mean(axis=0) + rng.uniform(-0.8, 0.8, 2) * np.array([page_w_plane, k * ph_px])
            Spen = _similarity(
                length / pim.shape[1], rng.uniform(0, np.pi), (pim.shape[1] / 2, pim.shape[0] / 2), tuple(pos)
            )
            pen_q = _project(Spen, _corners(pim.shape[1], pim.shape[0]))
            text_plane = _project(S, text_quad)
            inter, _ = cv2.intersectConvexConvex(pen_q.astype(np.float32), text_plane.astype(np.float32))
            if inter <= 0:
                layers.append((pim, pal, Spen, 1.5))
                extras.append("pen")
                break
    shade = np.ones((Hu, Wu), np.float32)  # light left by the shadows on what is seen (one channel: cheaper)
    for lim, lal, Sl, gain in layers:
        wimg, wal = _warp(lim.astype(np.float32), lal.astype(np.float32), P @ Sl, (Wu, Hu))
        shade *= 1 - shadow_strength * min(1.0, gain) * _soft(wal, shift, shadow_sigma * gain)
        np.subtract(wimg, img, out=wimg)  # in place: big frames make fresh arrays slow
        wimg *= wal[:, :, None]
        img += wimg
        del wimg
        shade += (1 - shade) * wal  # a layer is not in its own shadow

    # light: a lamp gradient, vignette, a cast shadow, colour temperature and exposure
    q = max(1.0, max(Wu, Hu) / 400)
    lw, lh = max(2, round(Wu / q)), max(2, round(Hu / q))
    yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    light = 1 - rng.uniform(0, 0.35) * (0.5 + 0.5 * ((xx / lw - 0.5) * np.cos(ang) + (yy / lh - 0.5) * np.sin(ang)))
    light *= 1 - rng.uniform(0, 0.35) * ((xx / lw - 0.5) ** 2 + (yy / lh - 0.5) ** 2) * 2
    if rng.random() < 0.3:  # the shadow of a hand or phone
        cast: np.ndarray = np.zeros((lh, lw), np.float32)
        pts = np.array([[rng.uniform(-0.3, 1.3) * lw, rng.uniform(-0.3, 1.3) * lh] for _ in range(5)], np.int32)
        cv2.fillConvexPoly(cast, cv2.convexHull(pts), 1.0)
        cast = cv2.GaussianBlur(cast, (0, 0), lw * rng.uniform(0.02, 0.08))
        light *= 1 - rng.uniform(0.2, 0.5) * cast
    exposure = rng.uniform(0.45, 0.7) if rng.random() < 0.15 else rng.uniform(0.8, 1.1)
    tint = _choice(rng, [(1.0, 1.0, 1.0), (0.86, 0.95, 1.04), (1.05, 1.0, 0.94), (1.0, 1.02, 0.97)])
    light = cv2.resize(light, (Wu, Hu), interpolation=cv2.INTER_LINEAR) * np.float32(exposure) * shade
    img *= light[:, :, None]
    img *= np.array(tint, np.float32)
    if rng.random() < 0.1:  # glare on the page
        gx, gy = _project(Hpage, [[pw_px * rng.uniform(0.2, 0.8), ph_px * rng.uniform(0.2, 0.8)]])[0]
        r = rng.uniform(0.05, 0.2) * short / q
        yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
        glare = np.exp(-((xx - gx / q) ** 2 + (yy - gy / q) ** 2) / (2 * r * r)) * rng.uniform(15, 40)
        img += cv2.resize(glare, (Wu, Hu), interpolation=cv2.INTER_LINEAR)[:, :, None]

    # camera: focus, shake, then the stored orientation, sensor noise and JPEG
    res_scale = max(1.0, short / 720)
    legible = 0.1 * k * cd  # no focus blur or shake that makes the digits illegible to a person
    sigma = min(rng.uniform(0.0, 1.1) * res_scale, legible)
    if sigma > 0.35:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if rng.random() < 0.1:
        L = max(3, int(min(rng.uniform(2, 6) * res_scale, 2.5 * legible))) | 1
        kern: np.ndarray = np.zeros((L, L), np.float32)
        kern[L // 2] = 1.0 / L
        Rm = cv2.getRotationMatrix2D((L / 2 - 0.5, L / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kern = cv2.warpAffine(kern, Rm, (L, L))
        img = cv2.filter2D(img, -1, kern / max(kern.sum(), 1e-6))
    noise = rng.uniform(1.0, 5.0) * (1.6 if exposure < 0.75 else 1.0)
    luma = rng.standard_normal(img.shape[:2], dtype=np.float32) * np.float32(noise)
    img += luma[:, :, None]
    img = turn(np.clip(img, 0, 255, out=img).astype(np.uint8), orientation)
    _ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 96))])
    decoded = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    if decoded is None:  # cannot happen to a buffer imencode has just written
        raise RuntimeError("synth: the scene's JPEG could not be decoded")
    img = decoded

    # truth: boxes of the ink seen through the camera, in the stored image
    boxes, labs, segs, heights = [], [], [], []
    seg_of: dict[tuple[int, int], int] = {}
    for d in page.digits:
        p = _project(Hpage, d.points)
        x0, y0 = np.floor(p.min(axis=0) - 0.5)
        x1, y1 = np.ceil(p.max(axis=0) + 0.5)
        x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(Wu, int(x1)), min(Hu, int(y1))
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        heights.append(float(np.ptp(_rotate_points(p, -theta)[:, 1])) + 1)
        boxes.append(_box_to_stored((x0, y0, x1 - x0, y1 - y0), orientation, Wu, Hu))
        labs.append(d.label)
        segs.append(seg_of.setdefault((d.row, d.block), len(seg_of)))
    text = " ".join("".join(str(labs[j]) for j in range(len(labs)) if segs[j] == s) for s in range(len(seg_of)))
    poly_up = _project(Hpage, _corners(pw_px, ph_px))
    poly = _pts_to_stored(poly_up, orientation, Wu, Hu)
    frame_poly = _corners(Ws, Hs).astype(np.float32)
    _area, seen = cv2.intersectConvexConvex(poly.astype(np.float32), frame_poly)
    # an empty intersection can come back as None, which OpenCV's stubs do not say
    visible = typing.cast("np.ndarray | None", seen)
    meta = {
        "family": "real",
        "kind": kind,
        "layout": layout,
        "orientation": orientation,
        "skew": round(skew, 2),
        "tilt": [round(tilt[0], 1), round(tilt[1], 1)],
        "pen": pen_.name,
        "desk": desk_name,
        "surface": page.surface,
        "paper": page.colour,
        "frame": [Ws, Hs],
        "digit_height": round(float(np.median(heights)), 1) if heights else 0.0,
        "scale": round(float(np.median(heights)) / min(Ws, Hs), 4) if heights else 0.0,  # of the frame's height
        "marks": page.marks,
        "extras": extras,
        "cut": bool((poly < 0).any() or (poly[:, 0] > Ws).any() or (poly[:, 1] > Hs).any()),
        "polygon": [[round(float(x), 1), round(float(y), 1)] for x, y in poly],
        "polygon_visible": [[round(float(x), 1), round(float(y), 1)] for x, y in visible.reshape(-1, 2)]
        if visible is not None
        else [],
        **page.meta,
    }
    return Scene(img, text, labs, boxes, segs, kind, layout, meta)


def _rotate_points(p: np.ndarray, theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return p @ np.array([[c, s], [-s, c]])


# ---------------------------------------------------------------- sets


def schedule(i: int) -> tuple[str, int]:
    """Scene i's kind and orientation: every kind in every orientation, one big frame in 20."""
    if i % 20 == 19:
        return "bigframe", ORIENTATIONS[(i // 20) % 4]
    j = i - i // 20
    kinds = [k for k in REAL_KINDS if k != "bigframe"]
    return kinds[j % len(kinds)], ORIENTATIONS[j % 4]


def generate_real(
    count: int,
    images: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    kinds: tuple[str, ...] | None = None,
    pens: tuple[str, ...] | None = None,
    frame: tuple[int, int] | None = None,
) -> list[Scene]:
    """`count` real-photo scenes. Scene i depends only on (seed, i), whatever the count.

    Kinds and orientations follow `schedule` (or cycle through `kinds` when given); pens
    cycle through `pens` (default: every pen in turn).
    """
    return list(iter_real(count, images, labels, seed, kinds, pens, frame))


def iter_real(
    count: int,
    images: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    kinds: tuple[str, ...] | None = None,
    pens: tuple[str, ...] | None = None,
    frame: tuple[int, int] | None = None,
) -> Iterator[Scene]:
    """Like generate_real, one scene at a time (big frames are not all kept in memory)."""
    ink = DigitInk(images)
    for i in range(count):
        yield real_scene(i, images, labels, seed, kinds, pens, frame, ink)


def real_scene(
    i: int,
    images: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    kinds: tuple[str, ...] | None = None,
    pens: tuple[str, ...] | None = None,
    frame: tuple[int, int] | None = None,
    ink: DigitInk | None = None,
) -> Scene:
    """Scene i of iter_real(..., seed, kinds, pens, frame), made on its own (for worker pools)."""
    pens = pens or PENS
    kind, orient = schedule(i)
    if kinds:
        kind, orient = kinds[i % len(kinds)], ORIENTATIONS[(i // len(kinds)) % 4]
    rng = np.random.default_rng([seed, i])
    return make_real_scene(rng, images, labels, kind, None, orient, pens[i % len(pens)], frame, ink)


# ---------------------------------------------------------------- targeted cases


def make_canvas_scene(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    count: int | None = None,
    brush: float | None = None,
    dark: bool | None = None,
    frame: tuple[int, int] | None = None,
    ink: DigitInk | None = None,
) -> Scene:
    """Digits drawn on screen: one widely spaced line on a wide canvas, with a brush of fixed pixel width.

    A mouse or stylus draws with the same thin line (1-4 px) whatever the digit's size, so
    a digit filling a strip's height is traced by strokes far thinner than a pen's on
    paper: its ink is sparse in its box and its straight strokes (a 7's bar, a 4's stem)
    are long thin lines, as printed rules are.  No camera: the canvas is stored as is
    (PNG), dark ink on a light canvas or a white brush on black.
    """
    ink = ink or DigitInk(images)
    count = int(count if count is not None else rng.integers(1, 8))
    W, H = frame or (int(rng.integers(600, 1100)), int(rng.integers(180, 460)))
    brush = float(brush if brush is not None else rng.uniform(1.2, 4.0))
    dark = bool(dark if dark is not None else rng.random() < 0.25)
    paper = float(rng.uniform(225, 255))
    stroke = float(rng.uniform(0, 90))
    h_d = float(rng.uniform(0.4, 0.75) * H)
    picks = rng.integers(0, len(labels), count)

    def traced(index: int, height: float) -> np.ndarray:  # a steady line: no pressure, no grain
        dist, ink_h = ink.centre_distance(index)
        s = height / ink_h
        d = cv2.resize(dist, (max(3, round(dist.shape[1] * s)), max(3, round(dist.shape[0] * s)))) * s
        centre = _thin(d <= max(1.0, s))  # the centre line at this size, one pixel wide
        to_line = cv2.distanceTransform((1 - centre).astype(np.uint8), cv2.DIST_L2, 5)
        return np.clip(brush / 2 + 0.5 - to_line, 0, 1).astype(np.float32)

    alphas = [traced(int(i), h_d * rng.uniform(0.85, 1.1)) for i in picks]
    need = sum(a.shape[1] for a in alphas)
    gap = max(4.0, min(0.6 * h_d, (W * 0.9 - need) / max(count, 1)))
    canvas = np.zeros((H, W), np.float32)
    x = float(rng.uniform(0.02, 0.08) * W)
    boxes, labs = [], []
    for i, a in zip(picks, alphas, strict=True):
        ah, aw = a.shape
        if x + aw > W - 2:
            break
        y = int(np.clip((H - ah) / 2 + rng.normal(0, 0.05 * H), 1, max(1, H - ah - 1)))
        x0 = int(x)
        canvas[y : y + ah, x0 : x0 + aw] = np.maximum(canvas[y : y + ah, x0 : x0 + aw], a[: H - y, : W - x0])
        ys, xs = np.nonzero(a > 0.25)
        boxes.append((x0 + int(xs.min()), y + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1))
        labs.append(int(labels[i]))
        x += aw + gap * rng.uniform(0.7, 1.3)
    fg, bg = (255.0 - paper, paper) if dark else (stroke, paper)
    grey = bg + (fg - bg) * canvas
    img = cv2.cvtColor(np.clip(grey, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    text = "".join(map(str, labs))
    meta = {"family": "canvas", "brush": round(brush, 2), "dark": dark, "frame": [W, H], "digit_height": round(h_d, 1)}
    return Scene(img, text, labs, boxes, [0] * len(labs), "canvas", "line", meta)


def make_lit_page_scene(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    frame: tuple[int, int] = (960, 1280),
    ink: DigitInk | None = None,
) -> Scene:
    """A few small digits near one corner of an otherwise empty page, lit unevenly by a lamp.

    The page fills the frame (no desk to tell paper from background) and the light falls
    off across it by a third or more, so a bright patch around the writing is brighter
    than most of the page: a polarity cue that measures marks against the page's median
    takes the lit paper for light marks on dark.  Digits are 2-5 % of the frame's height.
    """
    ink = ink or DigitInk(images)
    W, H = frame
    pen = make_pen(rng, str(_choice(rng, ("ballpoint", "pale-ballpoint", "gel"))))
    h_d = float(rng.uniform(0.02, 0.05) * H)
    page = np.zeros((H, W), np.float32)
    boxes, labs, segs = [], [], []
    y = float(rng.uniform(0.05, 0.15) * H)
    for row in range(int(rng.integers(1, 3))):
        x = float(rng.uniform(0.05, 0.15) * W)
        for i in rng.integers(0, len(labels), int(rng.integers(1, 6))):
            a = ink.render(int(i), h_d, pen, rng)
            ah, aw = a.shape
            x0, y0 = int(x), int(y + rng.normal(0, 0.05 * h_d))
            page[y0 : y0 + ah, x0 : x0 + aw] = np.maximum(page[y0 : y0 + ah, x0 : x0 + aw], a)
            ys, xs = np.nonzero(a > 0.25)
            boxes.append((x0 + int(xs.min()), y0 + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1))
            labs.append(int(labels[i]))
            segs.append(row)
            x += aw + h_d * rng.uniform(0.1, 0.8)
        y += h_d * rng.uniform(1.8, 3.0)
    # the lamp: brightest near the writing, falling off smoothly towards the far corner
    cx, cy = rng.uniform(0.1, 0.35) * W, rng.uniform(0.1, 0.3) * H
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r = np.hypot(xx - cx, yy - cy) / np.hypot(W, H)
    reach, power = float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.6, 1.2))
    light = 1.0 - float(rng.uniform(0.3, 0.5)) * np.clip(r / reach, 0, 1) ** power
    paper = np.array([rng.uniform(215, 245)] * 3, np.float32) * np.array([1.0, 1.0, rng.uniform(0.95, 1.02)])
    colour = np.array(pen.colour, np.float32)
    img = paper[None, None, :] * (1 - page[:, :, None]) + colour[None, None, :] * page[:, :, None]
    img = img * light[:, :, None] + rng.standard_normal((H, W, 1)).astype(np.float32) * 2.0
    img = np.clip(img, 0, 255).astype(np.uint8)
    text = " ".join("".join(str(labs[j]) for j in range(len(labs)) if segs[j] == s) for s in sorted(set(segs)))
    meta = {"family": "lit-page", "pen": pen.name, "frame": [W, H], "digit_height": round(h_d, 1)}
    return Scene(img, text, labs, boxes, segs, "lit-page", "lines", meta)


def make_form_strip_scene(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    ink: DigitInk | None = None,
) -> Scene:
    """A strip cut from a form: a row of printed boxes, the first few holding one digit each.

    Cropped tight around the row, the strip is about one box tall, so its printed lines
    are thick against its height (2-4 %) though thin against its length; the empty boxes'
    walls are upright strokes as tall as a digit, which a reader must not take for 1s.
    """
    ink = ink or DigitInk(images)
    boxes_n = int(rng.integers(5, 11))
    cell = int(rng.integers(60, 160))
    line = max(2, round(cell * rng.uniform(0.02, 0.05)))
    pad = int(cell * rng.uniform(0.1, 0.4))
    W, H = boxes_n * cell + 2 * pad, cell + 2 * pad
    page = np.zeros((H, W), np.float32)
    for j in range(boxes_n + 1):
        cv2.line(page, (pad + j * cell, pad), (pad + j * cell, pad + cell), 1.0, line)
    for y in (pad, pad + cell):
        cv2.line(page, (pad, y), (pad + boxes_n * cell, y), 1.0, line)
    pen = make_pen(rng, str(_choice(rng, ("ballpoint", "gel", "felt-pen"))))
    filled = int(rng.integers(1, boxes_n - 1))
    digits = np.zeros((H, W), np.float32)
    boxes, labs = [], []
    for j, i in enumerate(rng.integers(0, len(labels), filled)):
        a = ink.render(int(i), cell * rng.uniform(0.45, 0.7), pen, rng)
        ah, aw = a.shape
        x0 = pad + j * cell + max(line, (cell - aw) // 2 + int(rng.integers(-cell // 10, cell // 10 + 1)))
        y0 = pad + max(line, (cell - ah) // 2 + int(rng.integers(-cell // 10, cell // 10 + 1)))
        ah, aw = min(ah, H - y0), min(aw, W - x0)
        digits[y0 : y0 + ah, x0 : x0 + aw] = np.maximum(digits[y0 : y0 + ah, x0 : x0 + aw], a[:ah, :aw])
        ys, xs = np.nonzero(a[:ah, :aw] > 0.25)
        boxes.append((x0 + int(xs.min()), y0 + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1))
        labs.append(int(labels[i]))
    paper = float(rng.uniform(225, 252))
    grey = paper * (1 - 0.85 * page)
    img = np.repeat(grey[:, :, None], 3, axis=2)
    colour = np.array(pen.colour, np.float32)
    img = img * (1 - digits[:, :, None]) + colour[None, None, :] * digits[:, :, None]
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), float(rng.uniform(0.3, 1.0)))
    img = img + rng.standard_normal((H, W, 1)).astype(np.float32) * 2.0
    _ok, enc = cv2.imencode(".jpg", np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
    decoded = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    if decoded is None:  # cannot happen to a buffer imencode has just written
        raise RuntimeError("synth: the strip's JPEG could not be decoded")
    text = "".join(map(str, labs))
    meta = {"family": "form-strip", "boxes": boxes_n, "line": line, "frame": [W, H], "pen": pen.name}
    return Scene(decoded, text, labs, boxes, [0] * len(labs), "form-strip", "line", meta)


def make_touching_pair_scene(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    ink: DigitInk | None = None,
    overlap: tuple[float, float] = (0.02, 0.15),
) -> Scene:
    """Two digits written so close that they touch or overlap (a year, a price, a date).

    Fused, the pair is one piece about as wide as it is tall, no wider than a broad 0 or
    4 alone, so its width says nothing: only the recogniser, asked about the whole and
    about the two halves, can tell a pair from a digit.  `overlap`: how far (in digit
    heights) the second digit reaches into the first; from about 0.2 a stroke of one lies
    over the other (a 5's bar over a 1, a 2's tail under a 0) and no straight cut parts them.
    """
    ink = ink or DigitInk(images)
    pen = make_pen(rng, str(_choice(rng, ("ballpoint", "gel", "felt-pen"))))
    height = float(rng.uniform(40, 110))
    idx = rng.integers(0, len(labels), 2)
    glyphs = []
    for i in idx:
        a = ink.render(int(i), height, pen, rng)
        xs = np.nonzero(a.max(axis=0) > 0.05)[0]
        glyphs.append(a[:, xs.min() : xs.max() + 1])
    reach = rng.uniform(*overlap) * height  # how far the second digit reaches into the first
    pad = int(height * 0.8)
    W = int(pad * 2 + glyphs[0].shape[1] + glyphs[1].shape[1])
    H = int(pad * 2 + max(g.shape[0] for g in glyphs))
    alpha = np.zeros((H, W), np.float32)
    x = pad
    boxes = []
    for g in glyphs:
        gh, gw = g.shape
        alpha[pad : pad + gh, x : x + gw] = np.maximum(alpha[pad : pad + gh, x : x + gw], g)
        ys, xs = np.nonzero(g > 0.25)
        boxes.append((x + int(xs.min()), pad + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1))
        x += gw - int(reach)
    paper = float(rng.uniform(215, 250))
    colour = np.array(pen.colour, np.float32)
    laid = paper * (1 - alpha[:, :, None]) + colour[None, None, :] * alpha[:, :, None]
    blurred = cv2.GaussianBlur(laid.astype(np.float32), (0, 0), float(rng.uniform(0.3, 0.9)))
    img = blurred + rng.standard_normal((H, W, 1)).astype(np.float32) * 2.0
    labs = [int(labels[i]) for i in idx]
    text = "".join(map(str, labs))
    meta = {"family": "touching-pair", "overlap": round(float(reach / height), 3), "pen": pen.name}
    return Scene(np.clip(img, 0, 255).astype(np.uint8), text, labs, boxes, [0, 0], "touching-pair", "line", meta)

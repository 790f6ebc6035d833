"""What the photo, batch and webcam commands share: reader options, drawing, saving."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from digitlens.inference.reader import DEFAULT_CONF, Reader, Reading
from digitlens.preprocess.config import THRESHOLD_METHODS, PreprocessConfig


def add_reader_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="ONNX model file (default: the shipped digitnet model)")
    p.add_argument(
        "--conf",
        type=float,
        default=DEFAULT_CONF,
        help=f"minimum confidence for a digit to enter the text (default: {DEFAULT_CONF})",
    )
    p.add_argument(
        "--threshold",
        choices=THRESHOLD_METHODS,
        default="otsu",
        help="threshold method (default: otsu on the flattened image)",
    )
    pol = p.add_mutually_exclusive_group()
    pol.add_argument(
        "--invert", dest="invert", action="store_true", default=None, help="dark ink on light paper (default: detect)"
    )
    pol.add_argument(
        "--no-invert", dest="invert", action="store_false", help="light ink on a dark board (default: detect)"
    )
    p.add_argument("--deskew", action="store_true", help="straighten slanted digits by moments (default: off)")
    p.add_argument(
        "--max-side",
        type=int,
        default=PreprocessConfig.max_side,
        help=f"shrink larger images to this long side first (default: {PreprocessConfig.max_side})",
    )


def config_from_args(args: argparse.Namespace) -> PreprocessConfig:
    return PreprocessConfig(threshold=args.threshold, invert=args.invert, deskew=args.deskew, max_side=args.max_side)


def build_reader(args: argparse.Namespace, threads: int | None = None) -> Reader:
    return Reader(args.model, config=config_from_args(args), conf=args.conf, threads=threads)


def annotate(image: np.ndarray, reading: Reading, fps: float | None = None) -> np.ndarray:
    """A BGR copy of the image with boxes, digits and confidences drawn on it."""
    from digitlens.preprocess.image import to_bgr8

    out = to_bgr8(image).copy()
    h, w = out.shape[:2]
    scale = max(0.4, min(w, h) / 800)
    thick = max(1, round(scale * 2))
    for d in reading.rejected:
        x, y, bw, bh = d.box
        cv2.rectangle(out, (x, y), (x + bw, y + bh), (128, 128, 128), max(1, thick // 2))
    for d in reading.digits:
        x, y, bw, bh = d.box
        cv2.rectangle(out, (x, y), (x + bw, y + bh), (0, 200, 0), thick)
        label = f"{d.label} {d.confidence:.2f}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y - 4 if y - th - 6 > 0 else y + bh + th + 4
        cv2.rectangle(out, (x, ty - th - 3), (x + tw + 2, ty + 3), (0, 200, 0), -1)
        cv2.putText(out, label, (x + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    banner = reading.text or "(no digits)"
    if fps is not None:
        banner = f"{banner}   {fps:.1f} FPS"
    cv2.rectangle(out, (0, 0), (min(w, int(20 + 18 * scale * len(banner))), int(36 * scale) + 8), (0, 0, 0), -1)
    cv2.putText(
        out, banner, (8, int(28 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 255, 255), thick, cv2.LINE_AA
    )
    return out


def safe_stem(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """A file name derived from an input path that cannot escape the output folder."""
    p = Path(path)
    try:
        rel = p.resolve().relative_to(Path(root).resolve()) if root else Path(p.name)
    except ValueError:
        rel = Path(p.name)
    parts = [part for part in rel.with_suffix("").parts if part not in ("", ".", "..", "/")]
    stem = "__".join(parts) or "image"
    return "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in stem).lstrip(".") or "image"


def write_image(path: Path, image: np.ndarray) -> None:
    """cv2.imwrite that raises instead of returning False (full disk, bad folder, bad suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix or ".png"
    ok, buf = cv2.imencode(ext, image)
    if not ok:
        raise OSError(f"cannot encode an image as {ext}")
    with open(path, "wb") as f:
        f.write(buf.tobytes())


def have_display() -> bool:
    if os.name == "nt" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return True
    import sys

    return sys.platform == "darwin"

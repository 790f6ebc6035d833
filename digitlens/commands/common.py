"""What the photo, batch and webcam commands share: reader options, result rows, drawing, saving."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from digitlens.inference.reader import DEFAULT_CONF, Reader, Reading, keep_freed_memory
from digitlens.preprocess.config import THRESHOLD_METHODS, PreprocessConfig
from digitlens.preprocess.load import MAX_PIXELS, PIXELS_ENV, display_name, set_pixel_limit

#: --ink choices -> PreprocessConfig.invert (True: the pipeline inverts dark ink on light paper)
INK = {"auto": None, "dark": True, "light": False}


def add_reader_arguments(p: argparse.ArgumentParser, rotate: str = "auto") -> None:
    p.add_argument(
        "--rotate",
        choices=("auto", "0", "90", "180", "270"),
        default=rotate,
        help=f"degrees to turn the image clockwise before reading; auto: find which way up it is (default: {rotate})",
    )
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
    ink = p.add_mutually_exclusive_group()
    ink.add_argument(
        "--ink",
        choices=tuple(INK),
        default="auto",
        help="dark: dark ink on light paper; light: light chalk or ink on a dark board; auto: detect (default: auto)",
    )
    # deprecated spellings, kept working but out of the help: --invert meant dark ink, --no-invert light
    ink.add_argument("--invert", dest="ink", action="store_const", const="dark", help=argparse.SUPPRESS)
    ink.add_argument("--no-invert", dest="ink", action="store_const", const="light", help=argparse.SUPPRESS)
    p.add_argument("--deskew", action="store_true", help="straighten slanted digits by moments (default: off)")
    p.add_argument(
        "--max-side",
        type=int,
        default=PreprocessConfig.max_side,
        help=f"shrink larger images to this long side first (default: {PreprocessConfig.max_side})",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help=f"refuse images of more pixels than this, read from the header before decoding "
        f"(default: ${PIXELS_ENV} or {MAX_PIXELS})",
    )


def config_from_args(args: argparse.Namespace) -> PreprocessConfig:
    return PreprocessConfig(threshold=args.threshold, invert=INK[args.ink], deskew=args.deskew, max_side=args.max_side)


def build_reader(args: argparse.Namespace, threads: int | None = None) -> Reader:
    """The reader the options describe; also sets this process's pixel limit from --max-pixels."""
    if args.max_pixels is not None:
        if args.max_pixels < 1:
            raise ValueError(f"--max-pixels must be at least 1, got {args.max_pixels}")
        set_pixel_limit(args.max_pixels)
    rotate = getattr(args, "rotate", "auto")
    keep_freed_memory()  # this process is ours: reuse freed image memory (see the function)
    return Reader(
        args.model,
        config=config_from_args(args),
        conf=args.conf,
        threads=threads,
        rotate=rotate if rotate == "auto" else int(rotate),
    )


def one_line(error: BaseException | str) -> str:
    """An exception or message as one printable line."""
    text = str(error).strip()
    if isinstance(error, BaseException) and not text:
        text = type(error).__name__
    return display_name(text.splitlines()[0] if text else "error")


def result_row(path: str | os.PathLike, outcome: Reading | BaseException | str) -> dict:
    """The one row format of `photo --json` and `batch` (every engine): a reading or an error.

    An error row has an empty text and no digits; `file` is printable even when the
    name is not valid UTF-8 (such bytes appear as \\xNN).
    """
    row: dict[str, Any] = {
        "file": display_name(path),
        "text": "",
        "digits": [],
        "rejected": [],
        "rotation": 0,
        "surface": None,
        "error": None,
    }
    if isinstance(outcome, Reading):
        row.update(outcome.to_dict())
    else:
        row["error"] = one_line(outcome)
    return row


def annotated_names(paths: list[str]) -> dict[str, str]:
    """Input path -> a unique file name for its annotated copy.

    The name keeps the path below the inputs' common folder (`a/1.jpg` -> `a__1`), so
    inputs with the same stem in different folders never overwrite each other; names
    that still collide (`1.jpg`, `1.png`) get `-2`, `-3` in input order.
    """
    real = [os.path.realpath(p) for p in paths]
    try:
        root = os.path.commonpath([os.path.dirname(r) for r in real]) if real else None
    except ValueError:  # different drives
        root = None
    names, taken = {}, set()
    for p in paths:
        stem = safe_stem(p, root)
        name, k = f"{stem}.annotated.png", 2
        while name in taken:
            name, k = f"{stem}-{k}.annotated.png", k + 1
        taken.add(name)
        names[p] = name
    return names


def check_output_folder(
    folder: str | os.PathLike, inputs: list[str], option: str, tree: str | os.PathLike | None = None
) -> Path:
    """Create and probe an output folder before any image is read.

    Refused: a folder that holds inputs, or one inside `tree` (a folder read recursively,
    whose next run would read the annotated copies as inputs).
    """
    d = Path(folder)
    real = os.path.realpath(d)
    if tree is not None:
        top = os.path.realpath(tree)
        if real == top or real.startswith(top.rstrip(os.sep) + os.sep):
            raise ValueError(f"{option} {display_name(d)} lies inside the folder being read; choose one outside it")
    for p in inputs:
        rp = os.path.realpath(p)
        if os.path.dirname(rp) == real or rp.startswith(real.rstrip(os.sep) + os.sep):
            raise ValueError(f"{option} {display_name(d)} holds the inputs; choose a folder of its own")
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=d, prefix=".digitlens-probe-"):
            pass
    except OSError as exc:
        raise ValueError(f"{option} {display_name(d)}: cannot write there ({exc.strerror or exc})") from None
    return d


def refuse_overwriting_inputs(outputs: list[str | os.PathLike], inputs: list[str], option: str) -> None:
    """No output may replace an input (compared as resolved paths)."""
    real_inputs = {os.path.realpath(p) for p in inputs if p != "-"}
    for out in outputs:
        if os.path.realpath(out) in real_inputs:
            raise ValueError(f"{option} {display_name(out)} is one of the inputs; refusing to overwrite it")


def annotate(image: np.ndarray, reading: Reading, fps: float | None = None) -> np.ndarray:
    """A BGR copy of the image with boxes, digits and confidences drawn on it."""
    from digitlens.preprocess.image import to_bgr8

    out = to_bgr8(image).copy()
    h, w = out.shape[:2]
    scale = max(0.4, min(w, h) / 800)
    thick = max(1, round(scale * 2))
    if reading.surface is not None:  # the sheet or board the digits were read on
        cv2.polylines(out, [np.round(reading.surface).astype(np.int32)], True, (255, 160, 0), thick)
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

"""Believable photos of handwritten numbers, composed from MNIST digits, with their truth.

Used to measure the photo pipeline end to end (recall, precision, character error rate)
without a camera, and to make training scenes. Two families of scenes:

- classic (`digitlens.synth.classic`): one surface filling the frame, the scenes the
  pipeline was first tuned on;
- real (`digitlens.synth.scenes`): the scenes people photograph: sheets and sticky notes
  lying on desks and keyboards, partly out of frame, turned, skewed, tiny or huge, in
  pencil or pale ballpoint, with operators and letters between the digits.

Evaluation scenes use MNIST test digits, training scenes MNIST train digits (`--split`).

    digitlens synth --count 20 --out samples/generated --data-dir ../shared/data/mnist
    digitlens synth --scenes real --split train --count 200 --out runs/synth-train
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from digitlens.synth.classic import KINDS, LAYOUTS, Scene, generate, make_scene

__all__ = ["KINDS", "LAYOUTS", "Scene", "add_arguments", "generate", "make_scene", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=int, default=24, help="number of photos (default: 24)")
    p.add_argument("--out", default="runs/synth", help="output folder (default: runs/synth)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--size", default="640x480", help="photo size WxH of classic scenes (default: 640x480)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA or the user cache)")
    p.add_argument(
        "--split", choices=("train", "test"), default="test", help="MNIST digits to draw with (default: test)"
    )
    p.add_argument(
        "--scenes",
        choices=("classic", "real", "all"),
        default="classic",
        help="classic scenes, real-photo scenes, or both alternating (default: classic)",
    )


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size takes WxH such as 640x480, got {text!r}") from None
    if not (16 <= w <= 10000 and 16 <= h <= 10000):
        raise ValueError(f"--size must be between 16 and 10000 pixels a side, got {text!r}")
    return w, h


def run(args: argparse.Namespace) -> int:
    import sys

    from digitlens.export.data import DataError, load_split

    try:
        size = _parse_size(args.size)
        if args.count < 1:
            raise ValueError(f"--count must be at least 1, got {args.count}")
        digits = load_split(getattr(args, "split", "test"), args.data_dir)
    except (DataError, OSError, ValueError) as exc:
        print(f"digitlens synth: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, dict[str, object]] = {}
    for i, sc in enumerate(generate_mixed(args.count, digits.images, digits.labels, args.seed, size, args.scenes)):
        name = f"{i:03d}_{sc.kind}_{sc.layout}.jpg"
        cv2.imwrite(str(out / name), sc.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        truth[name] = {"text": sc.text, "boxes": [list(b) for b in sc.boxes], "labels": sc.labels, "lines": sc.lines}
        if sc.meta:
            truth[name]["meta"] = sc.meta
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    print(f"wrote {len(truth)} photos and truth.json to {out}/")
    return 0


def generate_mixed(
    count: int,
    images: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
    scenes: str = "classic",
) -> list[Scene]:
    """`count` scenes of the chosen family: 'classic', 'real' or 'all' (the two alternating)."""
    if scenes == "classic":
        return generate(count, images, labels, seed, size)
    from digitlens.synth.scenes import generate_real

    if scenes == "real":
        return generate_real(count, images, labels, seed)
    if scenes != "all":
        raise ValueError(f"scenes must be classic, real or all, got {scenes!r}")
    n_real = count // 2
    classic = generate(count - n_real, images, labels, seed, size)
    real = generate_real(n_real, images, labels, seed + 1)
    out: list[Scene] = []
    for i in range(count):
        out.append(classic[i // 2] if i % 2 == 0 else real[i // 2])
    return out

"""Real photos: read a labelled folder (real-dev by default) and print the figures.

    python benchmarks/real_eval.py [--data ../shared/data/real-dev] [--invariance] [--set name=value ...]

Prints CER, exact-string accuracy, precision and recall overall, per `kind` and per
layout (single, line, multi-line) from the folder's manifest, then the worst images.
`--invariance` also reads every photo that reads exactly as given, turned by 90, 180 and
270 degrees (pixels turned, no EXIF) and shown at half and double size, and prints the
share still read exactly: the issue's invariance target.  `--set` overrides
PreprocessConfig knobs (an ablation), `--rotate` fixes the orientation.

The folder is for measuring only: never train on it, never tune a constant on one image.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from read_eval import add_overrides  # benchmarks/ is on the path when this script runs

from digitlens.inference.recognizer import ModelError, Recognizer

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("turn90", "turn180", "turn270", "half", "double")


def edits(ref: str, hyp: str) -> tuple[int, int]:
    """Levenshtein distance and matched characters on one optimal path (as score_readings.py)."""
    prev = [(j, 0) for j in range(len(hyp) + 1)]
    for i, r in enumerate(ref, 1):
        cur = [(i, 0)]
        for j, h in enumerate(hyp, 1):
            sub = (prev[j - 1][0] + (r != h), prev[j - 1][1] + (r == h))
            cur.append(
                min(sub, (prev[j][0] + 1, prev[j][1]), (cur[j - 1][0] + 1, cur[j - 1][1]), key=lambda t: (t[0], -t[1]))
            )
        prev = cur
    return prev[-1]


def variant(image: np.ndarray, name: str) -> np.ndarray:
    if name.startswith("turn"):
        return np.ascontiguousarray(np.rot90(image, -int(name[4:]) // 90))
    scale = 0.5 if name == "half" else 2.0
    h, w = image.shape[:2]
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)


_reader = None


def _init(options: dict) -> None:
    global _reader
    from digitlens.inference.reader import Reader
    from digitlens.preprocess import PreprocessConfig

    cv2.setNumThreads(1)
    config = PreprocessConfig().with_(**options["set"])
    _reader = Reader(options["model"], config=config, threads=1, rotate=options["rotate"])


def _read(job: tuple[str, str]) -> tuple[str, str, str]:
    from digitlens.preprocess.load import load_image

    path, name = job
    image = load_image(path)
    if name != "asis":
        image = variant(image, name)
    assert _reader is not None
    return Path(path).name, name, _reader.read(image).text


def table(rows: list[tuple[str, str, str]], groups: dict[str, list[str]]) -> list[str]:
    acc: dict[str, list[int]] = defaultdict(lambda: [0] * 6)  # images exact true predicted edits matched
    for name, truth, text in rows:
        ref, hyp = truth.replace(" ", ""), text.replace(" ", "")
        d, m = edits(ref, hyp)
        for g in ["ALL", *groups.get(name, [])]:
            t = acc[g]
            t[0] += 1
            t[1] += " ".join(truth.split()) == " ".join(text.split())
            t[2] += len(ref)
            t[3] += len(hyp)
            t[4] += d
            t[5] += m
    out = [f"{'group':18s} {'images':>6s} {'digits':>6s} {'CER':>7s} {'exact':>7s} {'prec':>7s} {'recall':>7s}"]
    for g in ["ALL", *sorted(k for k in acc if k != "ALL")]:
        n, ex, tr, pr, d, m = acc[g]
        out.append(
            f"{g:18s} {n:6d} {tr:6d} {d / max(tr, 1):7.3f} {ex / n:7.3f} {m / max(pr, 1):7.3f} {m / max(tr, 1):7.3f}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data",
        default=str(ROOT.parent / "shared" / "data" / "real-dev"),
        help="labelled folder (default: %(default)s)",
    )
    p.add_argument("--workers", type=int, default=2, help="processes (default: %(default)s)")
    p.add_argument("--invariance", action="store_true", help="also read turned and rescaled copies")
    p.add_argument("--model", default=None, help="ONNX model or shipped name (default: the shipped digitnet)")
    p.add_argument("--rotate", default="auto", choices=("auto", "0", "90", "180", "270"), help="(default: %(default)s)")
    add_overrides(p)
    p.add_argument("--worst", type=int, default=8, help="worst images listed (default: %(default)s)")
    p.add_argument("--out", help="write the readings as JSON (file -> text)")
    args = p.parse_args(argv)

    data = Path(args.data)
    try:
        labels: dict[str, str] = json.loads((data / "labels.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"real_eval: cannot read {data / 'labels.json'}: {exc}", file=sys.stderr)
        return 2
    groups: dict[str, list[str]] = {}
    manifest = data / "manifest.csv"
    if manifest.exists():
        for r in csv.DictReader(manifest.open(encoding="utf-8")):
            layout = "single" if len(r["digits"]) == 1 else "multiline" if " " in r["digits"] else "line"
            for name in labels:
                if Path(name).stem == r["id"]:
                    groups[name] = [f"kind={r['kind']}", f"layout={layout}"]
    overrides = dict(args.set)
    try:
        Recognizer(args.model)
    except ModelError as exc:
        print(f"real_eval: {exc}", file=sys.stderr)
        return 2
    rotate: str | int = args.rotate if args.rotate == "auto" else int(args.rotate)
    options = {"set": overrides, "rotate": rotate, "model": args.model}

    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(options,)) as pool:
        jobs = [(str(data / name), "asis") for name in sorted(labels)]
        read = {name: text for name, _, text in pool.map(_read, jobs)}
        rows = [(name, labels[name], read[name]) for name in sorted(labels)]
        if args.out:
            Path(args.out).write_text(json.dumps(read, indent=1), encoding="utf-8")
        print("\n".join(table(rows, groups)))
        worst = sorted(((edits(t.replace(" ", ""), r.replace(" ", ""))[0], n, t, r) for n, t, r in rows), reverse=True)
        for d, n, t, r in worst[: args.worst]:
            if d:
                print(f"worst: {n} {d} edits  truth {t[:60]!r}  read {r[:60]!r}")
        if args.invariance:
            exact = [n for n, t, r in rows if " ".join(t.split()) == " ".join(r.split())]
            jobs = [(str(data / n), v) for n in exact for v in VARIANTS]
            got = defaultdict(list)
            lost = defaultdict(list)
            for name, v, text in pool.map(_read, jobs):
                same = " ".join(text.split()) == " ".join(labels[name].split())
                got[v].append(same)
                if not same:
                    lost[v].append(f"{name}={text[:24]!r}")
            print(f"invariance over the {len(exact)} photos read exactly as given:")
            for v in VARIANTS:
                gone = f"  lost: {' '.join(lost[v])}" if lost[v] else ""
                print(f"  {v:8s} {np.mean(got[v]):.3f} still exact{gone}")
            print(f"  {'all':8s} {np.mean([x for v in VARIANTS for x in got[v]]):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Score the photo pipeline on generated photos, and show what it gets wrong.

The tuning loop for issue 3: run it on a development seed (not 2024, which the tests and
BENCHMARKS.md use), look at the failures it lists or dumps, change one thing, run again.

    python benchmarks/read_eval.py --data-dir ../shared/data/mnist --seed 3
    python benchmarks/read_eval.py --seed 3 --set deskew=true --set threshold=adaptive
    python benchmarks/read_eval.py --seed 3 --model runs/noaug/digitnet.onnx --dump runs/fails

Each failure line says what kind of error it was: 'miss' (a true digit with no box),
'phantom' (a box on no digit) or 'label' (right box, wrong digit).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import fields
from pathlib import Path

import cv2

from digitlens.inference.reader import DEFAULT_CONF, Reader
from digitlens.inference.recognizer import ModelError
from digitlens.metrics import Tally, match_pairs
from digitlens.preprocess import PreprocessConfig, preprocess
from digitlens.preprocess.debug import write_debug
from digitlens.synth import generate


def add_overrides(p: argparse.ArgumentParser) -> None:
    """--set NAME=VALUE, repeatable: PreprocessConfig fields for this run."""
    p.add_argument(
        "--set",
        action="append",
        default=[],
        type=parse_override,
        metavar="NAME=VALUE",
        help="override one PreprocessConfig field; repeatable (default: none)",
    )


def parse_override(text: str) -> tuple[str, object]:
    """'name=value' -> (name, value typed like the config field)."""
    name, _, raw = text.partition("=")
    kinds = {f.name: f for f in fields(PreprocessConfig)}
    if name not in kinds:
        raise argparse.ArgumentTypeError(f"unknown setting {name!r}; known: {', '.join(kinds)}")
    default = getattr(PreprocessConfig(), name)
    if isinstance(default, bool) or default is None:
        value = {"true": True, "false": False, "none": None}.get(raw.lower(), "bad")
        if value == "bad":
            raise argparse.ArgumentTypeError(f"{name} takes true/false/none, got {raw!r}")
        return name, value
    try:
        return name, type(default)(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name} takes a {type(default).__name__}, got {raw!r}") from None


def errors(reading, scene) -> list[str]:
    """Per true digit: missed or mislabelled; per predicted box: phantom (matched as Tally matches)."""
    pairs = match_pairs([d.box for d in reading.digits], scene.boxes)
    out = []
    for i, digit in enumerate(reading.digits):
        if i not in pairs:
            out.append(f"phantom {digit.label}@{digit.box} conf {digit.confidence:.2f}")
        elif digit.label != scene.labels[pairs[i]]:
            j = pairs[i]
            out.append(f"label {scene.labels[j]}->{digit.label} conf {digit.confidence:.2f} h={scene.boxes[j][3]}")
    found = set(pairs.values())
    for j, t in enumerate(scene.boxes):
        if j not in found:
            rej = match_pairs([d.box for d in reading.rejected], [t])
            why = "".join(
                f" (rejected {reading.rejected[i].label} conf {reading.rejected[i].confidence:.2f})" for i in rej
            )
            out.append(f"miss {scene.labels[j]} h={t[3]}{why}")
    return out


def score(reader: Reader, scenes) -> Tally:
    """The overall tally of one reader over generated scenes."""
    total = Tally()
    for sc in scenes:
        rd = reader.read(sc.image)
        total.add(rd.text, [d.box for d in rd.digits], sc.text, sc.boxes)
    return total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA or the user cache)")
    p.add_argument("--n", type=int, default=300, help="photos (default: 300)")
    p.add_argument("--seed", type=int, default=3, help="generator seed; 2024 is the test set (default: 3)")
    p.add_argument("--model", default=None, help="ONNX model or shipped name (default: the shipped digitnet)")
    p.add_argument("--conf", type=float, default=DEFAULT_CONF, help=f"confidence threshold (default: {DEFAULT_CONF})")
    add_overrides(p)
    p.add_argument("--dump", default=None, help="write stages + crops of each failing photo here (default: off)")
    p.add_argument("--quiet", action="store_true", help="print only the table (default: list failures too)")
    args = p.parse_args(argv)

    from digitlens.export.data import DataError, load_split

    try:
        test = load_split("test", args.data_dir)
        reader = Reader(args.model, PreprocessConfig().with_(**dict(args.set)), conf=args.conf)
    except (DataError, ModelError, OSError, ValueError) as exc:
        print(f"read_eval: {exc}", file=sys.stderr)
        return 2
    total, by, kinds = Tally(), defaultdict(Tally), defaultdict(int)
    for i, sc in enumerate(generate(args.n, test.images, test.labels, seed=args.seed)):
        pre = preprocess(sc.image, reader.config, keep_stages=bool(args.dump))
        rd = reader.read_preprocessed(pre)
        for t in (total, by[sc.kind], by[sc.layout]):
            t.add(rd.text, [d.box for d in rd.digits], sc.text, sc.boxes)
        errs = errors(rd, sc)
        for e in errs:
            kinds[e.split()[0]] += 1
        if errs and not args.quiet:
            print(f"{i:3d} {sc.kind:10s} {sc.layout:6s} true {sc.text!r:14s} read {rd.text!r:14s} " + "; ".join(errs))
        if errs and args.dump:
            stem = f"{i:03d}_{sc.kind}_{sc.layout}"
            Path(args.dump).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(Path(args.dump) / f"{stem}.jpg"), sc.image)
            labels, confs, _ = reader.recognizer.classify(pre.crops)
            write_debug(
                args.dump, stem, pre.stages, pre.crops, [f"{a} {c:.2f}" for a, c in zip(labels, confs, strict=True)]
            )
    print(f"\n{'subset':12s} {'images':>6s} {'digits':>6s} {'recall':>7s} {'prec':>7s} {'CER':>6s} {'exact':>6s}")
    for name, t in [("all", total), *sorted(by.items())]:
        print(
            f"{name:12s} {t.images:6d} {t.true_digits:6d} {100 * t.recall:6.2f}% {100 * t.precision:6.2f}% "
            f"{100 * t.cer:5.2f}% {100 * t.exact_rate:5.1f}%"
        )
    print("errors by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

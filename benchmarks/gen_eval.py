"""Score the photo pipeline on generated real-photo scenes (issue 12's generated evaluation set).

Scenes from digitlens.synth.scenes, drawn with MNIST *test* digits: sheets, sticky notes and
notebook pages on desks, beside keyboards, stacked, partly out of frame, turned 0/90/180/270,
skewed up to 40 degrees, from 12 px digits in a 4000x3000 frame (one scene in 20) to one
digit filling the frame, in five pens, with operators and letters between the digits.
Scenes stay in memory unless --dump is given. Prints CER, exact-string rate, recall and
precision per kind, orientation, pen and layout, then the worst images.

    python benchmarks/gen_eval.py --data-dir ../shared/data/mnist --count 400 --seed 2026
    python benchmarks/gen_eval.py --count 40 --seed 5 --model runs/x/digitnet.onnx --dump runs/gen
    python benchmarks/gen_eval.py --count 80 --pens pale-ballpoint --set min_contrast=0.12

Scene i depends only on (seed, i, kinds, pens), so --workers does not change the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from read_eval import add_overrides  # benchmarks/ is on the path when this script runs

from digitlens.inference.reader import DEFAULT_CONF, Reader
from digitlens.inference.recognizer import ModelError
from digitlens.metrics import Tally, edit_distance
from digitlens.preprocess import PreprocessConfig
from digitlens.synth.pens import PENS
from digitlens.synth.scenes import REAL_KINDS, DigitInk, real_scene

_STATE: dict[str, Any] = {}


def _init(options: dict) -> None:
    from digitlens.export.data import load_split

    test = load_split("test", options["data_dir"])
    _STATE.update(options, images=test.images, labels=test.labels, ink=DigitInk(test.images))
    _STATE["reader"] = Reader(options["model"], PreprocessConfig().with_(**options["set"]), conf=options["conf"])


def _one(i: int) -> dict:
    """Make scene i, read it; what the tallies need (and the image when dumping)."""
    st = _STATE
    t0 = time.perf_counter()
    image, scene = _scene(i)
    t1 = time.perf_counter()
    rd = st["reader"].read(image)
    t2 = time.perf_counter()
    return {
        "i": i,
        **scene,
        "read": rd.text,
        "boxes": [d.box for d in rd.digits],
        "t_gen": t1 - t0,
        "t_read": t2 - t1,
        "image": cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1] if st["dump"] else None,
    }


def _scene(i: int) -> tuple[np.ndarray, dict]:
    """Scene i and its truth: made, or read back from --cache (lossless PNG + JSON) when made before."""
    st = _STATE
    cache = st["cache"]
    if cache is not None:
        key = f"s{st['seed']}_k{','.join(st['kinds'] or ['all'])}_p{','.join(st['pens'] or ['all'])}_{i:05d}"
        png, meta = cache / f"{key}.png", cache / f"{key}.json"
        if png.exists() and meta.exists():
            image = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
            if image is not None:
                return image, json.loads(meta.read_text())
    sc = real_scene(i, st["images"], st["labels"], st["seed"], st["kinds"], st["pens"], ink=st["ink"])
    scene = {
        "text": sc.text,
        "true_boxes": [tuple(int(v) for v in b) for b in sc.boxes],
        "labels": len(sc.labels),
        "kind": sc.kind,
        "layout": sc.layout,
        "meta": sc.meta,
    }
    if cache is not None:
        cv2.imwrite(str(png), sc.image)
        meta.write_text(json.dumps(scene))
    return sc.image, scene


def table(title: str, rows: list[tuple[str, Tally]]) -> str:
    out = [f"\n{title:18s} {'images':>6s} {'digits':>6s} {'CER':>7s} {'exact':>6s} {'recall':>7s} {'prec':>7s}"]
    for name, t in rows:
        out.append(
            f"{name:18s} {t.images:6d} {t.true_digits:6d} {100 * t.cer:6.2f}% {100 * t.exact_rate:5.1f}% "
            f"{100 * t.recall:6.2f}% {100 * t.precision:6.2f}%"
        )
    return "\n".join(out)


def subset(text: str | None, known: tuple[str, ...], what: str) -> tuple[str, ...] | None:
    """'a,b' -> ('a', 'b'), each one of `known`; None for no text."""
    if not text:
        return None
    names = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in names if k not in known]
    if bad:
        raise ValueError(f"unknown {what} {bad[0]!r}; known: {', '.join(known)}")
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA or the user cache)")
    p.add_argument("--count", type=int, default=400, help="scenes (default: 400)")
    p.add_argument("--seed", type=int, default=2026, help="generator seed (default: 2026, the reported set)")
    p.add_argument("--model", default=None, help="ONNX model or shipped name (default: the shipped digitnet)")
    p.add_argument("--conf", type=float, default=DEFAULT_CONF, help=f"confidence threshold (default: {DEFAULT_CONF})")
    p.add_argument("--kinds", default=None, help=f"comma-separated subset of {','.join(REAL_KINDS)} (default: all)")
    p.add_argument("--worst", type=int, default=12, help="worst images to list (default: 12)")
    p.add_argument("--pens", default=None, help=f"comma-separated subset of {','.join(PENS)} (default: all in turn)")
    p.add_argument("--dump", default=None, help="write every scene and its truth + reading here (default: off)")
    p.add_argument("--workers", type=int, default=2, help="processes (default: 2)")
    p.add_argument(
        "--cache",
        default=None,
        help="keep made scenes here (lossless) and read them back in later runs: same figures, no "
        "generating time (default: off)",
    )
    add_overrides(p)
    args = p.parse_args(argv)

    from digitlens.export.data import DataError, load_split

    try:
        kinds = subset(args.kinds, REAL_KINDS, "kind")
        pens = subset(args.pens, PENS, "pen")
    except ValueError as exc:
        print(f"gen_eval: {exc}", file=sys.stderr)
        return 2
    if args.count < 1 or args.workers < 1:
        print(f"gen_eval: --count and --workers must be at least 1, got {args.count}, {args.workers}", file=sys.stderr)
        return 2
    try:
        load_split("test", args.data_dir)
        Reader(args.model, PreprocessConfig().with_(**dict(args.set)), conf=args.conf)
    except (DataError, ModelError, OSError, ValueError, TypeError) as exc:
        print(f"gen_eval: {exc}", file=sys.stderr)
        return 2
    dump = Path(args.dump) if args.dump else None
    if dump:
        dump.mkdir(parents=True, exist_ok=True)
    options = {
        "data_dir": args.data_dir,
        "model": args.model,
        "conf": args.conf,
        "set": dict(args.set),
        "seed": args.seed,
        "kinds": kinds,
        "pens": pens,
        "dump": dump is not None,
        "cache": Path(args.cache) if args.cache else None,
    }
    if options["cache"] is not None:
        options["cache"].mkdir(parents=True, exist_ok=True)
    total = Tally()
    groups: dict[str, dict[str, Tally]] = {g: defaultdict(Tally) for g in ("kind", "orientation", "pen", "layout")}
    per_image = []
    t_gen = t_read = 0.0
    truth_out = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(options,)) as pool:
        for r in pool.map(_one, range(args.count), chunksize=2):
            i, m = r["i"], r["meta"]
            t_gen += r["t_gen"]
            t_read += r["t_read"]
            total.add(r["read"], r["boxes"], r["text"], r["true_boxes"])
            for g, key in (
                ("kind", r["kind"]),
                ("orientation", str(m["orientation"])),
                ("pen", m["pen"]),
                ("layout", r["layout"]),
            ):
                groups[g][key].add(r["read"], r["boxes"], r["text"], r["true_boxes"])
            edits = edit_distance(r["read"].replace(" ", ""), r["text"].replace(" ", ""))
            name = f"{i:04d}_{r['kind']}_o{m['orientation']}_{m['pen']}"
            per_image.append((edits / max(1, r["labels"]), edits, name, r["text"], r["read"], m))
            if dump:
                (dump / f"{name}.jpg").write_bytes(np.asarray(r["image"]).tobytes())
                truth_out[f"{name}.jpg"] = {"text": r["text"], "read": r["read"], "boxes": r["true_boxes"], "meta": m}
            if (i + 1) % 25 == 0:
                print(f"  {i + 1}/{args.count} scenes, running CER {100 * total.cer:.2f}%", file=sys.stderr, flush=True)
    if dump:
        (dump / "truth.json").write_text(json.dumps(truth_out, indent=1))

    wall = time.perf_counter() - started
    chosen = "".join(f", {k}" for k in (args.kinds, args.pens) if k)
    extra = f", overrides {dict(args.set)}" if args.set else ""
    print(f"generated evaluation set: {args.count} scenes, seed {args.seed}{chosen}, MNIST test digits{extra}")
    print(table("all", [("all", total)]))
    for g in ("kind", "orientation", "pen", "layout"):
        print(table(g, sorted(groups[g].items(), key=lambda kv: (len(kv[0]), kv[0]) if g == "orientation" else kv[0])))
    print(f"\nworst {args.worst} images (CER, true -> read):")
    for cer, _e, name, truth, read, m in sorted(per_image, key=lambda r: (-r[0], r[2]))[: args.worst]:
        print(
            f"  {name:38s} {100 * cer:6.1f}%  {truth[:40]!r} -> {read[:40]!r}  "
            f"[{m['frame'][0]}x{m['frame'][1]}, {m['desk']}, digit {m['digit_height']:.0f}px, skew {m['skew']:.0f}]"
        )
    print(
        f"\ntime: generating {t_gen:.1f} s, reading {t_read:.1f} s "
        f"({1000 * t_read / max(1, total.images):.0f} ms per scene), {wall:.0f} s wall on {args.workers} workers",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

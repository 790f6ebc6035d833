"""Score the photo pipeline on generated real-photo scenes (issue 12's generated evaluation set).

Scenes from digitlens.synth.scenes, drawn with MNIST *test* digits: sheets, sticky notes and
notebook pages on desks, beside keyboards, stacked, partly out of frame, turned 0/90/180/270,
skewed up to 40 degrees, from 12 px digits in a 4000x3000 frame (one scene in 20) to one
digit filling the frame, in five pens, with operators and letters between the digits.
Scenes stay in memory unless --dump is given. Prints CER, exact-string rate, recall and
precision per kind, orientation, pen and layout, then the worst images.

    python benchmarks/gen_eval.py --data-dir ../shared/data/mnist --count 400 --seed 2026
    python benchmarks/gen_eval.py --count 40 --seed 5 --model runs/x/digitnet.onnx --dump runs/gen
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2

from digitlens.inference.reader import DEFAULT_CONF, Reader
from digitlens.inference.recognizer import ModelError
from digitlens.metrics import Tally, edit_distance
from digitlens.synth.scenes import REAL_KINDS, iter_real


def table(title: str, rows: list[tuple[str, Tally]]) -> str:
    out = [f"\n{title:18s} {'images':>6s} {'digits':>6s} {'CER':>7s} {'exact':>6s} {'recall':>7s} {'prec':>7s}"]
    for name, t in rows:
        out.append(
            f"{name:18s} {t.images:6d} {t.true_digits:6d} {100 * t.cer:6.2f}% {100 * t.exact_rate:5.1f}% "
            f"{100 * t.recall:6.2f}% {100 * t.precision:6.2f}%"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA or the user cache)")
    p.add_argument("--count", type=int, default=400, help="scenes (default: 400)")
    p.add_argument("--seed", type=int, default=2026, help="generator seed (default: 2026, the reported set)")
    p.add_argument("--model", default=None, help="ONNX model or shipped name (default: the shipped digitnet)")
    p.add_argument("--conf", type=float, default=DEFAULT_CONF, help=f"confidence threshold (default: {DEFAULT_CONF})")
    p.add_argument("--kinds", default=None, help=f"comma-separated subset of {','.join(REAL_KINDS)} (default: all)")
    p.add_argument("--worst", type=int, default=12, help="worst images to list (default: 12)")
    p.add_argument("--dump", default=None, help="write every scene and its truth + reading here (default: off)")
    args = p.parse_args(argv)

    from digitlens.export.data import DataError, load_split

    kinds = None
    if args.kinds:
        kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
        bad = [k for k in kinds if k not in REAL_KINDS]
        if bad:
            print(f"gen_eval: unknown kind {bad[0]!r}; known: {', '.join(REAL_KINDS)}", file=sys.stderr)
            return 2
    if args.count < 1:
        print(f"gen_eval: --count must be at least 1, got {args.count}", file=sys.stderr)
        return 2
    try:
        test = load_split("test", args.data_dir)
        reader = Reader(args.model, conf=args.conf)
    except (DataError, ModelError, OSError, ValueError) as exc:
        print(f"gen_eval: {exc}", file=sys.stderr)
        return 2
    dump = Path(args.dump) if args.dump else None
    if dump:
        dump.mkdir(parents=True, exist_ok=True)
    total = Tally()
    groups: dict[str, dict[str, Tally]] = {g: defaultdict(Tally) for g in ("kind", "orientation", "pen", "layout")}
    per_image = []
    t_gen = t_read = 0.0
    truth_out = {}
    start = time.perf_counter()
    for i, sc in enumerate(iter_real(args.count, test.images, test.labels, args.seed, kinds=kinds)):
        t_gen += time.perf_counter() - start
        start = time.perf_counter()
        rd = reader.read(sc.image)
        t_read += time.perf_counter() - start
        boxes = [d.box for d in rd.digits]
        total.add(rd.text, boxes, sc.text, sc.boxes)
        m = sc.meta
        for g, key in (
            ("kind", sc.kind),
            ("orientation", str(m["orientation"])),
            ("pen", m["pen"]),
            ("layout", sc.layout),
        ):
            groups[g][key].add(rd.text, boxes, sc.text, sc.boxes)
        edits = edit_distance(rd.text.replace(" ", ""), sc.text.replace(" ", ""))
        name = f"{i:04d}_{sc.kind}_o{m['orientation']}_{m['pen']}"
        per_image.append((edits / max(1, len(sc.labels)), edits, name, sc.text, rd.text, m))
        if dump:
            cv2.imwrite(str(dump / f"{name}.jpg"), sc.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            truth_out[f"{name}.jpg"] = {
                "text": sc.text,
                "read": rd.text,
                "boxes": [list(b) for b in sc.boxes],
                "meta": m,
            }
        if (i + 1) % 25 == 0:
            print(f"  {i + 1}/{args.count} scenes, running CER {100 * total.cer:.2f}%", file=sys.stderr, flush=True)
        start = time.perf_counter()
    if dump:
        (dump / "truth.json").write_text(json.dumps(truth_out, indent=1))

    print(f"generated evaluation set: {args.count} scenes, seed {args.seed}, MNIST test digits")
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
        f"({1000 * t_read / max(1, total.images):.0f} ms per scene)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

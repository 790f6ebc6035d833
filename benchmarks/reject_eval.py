"""Does the model know what is not a digit, and does its confidence mean something?

Scores one or more ONNX models through onnxruntime on data no training run saw:
- the 10,000 MNIST test digits (accuracy counting "not a digit" as wrong, false rejections);
- held-out generated non-digit crops (digitlens.export.negatives, seed 12345, fragments
  and pairs cut from MNIST *test* digits; training used seed 0 and training digits);
- the crops the photo pipeline cuts from generated photos of MNIST test digits (seed 2024),
  labelled by the truth boxes (unmatched crops count as "not a digit").
For each model: the rejection / false-rejection trade-off over the confidence threshold
(a crop counts as a digit when its top class is a digit with probability >= t; a 10-class
model can only reject by confidence), per-family rejection, and the expected calibration
error on MNIST test and on the photo crops.

    python benchmarks/reject_eval.py --data-dir ../shared/data/mnist \\
        --model digitlens/models/digitnet.onnx --model benchmarks/zoo/digitnet-aug.onnx
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from digitlens.export import negatives as neg
from digitlens.export.calibration import ece
from digitlens.export.data import load_split
from digitlens.export.scene_crops import NOT_DIGIT, scene_crops
from digitlens.inference.recognizer import ModelError, Recognizer

THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)


def probs_of(rec: Recognizer, x: np.ndarray) -> np.ndarray:
    return np.concatenate([rec.classify(x[i : i + 1000])[2] for i in range(0, len(x), 1000)]).astype(np.float64)


def is_digit(probs: np.ndarray, t: float) -> np.ndarray:
    """Accepted as a digit: top class among the digits (not "not a digit") and probability >= t."""
    top = probs.argmax(1)
    return (top < 10) & (probs[np.arange(len(probs)), top] >= t)


def evaluate(rec: Recognizer, mnist_x, mnist_y, neg_x, neg_fam, photo_x, photo_y) -> dict:
    pm, pn, pp = probs_of(rec, mnist_x), probs_of(rec, neg_x), probs_of(rec, photo_x)
    k = pm.shape[1]
    table = []
    for t in THRESHOLDS:
        acc_m = is_digit(pm, t)
        table.append(
            {
                "threshold": t,
                "mnist_read_correct": float((acc_m & (pm.argmax(1) == mnist_y)).mean()),
                "mnist_rejected": float((~acc_m).mean()),
                "nondigit_rejected": float((~is_digit(pn, t)).mean()),
            }
        )
    fam = {neg.FAMILIES[f]: float((~is_digit(pn[neg_fam == f], 0.0)).mean()) for f in np.unique(neg_fam)}
    if k == 11:
        photo_ece = ece(pp, photo_y)
    else:  # a 10-class model has no right answer for a non-digit crop: score its digit crops only
        sel = photo_y < 10
        photo_ece = ece(pp[sel], photo_y[sel])
    return {
        "model": str(rec.path),
        "classes": k,
        "mnist_accuracy": float((pm.argmax(1) == mnist_y).mean()),
        "mnist_rejected_as_not_digit": float((pm.argmax(1) == NOT_DIGIT).mean()) if k == 11 else 0.0,
        "nondigit_rejected_at_argmax": float((~is_digit(pn, 0.0)).mean()),
        "per_family_rejected": fam,
        "ece_mnist_test": ece(pm, mnist_y),
        "ece_photo_crops": photo_ece,
        "photo_crops": len(photo_y),
        "photo_crop_accuracy": float((pp.argmax(1) == photo_y).mean()) if k == 11 else None,
        "table": table,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", default=None, help="ONNX model (repeatable; default: shipped)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITLENS_DATA or the user cache)")
    p.add_argument("--negatives", type=int, default=5000, help="held-out non-digit crops (default: 5000)")
    p.add_argument("--seed", type=int, default=12345, help="seed of the non-digit set (default: 12345)")
    p.add_argument("--scenes", type=int, default=300, help="generated photos for photo-crop ECE (default: 300)")
    p.add_argument("--scene-seed", type=int, default=2024, help="seed of those photos (default: 2024)")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file (default: none)")
    p.add_argument(
        "--card", default=None, help="model card JSON to record the first model's figures in (default: none)"
    )
    args = p.parse_args(argv)
    try:
        recs = [Recognizer(m) for m in (args.model or [None])]
        test = load_split("test", args.data_dir)
    except (ModelError, OSError, RuntimeError) as exc:
        print(f"reject_eval: {exc}", file=sys.stderr)
        return 2
    mx, my = test.images.astype(np.float32) / 255.0, test.labels.astype(np.int64)
    nx, nf = neg.generate(args.negatives, args.seed, test.images, test.labels)
    px, py = scene_crops(args.scenes, test.images, test.labels, args.scene_seed)
    results = []
    for rec in recs:
        r = evaluate(rec, mx, my, nx, nf, px, py)
        results.append(r)
        print(f"\n{Path(r['model']).name} ({r['classes']} classes)")
        print(
            f"  MNIST test accuracy {r['mnist_accuracy'] * 100:.2f}% (not-a-digit answers count as wrong;"
            f" {r['mnist_rejected_as_not_digit'] * 100:.2f}% of digits called not a digit)"
        )
        print(f"  held-out non-digits rejected at argmax: {r['nondigit_rejected_at_argmax'] * 100:.1f}%")
        print("  per family: " + ", ".join(f"{f} {v * 100:.1f}%" for f, v in r["per_family_rejected"].items()))
        print(
            f"  ECE: MNIST test {r['ece_mnist_test'] * 100:.2f}%, photo crops {r['ece_photo_crops'] * 100:.2f}%"
            f" ({r['photo_crops']} crops)"
        )
        print("  | threshold | MNIST read right | MNIST rejected | non-digits rejected |")
        print("  |---|---|---|---|")
        for row in r["table"]:
            print(
                f"  | {row['threshold']:.2f} | {row['mnist_read_correct'] * 100:.2f}% |"
                f" {row['mnist_rejected'] * 100:.2f}% | {row['nondigit_rejected'] * 100:.1f}% |"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    if args.card:
        card_path = Path(args.card)
        card = json.loads(card_path.read_text())
        card["rejection"] = {
            "command": "python benchmarks/reject_eval.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "nondigit_set": f"negatives.generate({args.negatives}, seed {args.seed}, MNIST test digits)",
            "photo_crop_set": f"pipeline crops of synth.generate({args.scenes}, MNIST test, seed {args.scene_seed})",
            **{k: v for k, v in results[0].items() if k != "model"},
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

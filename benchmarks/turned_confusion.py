"""How the recogniser reads digits turned upside down: the table orientation relies on.

    python benchmarks/turned_confusion.py --data-dir ../shared/data/mnist [--model digitnet] [--write]

Row a is the mean probability vector the model gives MNIST training digits of class a
turned by 180 degrees (the "not a digit" row, when the model has one, is that class
itself: a mark turned is still a mark).  An upside-down 3 is read as an 8 far more often
than an upside-down 8 as a 3; `Reader.orientation` weighs both readings of each crop
with this table (see its docstring).  `--write` stores it in the model card
(`<model>.json`, key `turned_confusion`); rerun it after exporting a new model.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from digitlens.export.data import load_split
from digitlens.inference.recognizer import Recognizer


def turned_confusion(recognizer: Recognizer, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(images.astype(np.float32)[:, ::-1, ::-1] / 255.0)
    probs = np.concatenate([recognizer.classify(x[i : i + 2048])[2] for i in range(0, len(x), 2048)])
    k = len(recognizer.classes)
    table = np.zeros((k, k), np.float64)
    for a in range(10):
        table[a] = probs[labels == a].mean(axis=0)
    if recognizer.not_digit_index is not None:
        table[recognizer.not_digit_index, recognizer.not_digit_index] = 1.0
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--model", default=None, help="ONNX model or shipped name (default: the shipped digitnet)")
    p.add_argument("--limit", type=int, default=20000, help="training digits used (default: %(default)s)")
    p.add_argument("--write", action="store_true", help="store the table in the model card")
    args = p.parse_args(argv)
    rec = Recognizer(args.model)
    train = load_split("train", args.data_dir, download_missing=False)
    table = turned_confusion(rec, train.images[: args.limit], train.labels[: args.limit])
    np.set_printoptions(precision=3, suppress=True, linewidth=160)
    print(table)
    if args.write:
        card_path = rec.path.with_suffix(".json")
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
        card["turned_confusion"] = [[round(float(v), 4) for v in row] for row in table]
        card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        print(f"written to {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

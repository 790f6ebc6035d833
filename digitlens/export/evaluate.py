"""`digitlens eval`: an ONNX model on the 10k MNIST test digits, through onnxruntime.

This is the number the model card quotes: measured on the runtime users run, not on
torch.  It also writes the confusion matrix and a gallery of every mistake, because a
list of wrong indices says little until you see the digits.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from digitlens.export import data as mnist
from digitlens.inference.recognizer import Recognizer


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="ONNX model (default: the shipped digitnet)")
    p.add_argument("--data-dir", default=None, help=f"MNIST folder (default: ${mnist.ENV_VAR} or the user cache)")
    p.add_argument(
        "--out", default="runs/eval", help="folder for confusion matrix, errors list and gallery (default: runs/eval)"
    )
    p.add_argument(
        "--preview",
        type=int,
        default=0,
        metavar="N",
        help="also write a labelled grid of N training digits (default: 0)",
    )


def score(recognizer: Recognizer, images: np.ndarray, labels: np.ndarray, batch: int = 1000) -> dict:
    preds = np.concatenate(
        [recognizer.classify(images[i : i + batch].astype(np.float32) / 255.0)[0] for i in range(0, len(images), batch)]
    )
    confusion = np.zeros((10, recognizer.num_classes), np.int64)  # an 11th column: called "not a digit"
    np.add.at(confusion, (labels.astype(np.int64), preds), 1)
    wrong = np.nonzero(preds != labels)[0]
    return {"accuracy": float((preds == labels).mean()), "predictions": preds, "confusion": confusion, "wrong": wrong}


def _label(img: np.ndarray, text: str, colour: tuple[int, int, int] = (0, 255, 255)) -> np.ndarray:
    tile = cv2.cvtColor(cv2.resize(img, (56, 56), interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR)
    tile = cv2.copyMakeBorder(tile, 14, 2, 2, 2, cv2.BORDER_CONSTANT, value=(40, 40, 40))
    cv2.putText(tile, text, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    return tile


def gallery(images: np.ndarray, captions: list[str], cols: int = 20) -> np.ndarray:
    """Labelled tiles in a grid (uint8 BGR)."""
    tiles = [_label(im, cap) for im, cap in zip(images, captions, strict=True)]
    if not tiles:
        return np.zeros((72, 60, 3), np.uint8)
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * ((-len(tiles)) % cols)
    return np.vstack([np.hstack(tiles[r : r + cols]) for r in range(0, len(tiles), cols)])


def confusion_image(confusion: np.ndarray) -> np.ndarray:
    cell = 44
    cols = confusion.shape[1]
    img = np.full((cell * 11, cell * (cols + 1), 3), 255, np.uint8)
    off = confusion.copy()
    off[np.arange(10), np.arange(10)] = 0
    peak = max(1, off.max())
    for p in range(cols):
        name = str(p) if p < 10 else "x"
        cv2.putText(img, name, (cell * (p + 1) + 14, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    for t in range(10):
        cv2.putText(img, str(t), (12, cell * (t + 1) + 28), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        for p in range(cols):
            v = int(confusion[t, p])
            shade = 255 - int(200 * (v / peak if t != p else 0.3))
            x0, y0 = cell * (p + 1), cell * (t + 1)
            cv2.rectangle(
                img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), (shade, shade, 255) if t != p else (200, 255, 200), -1
            )
            cv2.putText(img, str(v), (x0 + 4, y0 + 27), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "true \\ predicted", (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def run(args: argparse.Namespace) -> int:
    recognizer = Recognizer(args.model)
    test = mnist.load_split("test", args.data_dir)
    result = score(recognizer, test.images, test.labels)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wrong = result["wrong"]
    cv2.imwrite(str(out / "confusion.png"), confusion_image(result["confusion"]))
    captions = [f"#{i} {test.labels[i]}->{result['predictions'][i]}" for i in wrong]
    cv2.imwrite(str(out / "errors.png"), gallery(test.images[wrong], captions))
    (out / "errors.json").write_text(
        json.dumps(
            {"model": str(recognizer.path), "accuracy": result["accuracy"], "misclassified": wrong.tolist()}, indent=1
        )
    )
    if args.preview:
        train = mnist.load_split("train", args.data_dir)
        n = min(args.preview, len(train.images))
        cv2.imwrite(str(out / "preview.png"), gallery(train.images[:n], [str(v) for v in train.labels[:n]]))
    print(
        f"{recognizer.path.name}: MNIST test accuracy {result['accuracy'] * 100:.2f}% "
        f"({len(wrong)} errors of {len(test.labels)}); wrote {out}/"
    )
    return 0

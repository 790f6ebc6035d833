"""Shared fixtures: MNIST location, the shipped reader, and images made in code."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def mnist_dir() -> Path:
    env = os.environ.get("DIGITLENS_DATA")
    for cand in (env, ROOT.parent / "shared" / "data" / "mnist"):
        if cand and (Path(cand) / "t10k-images-idx3-ubyte.gz").exists():
            return Path(cand)
    if os.environ.get("CI"):
        raise RuntimeError("MNIST not found: set DIGITLENS_DATA")
    pytest.skip("MNIST files not available (set DIGITLENS_DATA)")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return mnist_dir()


@pytest.fixture(scope="session")
def mnist_test(data_dir):
    from digitlens.export.data import load_split

    return load_split("test", data_dir, download_missing=False)


@pytest.fixture(scope="session")
def reader():
    from digitlens.inference import Reader

    return Reader()


def paper_with_digits(
    digits: list[np.ndarray], height: int = 80, size=(640, 480), paper=225, ink=30, origin=(40, 60), gap: float = 0.3
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Dark MNIST digits on light paper in one row; returns the image and true boxes."""
    w, h = size
    img = np.full((h, w), paper, np.float32)
    x, y = origin
    boxes = []
    for d in digits:
        ys, xs = np.nonzero(d > 40)
        d = d[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255
        dw = max(2, round(d.shape[1] * height / d.shape[0]))
        a = np.clip(cv2.resize(d, (dw, height), interpolation=cv2.INTER_CUBIC), 0, 1)
        img[y : y + height, x : x + dw] = img[y : y + height, x : x + dw] * (1 - a) + ink * a
        boxes.append((x, y, dw, height))
        x += dw + int(gap * height)
    return np.clip(img, 0, 255).astype(np.uint8), boxes

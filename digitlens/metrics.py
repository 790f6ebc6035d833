"""Scoring a reading against ground truth: detection recall/precision and character error rate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _centre_inside(box: Sequence[float], other: Sequence[float]) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return other[0] <= cx <= other[0] + other[2] and other[1] <= cy <= other[1] + other[3]


def match_pairs(pred: list, truth: list) -> dict[int, int]:
    """One-to-one matches, predicted index -> true index: each box holds the other's centre."""
    used: dict[int, int] = {}
    for i, p in enumerate(pred):
        for j, t in enumerate(truth):
            if j not in used.values() and _centre_inside(p, t) and _centre_inside(t, p):
                used[i] = j
                break
    return used


def match_boxes(pred: list, truth: list) -> int:
    """Number of one-to-one matches (see match_pairs)."""
    return len(match_pairs(pred, truth))


@dataclass
class Tally:
    images: int = 0
    true_digits: int = 0
    found_digits: int = 0
    matched: int = 0
    edits: int = 0
    exact: int = 0

    def add(self, pred_text: str, pred_boxes: list, true_text: str, true_boxes: list) -> None:
        self.images += 1
        self.true_digits += len(true_boxes)
        self.found_digits += len(pred_boxes)
        self.matched += match_boxes(pred_boxes, true_boxes)
        self.edits += edit_distance(pred_text.replace(" ", ""), true_text.replace(" ", ""))
        self.exact += pred_text == true_text

    @property
    def recall(self) -> float:
        return self.matched / max(1, self.true_digits)

    @property
    def precision(self) -> float:
        return self.matched / max(1, self.found_digits)

    @property
    def cer(self) -> float:
        return self.edits / max(1, self.true_digits)

    @property
    def exact_rate(self) -> float:
        return self.exact / max(1, self.images)

    def summary(self) -> str:
        return (
            f"{self.images} images, {self.true_digits} digits: recall {self.recall:.4f}, "
            f"precision {self.precision:.4f}, CER {self.cer:.4f}, exact {self.exact_rate:.4f}"
        )

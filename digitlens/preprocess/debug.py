"""What the network sees: every pipeline stage and a mosaic of the normalised crops.

`digitlens photo IMAGE --debug DIR` writes these; it is how a user finds out why a digit
was missed (threshold too high? merged with a line? split in two?).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def mosaic(crops: np.ndarray, captions: list[str] | None = None, scale: int = 3, cols: int = 10) -> np.ndarray:
    """[N, 28, 28] float crops -> one uint8 BGR image, optionally captioned per crop."""
    side = 28 * scale
    if len(crops) == 0:
        return np.zeros((side, side, 3), np.uint8)
    tiles = []
    for i, c in enumerate(crops):
        t = cv2.resize((np.clip(c, 0, 1) * 255).astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)
        t = cv2.cvtColor(t, cv2.COLOR_GRAY2BGR)
        cv2.rectangle(t, (0, 0), (side - 1, side - 1), (80, 80, 80), 1)
        if captions:
            cv2.putText(t, captions[i], (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1, cv2.LINE_AA)
        tiles.append(t)
    tiles += [np.zeros_like(tiles[0])] * ((-len(tiles)) % cols if len(tiles) > cols else 0)
    cols = min(cols, len(tiles))
    return np.vstack([np.hstack(tiles[r : r + cols]) for r in range(0, len(tiles), cols)])


def write_debug(
    out_dir: str | Path, stem: str, stages: dict[str, np.ndarray], crops: np.ndarray, captions: list[str] | None = None
) -> list[Path]:
    """Write stage PNGs and the crop mosaic under out_dir; returns the written paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, img in stages.items():
        p = out / f"{stem}.{name}.png"
        if not cv2.imwrite(str(p), img):
            raise OSError(f"could not write {p}")
        written.append(p)
    p = out / f"{stem}.crops.png"
    if not cv2.imwrite(str(p), mosaic(crops, captions)):
        raise OSError(f"could not write {p}")
    written.append(p)
    return written

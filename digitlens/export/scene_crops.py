"""Crops that the project's own pipeline cuts from generated photos, labelled by the truth boxes.

`digitlens.synth` composes photos from the digits it is given (here MNIST *train* digits
only) and knows where each digit went; `digitlens.preprocess.preprocess` cuts them as it
would from a real photo.  A crop whose box matches a true box (each holds the other's
centre, as the benchmarks match) gets that digit's label; a crop that matches nothing
(a piece of rule, a page corner, a smudge, half of a digit) is a negative, labelled
NOT_DIGIT.  The pieces of the pipeline's split proposals are labelled the same way.
Only numpy and OpenCV: no torch.
"""

from __future__ import annotations

import numpy as np

from digitlens import conventions as C
from digitlens.metrics import match_pairs
from digitlens.preprocess import PreprocessConfig, preprocess

NOT_DIGIT = 10


def _label(boxes: np.ndarray, truth_boxes: list, truth_labels: list) -> np.ndarray:
    pred = [tuple(int(v) for v in b) for b in boxes]
    pairs = match_pairs(pred, truth_boxes)
    out = np.full(len(pred), NOT_DIGIT, np.int64)
    for i, j in pairs.items():
        out[i] = truth_labels[j]
    return out


def scene_crops(
    count: int,
    images: np.ndarray,
    labels: np.ndarray,
    seed: int,
    config: PreprocessConfig | None = None,
    with_splits: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Crops [N, 28, 28] float32 and labels [N] (0-9, or NOT_DIGIT=10) from `count` generated photos."""
    from digitlens.synth import generate

    # the pair proposals (a squat box that would not be read whole, cut in two) are left out:
    # most of their halves are halves of single digits, which the negatives already cover,
    # and they would change the set with every reading rule of the reader
    config = config or PreprocessConfig(pair_aspect=0.0)
    crops, out = [np.zeros((0, C.IMAGE_SIZE, C.IMAGE_SIZE), np.float32)], [np.zeros(0, np.int64)]
    for sc in generate(count, images, labels, seed=seed):
        pre = preprocess(sc.image, config)
        crops.append(pre.crops)
        out.append(_label(pre.boxes, sc.boxes, sc.labels))
        if with_splits:
            for sp in pre.splits:
                crops.append(sp.crops)
                out.append(_label(sp.boxes, sc.boxes, sc.labels))
    return np.concatenate(crops), np.concatenate(out)


def real_scene_crops(
    count: int,
    images: np.ndarray,
    labels: np.ndarray,
    seed: int,
    config: PreprocessConfig | None = None,
    unmatched: bool = False,
    max_turn: float = 12.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Like scene_crops, from `count` real-photo scenes (`digitlens.synth.scenes`), all upright.

    These are the scenes people photograph: pale ballpoint and pencil, tiny blurred digits
    in a 4000x3000 frame, notes on keyboards, skewed and tilted pages.  Kinds follow the
    evaluation sets' schedule (one big frame in 20); the orientation is always 0, so that
    no turned digit is ever labelled as the digit it is turned from (the reader's turn test
    relies on the model finding a turned digit unlikely).  For the same reason a scene whose
    digits still stand more than `max_turn` degrees off upright after the pipeline levelled
    its lines (a lone digit on a page skewed by 30 degrees: nothing to level by) gives no
    crops; MNIST's augmentation turns digits by up to 12 degrees.

    Only the crops that match a true digit are kept unless `unmatched`: the others are
    handwritten marks, but also the printed legends of keycaps and printed pages, whose
    1s, 4s and 7s are a neat hand's digits to the network; the generated negatives
    (`digitlens.export.negatives`) teach what is not a digit instead.
    """
    from digitlens.synth.pens import PENS, DigitInk
    from digitlens.synth.scenes import make_real_scene, schedule

    config = config or PreprocessConfig(pair_aspect=0.0)
    ink = DigitInk(images)
    crops, out = [np.zeros((0, C.IMAGE_SIZE, C.IMAGE_SIZE), np.float32)], [np.zeros(0, np.int64)]
    for i in range(count):
        kind, _ = schedule(i)
        rng = np.random.default_rng([seed, i, 11])
        sc = make_real_scene(rng, images, labels, kind, None, 0, PENS[i % len(PENS)], None, ink)
        pre = preprocess(sc.image, config)
        skew = float(sc.meta.get("skew", 0.0))
        if abs(skew - pre.skew) > max_turn:  # the page's skew less what the pipeline levelled
            continue
        lab = _label(pre.boxes, sc.boxes, sc.labels)
        keep = np.ones(len(lab), bool) if unmatched else lab != NOT_DIGIT
        crops.append(pre.crops[keep])
        out.append(lab[keep])
    return np.concatenate(crops), np.concatenate(out)

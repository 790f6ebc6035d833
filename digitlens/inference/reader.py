"""Build a reader once, call it on any image: photo -> text with per-digit evidence."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from digitlens.inference.recognizer import Recognizer
from digitlens.preprocess import PreprocessConfig, Preprocessed, preprocess

DEFAULT_CONF = 0.3  # chosen on generated development photos (seeds 3, 7, 13, 17, 21, 22): see BENCHMARKS.md
#: an 11-class model's "not a digit" answer rejects a crop only at this probability or above
DEFAULT_NOT_DIGIT_CONF = 0.7  # chosen on generated development photos (seed 3): see BENCHMARKS.md


#: Kinds of a reported mark: a digit read, a mark the model says is no digit, a digit too unsure to keep.
DIGIT, NOT_DIGIT, LOW_CONFIDENCE = "digit", "not_digit", "low_confidence"


@dataclass(frozen=True)
class Digit:
    """One mark: `label` 0-9 (-1 when the model says it is not a digit), `confidence` the
    probability of that answer, and `kind` (DIGIT, NOT_DIGIT or LOW_CONFIDENCE)."""

    label: int
    confidence: float
    box: tuple[int, int, int, int]  # x, y, w, h in original image pixels
    line: int
    kind: str = DIGIT

    def to_dict(self) -> dict:
        d = asdict(self)
        d["box"] = list(self.box)
        d["confidence"] = round(float(self.confidence), 4)
        return d


@dataclass(frozen=True)
class Reading:
    """The digits of one image in reading order; lines joined by one space in `text`."""

    text: str
    digits: list[Digit]
    rejected: list[Digit] = field(default_factory=list)
    image_size: tuple[int, int] = (0, 0)
    crops: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "digits": [d.to_dict() for d in self.digits],
            "rejected": [d.to_dict() for d in self.rejected],
        }


def compose_text(digits: list[Digit]) -> str:
    lines: dict[int, list[str]] = {}
    for d in digits:
        lines.setdefault(d.line, []).append(str(d.label))
    return " ".join("".join(lines[k]) for k in sorted(lines))


class Reader:
    """Preprocessing config + one classifier session; `read(image)` per image or frame."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        config: PreprocessConfig = PreprocessConfig(),
        conf: float = DEFAULT_CONF,
        threads: int | None = None,
        not_digit_conf: float = DEFAULT_NOT_DIGIT_CONF,
    ):
        if not 0.0 <= conf <= 1.0:
            raise ValueError(f"conf must be in 0..1, got {conf}")
        if not 0.0 <= not_digit_conf <= 1.0:
            raise ValueError(f"not_digit_conf must be in 0..1, got {not_digit_conf}")
        self.recognizer = Recognizer(model, threads=threads)
        self.config = config
        self.conf = conf
        self.not_digit_conf = not_digit_conf

    def read(self, image: np.ndarray, keep_stages: bool = False, timings: dict | None = None) -> Reading:
        pre = preprocess(image, self.config, keep_stages=keep_stages, timings=timings)
        if timings is None:
            return self.read_preprocessed(pre)
        start = time.perf_counter()
        reading = self.read_preprocessed(pre)
        timings["inference"] = timings.get("inference", 0.0) + time.perf_counter() - start
        return reading

    def read_preprocessed(self, pre: Preprocessed) -> Reading:
        """Classify every crop, and every proposed split's pieces, in one batch.

        With an 11-class model a crop answered "not a digit" goes to `rejected` (kind
        NOT_DIGIT, label -1) and never into the text; as a split's piece it fails the split.
        """
        n = len(pre)
        batch = np.concatenate([pre.crops] + [sp.crops for sp in pre.splits]) if pre.splits else pre.crops
        labels, confs, probs = self.recognizer.classify(batch)
        nd = getattr(self.recognizer, "not_digit_index", None)  # None: a ten-digit model (or a stand-in)
        is_mark = np.zeros(len(labels), bool)
        if nd is not None and len(labels):
            top = labels == nd
            is_mark = top & (confs >= self.not_digit_conf)
            # a doubtful "not a digit" is read as its likeliest digit, at that digit's probability
            doubt = np.nonzero(top & ~is_mark)[0]
            if doubt.size:
                labels, confs = labels.copy(), confs.copy()
                digit_probs = np.delete(probs[doubt], nd, axis=1)
                labels[doubt] = digit_probs.argmax(1)
                confs[doubt] = digit_probs.max(1)
        digit_conf = np.where(is_mark, 0.0, confs)  # how sure it is a digit: nothing when it is not one

        def make(j: int, box, line: int) -> Digit:
            box = tuple(int(v) for v in box)
            if is_mark[j]:
                return Digit(-1, float(confs[j]), box, line, NOT_DIGIT)
            return Digit(int(labels[j]), float(confs[j]), box, line)

        per_candidate = [[make(i, pre.boxes[i], int(pre.lines[i]))] for i in range(n)]
        start, best = n, {}
        for sp in pre.splits:
            k = len(sp.crops)
            piece_conf = digit_conf[start : start + k]
            # a wide 0 stays whole; touching digits read better as pieces than as one
            weakest = float(piece_conf.min())  # a proposal is as good as its least sure piece
            if (
                weakest > float(digit_conf[sp.index]) + self.config.split_gain
                and weakest >= self.config.split_min_conf
                and weakest > best.get(sp.index, (-1.0,))[0]
            ):
                line = int(pre.lines[sp.index])
                best[sp.index] = (weakest, [make(start + j, sp.boxes[j], line) for j in range(k)])
            start += k
        for i, (_, digits) in best.items():
            per_candidate[i] = digits
        accepted, rejected = [], []
        for group in per_candidate:
            for d in group:
                if d.kind == NOT_DIGIT:
                    rejected.append(d)
                elif d.confidence >= self.conf:
                    accepted.append(d)
                else:
                    rejected.append(replace(d, kind=LOW_CONFIDENCE))
        # renumber lines so that a line of only rejected marks leaves no gap
        kept = sorted({d.line for d in accepted})
        remap = {old: new for new, old in enumerate(kept)}
        accepted = [replace(d, line=remap[d.line]) for d in accepted]
        return Reading(compose_text(accepted), accepted, rejected, pre.image_size, pre.crops)

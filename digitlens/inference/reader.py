"""Build a reader once, call it on any image: photo -> text with per-digit evidence."""

from __future__ import annotations

import ctypes
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from digitlens.inference.recognizer import Recognizer
from digitlens.inference.turn import TurnModel, default_turn_model_path
from digitlens.preprocess import PreprocessConfig, Preprocessed, preprocess
from digitlens.preprocess.load import as_image
from digitlens.preprocess.orientation import ROTATIONS, boxes_to_source, points_to_source, sideways_evidence, turn

#: a batch's (labels [N], confidences [N], probabilities [N, classes]), as Recognizer.classify gives
Classified = tuple[np.ndarray, np.ndarray, np.ndarray]

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
    rotation: int = 0  # degrees the image was turned clockwise to be read upright (boxes stay in the input's frame)
    surface: np.ndarray | None = field(default=None, compare=False)  # [K, 2] (x, y) outline of the sheet, if found
    stages: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)  # --debug images

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "digits": [d.to_dict() for d in self.digits],
            "rejected": [d.to_dict() for d in self.rejected],
            "rotation": self.rotation,
            "surface": None
            if self.surface is None
            else [[round(float(x), 1), round(float(y), 1)] for x, y in self.surface],
        }


def orientation_voters(boxes: np.ndarray, bar: float) -> np.ndarray:
    """bool [k]: the boxes whose reading says which way up the writing is.

    A bar (narrower than `bar` times its height: a piece of a rule, a page edge, a
    shadow's rim, or a 1) reads as a 1 one way up and is a dash, never a candidate, turned
    by 90 degrees: it is no evidence for either, so only the other boxes vote, unless
    there are only bars (a row of 1s).
    """
    b = np.asarray(boxes).reshape(-1, 4)
    vote = b[:, 2] >= bar * b[:, 3]
    return vote if vote.any() else np.ones(len(b), bool)


def turn_is_clear(best: int, confidence: dict[int, float], sure: dict[int, int], config: PreprocessConfig) -> bool:
    """Whether quarter turn `best` (not 0) reads enough like digits to be taken over the photo as given.

    Its crops read as digits surely enough on average; or the page is crowded with marks
    (operators, rules, grain) that pull the average down, and still the turn reads
    `orientation_min_sure` crops or more surely, `orientation_sure_ratio` times as many as
    the photo as given, and `orientation_sure_lead` times as many as any other turn.  A page
    of printed text reads a few letters as digits every way up, and more in the three
    turns than upright (letters turned pass for digits more often): no turn stands out.

    The same counts bar a sideways turn the other way: when the photo as given reads
    `orientation_min_sure` crops or more surely, and `orientation_sure_ratio` times as many
    as the turn, the turn is not taken however sure its few crops are (a line of digits
    joined by a sloping underline is one tall piece turned sideways, and reads as a sure 1).
    """
    given = sure.get(0, 0)  # (upside down, a photo's crops read as surely: its own evidence decides that)
    if (
        best % 2
        and given >= config.orientation_min_sure
        and given >= config.orientation_sure_ratio * max(1, sure.get(best, 0))
    ):
        return False
    if confidence.get(best, 0.0) >= config.orientation_min_conf:
        return True
    n = sure.get(best, 0)
    others = max((v for q, v in sure.items() if q not in (0, best)), default=0)
    return (
        n >= config.orientation_min_sure
        and n >= config.orientation_sure_ratio * sure.get(0, 0)
        and n >= config.orientation_sure_lead * others
    )


def robust_evidence(per_crop: np.ndarray) -> float:
    """Summed log-ratios, less the strongest one in the sum's direction when there are several.

    On a photo of several digits no single odd reading may turn it upside down (a 6 that
    the model reads as a 7 when turned, beside 1s and another 6 that read alike either
    way); a lone digit has only its own reading to go by.
    """
    r = np.asarray(per_crop, np.float64).ravel()
    total = float(r.sum())
    if len(r) < 2:
        return total
    strongest = float(r.max()) if total > 0 else float(r.min())
    rest = total - strongest
    return rest if rest * total > 0 else 0.0


def _box(row: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = (int(v) for v in row)
    return (x, y, w, h)


def compose_text(digits: list[Digit]) -> str:
    lines: dict[int, list[str]] = {}
    for d in digits:
        lines.setdefault(d.line, []).append(str(d.label))
    return " ".join("".join(lines[k]) for k in sorted(lines))


_ALLOCATOR_SETTLED = False


def keep_freed_memory() -> None:
    """Let this process reuse the memory of the images it frees (glibc only; once per process).

    Each read makes and frees a few dozen image-sized arrays.  By default glibc gives a freed
    megabyte-sized block back to the system and takes the next one afresh, a page fault per
    4 KB (about 3,700 per 640x480 frame, 13,000 per 4000x3000 photo: a tenth of a frame's
    time); with these two settings the blocks are reused.  The cost: the process keeps up
    to its peak image memory.  DIGITLENS_SYSTEM_MALLOC=1 leaves the allocator alone.

    A process-wide setting, so the library never makes it on its own: the `digitlens`
    commands (which own their process) call it; a program embedding a Reader may.
    """
    global _ALLOCATOR_SETTLED
    if _ALLOCATOR_SETTLED or not sys.platform.startswith("linux") or os.environ.get("DIGITLENS_SYSTEM_MALLOC"):
        return
    _ALLOCATOR_SETTLED = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD: blocks under 64 MB come from the heap...
    mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD: ...which keeps up to 256 MB free for the next image


class Reader:
    """Preprocessing config + one classifier session; `read(image)` per image or frame."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        config: PreprocessConfig = PreprocessConfig(),
        conf: float = DEFAULT_CONF,
        threads: int | None = None,
        rotate: str | int = "auto",
        not_digit_conf: float = DEFAULT_NOT_DIGIT_CONF,
        turn_model: str | os.PathLike | None = None,
    ):
        if not 0.0 <= conf <= 1.0:
            raise ValueError(f"conf must be in 0..1, got {conf}")
        if not 0.0 <= not_digit_conf <= 1.0:
            raise ValueError(f"not_digit_conf must be in 0..1, got {not_digit_conf}")
        if rotate != "auto" and rotate not in ROTATIONS:
            raise ValueError(f"rotate must be 'auto' or one of {ROTATIONS}, got {rotate!r}")
        self.recognizer = Recognizer(model, threads=threads)
        #: upright-or-turned evidence per crop (`digitlens train-turn`): the shipped one unless given, none
        #: when the shipped file is absent or `orientation_turn_weight` is 0
        self.turn_model: TurnModel | None = None
        if config.orientation_turn_weight > 0 and (turn_model is not None or default_turn_model_path().is_file()):
            self.turn_model = TurnModel(turn_model, threads=threads)
        self.config = config
        self.conf = conf
        self.not_digit_conf = not_digit_conf
        self.rotate = rotate

    def read(self, image: Any, keep_stages: bool = False, timings: dict | None = None) -> Reading:
        """Read one image: find which way up it is (unless `rotate` is fixed), then its digits.

        `image`: a path, the bytes of an image file, a numpy array or a PIL image (see load.as_image).
        """
        image = as_image(image)
        pre: Preprocessed | None = None
        classified: Classified | None = None
        if self.rotate == "auto":
            quarters, pre, classified = self.orientation(image, timings)
        else:
            quarters = int(self.rotate) // 90
        if pre is None or keep_stages:
            pre = preprocess(turn(image, quarters), self.config, keep_stages=keep_stages, timings=timings)
            classified = None
        start = time.perf_counter()
        reading = self.read_preprocessed(pre, classified)
        if timings is not None:
            timings["inference"] = timings.get("inference", 0.0) + time.perf_counter() - start
        reading = replace(reading, surface=pre.surface, stages=pre.stages)
        return self._to_source(reading, quarters, image.shape[:2])

    def orientation(
        self, image: np.ndarray, timings: dict | None = None
    ) -> tuple[int, Preprocessed | None, Classified | None]:
        """Quarter turns (clockwise) that make the writing upright, with its preprocessing and
        the classification of its batch (crops, then split pieces) when at hand.

        Each candidate turn is scored by the recogniser's mean digit confidence plus the
        geometry cue of `preprocess.orientation` (digits taller than wide, neighbours side
        by side), with a small prior for the image as given.  An upside-down candidate is
        scored on the same crops turned by 180 degrees, classified in the same call as the
        crops and split pieces the reading needs, so an upright photo costs one
        preprocessing and one onnxruntime call; a sideways one is preprocessed once more.

        Between a turn and its opposite the model's confidence is a poor guide: it reads an
        upside-down 3 as an 8, or a 5 as a 9, as surely as the upright digit.  When the
        model's card carries `turned_confusion` T (how it reads MNIST digits turned by
        180 degrees; benchmarks/turned_confusion.py), the two readings p (as is) and q
        (turned) of each crop are weighed instead: "upright" explains q as the turned view
        of p's digit, pTq, and "upside down" explains p as the turned view of q's, qTp.
        Evidence beyond `orientation_flip_margin` nats either way decides between a turn and
        its opposite.  Within it (a lone 6 or 9, read either way alike) the turn model
        (`inference.turn`, when shipped) adds its nats that each crop is upside down, from the
        hand's shape rather than the digit it reads as (a 6's curl, a 9's straight stem); if
        the sum is still within the margin, confidence and the prior for the photo as given
        decide, as without a table.
        """
        cfg = self.config
        nd = getattr(self.recognizer, "not_digit_index", None)
        found: dict[int, Preprocessed] = {}
        known: dict[int, Classified] = {}
        scores: dict[int, float] = {}
        confidence: dict[int, float] = {}
        sure: dict[int, int] = {}  # voting crops read as a digit at p >= 0.9, per turn
        turned = getattr(self.recognizer, "turned_confusion", None)
        if turned is not None:
            turned = (1.0 - cfg.turned_smoothing) * turned + cfg.turned_smoothing / len(turned)
        flip: dict[int, float] = {}  # nats of evidence that `base` reads upside down
        for base in (0, 1):
            pre = preprocess(turn(image, base), cfg, timings=timings)
            found[base] = pre
            n = len(pre)
            if n == 0:
                scores[base] = scores[base + 2] = 0.0
                continue
            pieces = [sp.crops for sp in pre.splits]
            labels, confs, probs = self.recognizer.classify(
                np.concatenate([pre.crops, pre.crops[:, ::-1, ::-1], *pieces])
            )
            keep = np.r_[0:n, 2 * n : len(probs)]  # the reading's own batch: crops, then split pieces
            known[base] = (labels[keep], confs[keep], probs[keep])
            digit = (probs if nd is None else np.delete(probs, nd, axis=1)).max(axis=1)  # "not a digit" counts against
            digit[:n] = self._with_pairs(pre, digit[:n], nd)
            # bars (a rule's piece, a page edge, a shadow's rim, a 1) read as 1s one way up and
            # are dashes (no candidates) turned by 90 degrees: only the other boxes vote
            geometry = pre.boxes if pre.level_boxes is None else pre.level_boxes  # where digits stand upright
            vote = orientation_voters(geometry, cfg.orientation_bar)
            upright = -sideways_evidence(geometry[vote])
            cue = cfg.orientation_geometry * float(np.clip(upright, -1.0, 1.0))
            confidence[base] = float(digit[:n][vote].mean())
            confidence[base + 2] = float(digit[n : 2 * n][vote].mean())
            sure[base] = int(np.count_nonzero(digit[:n][vote] >= cfg.orientation_sure))
            sure[base + 2] = int(np.count_nonzero(digit[n : 2 * n][vote] >= cfg.orientation_sure))
            scores[base] = confidence[base] + cue
            scores[base + 2] = confidence[base + 2] + cue
            if turned is not None and probs.shape[1] == len(turned):
                up, down = probs[:n].astype(np.float64), probs[n : 2 * n].astype(np.float64)
                as_is = np.einsum("ia,ab,ib->i", up, turned, down)
                flipped = np.einsum("ia,ab,ib->i", down, turned, up)
                flip[base] = robust_evidence(np.log(flipped) - np.log(as_is))
            if self.turn_model is not None and abs(flip.get(base, 0.0)) <= cfg.orientation_flip_margin:
                # not settled by what the digits read as: the hand's shape (a 6's curl, a 9's stem)
                read = vote & (np.maximum(digit[:n], digit[n : 2 * n]) >= 0.5)
                if read.any():
                    e = self.turn_model.upright(pre.crops[read])
                    flip[base] = flip.get(base, 0.0) + cfg.orientation_turn_weight * robust_evidence(-e)
            if (
                base == 0
                and int(vote.sum()) >= 2
                and upright >= cfg.upright_evidence
                and max(confidence[0], confidence[2]) >= cfg.orientation_min_conf
                and max(float(np.mean(digit[:n][vote] >= 0.5)), float(np.mean(digit[n : 2 * n][vote] >= 0.5)))
                >= cfg.upright_share
            ):
                # upright geometry whose crops read as digits: the sideways turns are not worth a
                # second pass (one that leaves marks unread, perhaps a sideways digit beside
                # bars that pass for 1s, is worth it)
                break
        for base, evidence in flip.items():  # a turn or its opposite: clear evidence decides...
            if evidence > cfg.orientation_flip_margin:
                scores.pop(base, None)
            elif evidence < -cfg.orientation_flip_margin:
                scores.pop(base + 2, None)
        if 0 in scores:  # ...else confidence, geometry and the prior for the photo as given
            scores[0] += cfg.orientation_prior
        elif 2 in scores:
            scores[2] += cfg.orientation_prior  # the photo's own axis, read upside down
        # upside down beyond doubt: the same crops read far better turned over (a crowded page
        # of small digits, whose mean confidence is low either way up, is still clearly turned;
        # letters, which read as no digit either way, are not)
        overturned = (
            cfg.orientation_flip_sure > 0
            and flip.get(0, 0.0) >= cfg.orientation_flip_sure
            and confidence.get(2, 0.0) >= cfg.orientation_flip_conf
        )
        best = 0  # no turn reads like digits (printed text, marks): nothing to turn by
        for q in sorted(scores, key=lambda q: -scores[q]):  # the best scored turn that is clear
            if q == 0 or (q == 2 and overturned) or turn_is_clear(q, confidence, sure, cfg):
                best = q
                break
        return best, found.get(best), known.get(best)

    def _with_pairs(self, pre: Preprocessed, digit: np.ndarray, nd: int | None) -> np.ndarray:
        """Each crop's digit confidence, or its pair split's where that would be read instead.

        Two fused digits read as no digit whole, and the reading takes their halves
        (`read_preprocessed`); turned by 90 degrees the same blob is tall and may pass for
        an 8.  Scored whole, the photo as given would lose to the turn: it is scored as it
        will be read, each fused pair at the confidence of its less sure half.
        """
        if pre.pairs is None:
            return digit
        unread = np.flatnonzero(digit < self.conf)
        extra = pre.pairs(unread.tolist()) if unread.size else ()
        if not extra:
            return digit
        _, _, probs = self.recognizer.classify(np.concatenate([sp.crops for sp in extra]))
        piece = (probs if nd is None else np.delete(probs, nd, axis=1)).max(axis=1)
        out = digit.copy()
        start = 0
        for sp in extra:
            weakest = float(piece[start : start + len(sp.crops)].min())
            start += len(sp.crops)
            if weakest >= self.config.split_min_conf and weakest > out[sp.index]:
                out[sp.index] = weakest
        return out

    def _to_source(self, reading: Reading, quarters: int, shape: tuple[int, int]) -> Reading:
        """The reading with its boxes in the frame of the image as given (before it was turned)."""
        if quarters % 4 == 0:
            return reading

        def back(digits: list[Digit]) -> list[Digit]:
            if not digits:
                return []
            boxes = boxes_to_source(np.array([d.box for d in digits]), quarters, shape)
            return [
                replace(d, box=(int(b[0]), int(b[1]), int(b[2]), int(b[3]))) for d, b in zip(digits, boxes, strict=True)
            ]

        return replace(
            reading,
            digits=back(reading.digits),
            rejected=back(reading.rejected),
            surface=None if reading.surface is None else points_to_source(reading.surface, quarters, shape),
            image_size=(int(shape[0]), int(shape[1])),
            rotation=(quarters % 4) * 90,
        )

    def _as_digits(
        self, labels: np.ndarray, confs: np.ndarray, probs: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels, confidences, is_mark): a sure "not a digit" is a mark; a doubtful one is
        read as its likeliest digit, at that digit's probability."""
        nd = getattr(self.recognizer, "not_digit_index", None)  # None: a ten-digit model (or a stand-in)
        is_mark = np.zeros(len(labels), bool)
        if nd is not None and len(labels) and probs is not None:
            top = labels == nd
            is_mark = top & (confs >= self.not_digit_conf)
            doubt = np.nonzero(top & ~is_mark)[0]
            if doubt.size:
                labels, confs = labels.copy(), confs.copy()
                digit_probs = np.delete(probs[doubt], nd, axis=1)
                labels[doubt] = digit_probs.argmax(1)
                confs[doubt] = digit_probs.max(1)
        return labels, confs, is_mark

    def read_preprocessed(self, pre: Preprocessed, classified: Classified | None = None) -> Reading:
        """Classify every crop, and every proposed split's pieces, in one batch.

        `classified`: that batch's (labels, confidences, probabilities) when already at hand.

        With an 11-class model a crop answered "not a digit" goes to `rejected` (kind
        NOT_DIGIT, label -1) and never into the text; as a split's piece it fails the split.
        """
        n = len(pre)
        if classified is None:
            batch = np.concatenate([pre.crops] + [sp.crops for sp in pre.splits]) if pre.splits else pre.crops
            classified = self.recognizer.classify(batch)
        labels, confs, is_mark = self._as_digits(*classified)
        digit_conf = np.where(is_mark, 0.0, confs)  # how sure it is a digit: nothing when it is not one
        splits = pre.splits
        if pre.pairs is not None and n:
            # boxes about as wide as tall that would not be read whole may be two touching
            # digits: their pieces are cut and classified now, in one more call, and only for them
            unread = np.flatnonzero(digit_conf[:n] < self.conf)
            extra = pre.pairs(unread.tolist()) if unread.size else ()
            if extra:
                more = self._as_digits(*self.recognizer.classify(np.concatenate([sp.crops for sp in extra])))
                labels = np.concatenate([labels, more[0]])
                confs = np.concatenate([confs, more[1]])
                is_mark = np.concatenate([is_mark, more[2]])
                digit_conf = np.where(is_mark, 0.0, confs)
                splits = splits + extra

        def make(j: int, row: np.ndarray, line: int) -> Digit:
            box = _box(row)
            if is_mark[j]:
                return Digit(-1, float(confs[j]), box, line, NOT_DIGIT)
            return Digit(int(labels[j]), float(confs[j]), box, line)

        per_candidate = [[make(i, pre.boxes[i], int(pre.lines[i]))] for i in range(n)]
        start = n
        best: dict[int, tuple[float, list[Digit]]] = {}
        for sp in splits:
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
        accepted: list[Digit] = []
        rejected: list[Digit] = []
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

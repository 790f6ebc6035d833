"""The reader's half of touching-digit splitting: the classifier decides, not the width."""

import numpy as np
import pytest

from digitlens.inference import Reader
from digitlens.preprocess import PreprocessConfig, Preprocessed
from digitlens.preprocess.pipeline import Split
from tests.conftest import paper_with_digits


class ScriptedRecognizer:
    """Stands in for the network: the crop's mean brightness encodes the confidence wanted."""

    def __init__(self):
        self.batches = []

    def classify(self, crops):
        self.batches.append(len(crops))
        conf = crops.mean(axis=(1, 2)).astype(np.float32)
        labels = np.arange(len(crops)) % 10
        return labels, conf, None


def crops_with_conf(*conf):
    return np.stack([np.full((28, 28), c, np.float32) for c in conf])


def reading(whole_conf, proposals, config=PreprocessConfig()):
    pre = Preprocessed(
        crops_with_conf(whole_conf),
        np.array([[0, 0, 60, 20]]),
        np.array([0]),
        (100, 100),
        splits=tuple(
            Split(0, crops_with_conf(*p), np.array([[i * 10, 0, 10, 20] for i in range(len(p))])) for p in proposals
        ),
    )
    r = Reader.__new__(Reader)
    r.recognizer, r.config, r.conf = ScriptedRecognizer(), config, 0.3
    return r.read_preprocessed(pre), r.recognizer.batches


def test_pieces_replace_the_whole_when_each_is_surer():
    rd, batches = reading(0.5, [(0.98, 0.95)])
    assert [d.confidence for d in rd.digits] == pytest.approx([0.98, 0.95])
    assert batches == [3]  # the whole and its pieces in one call


def test_the_whole_stays_when_any_piece_is_less_sure():
    rd, _ = reading(0.93, [(0.99, 0.92)])
    assert [d.confidence for d in rd.digits] == pytest.approx([0.93])


def test_the_surest_of_several_proposals_wins():
    rd, _ = reading(0.5, [(0.93, 0.92), (0.97, 0.96, 0.95), (0.99, 0.3, 0.99, 0.99)])
    assert [d.confidence for d in rd.digits] == pytest.approx([0.97, 0.96, 0.95])


def test_unsure_pieces_never_replace_an_unsure_whole():
    rd, _ = reading(0.2, [(0.85, 0.8)])  # better than the whole, but below split_min_conf
    assert len(rd.digits) == 0 and len(rd.rejected) == 1
    rd, _ = reading(0.2, [(0.85, 0.8)], PreprocessConfig(split_min_conf=0.5))
    assert len(rd.digits) == 2


def test_a_split_must_point_at_a_candidate():
    with pytest.raises(ValueError):
        Preprocessed(
            crops_with_conf(0.5),
            np.array([[0, 0, 9, 9]]),
            np.array([0]),
            (10, 10),
            splits=(Split(3, crops_with_conf(0.5, 0.5), np.zeros((2, 4), np.int64)),),
        )
    with pytest.raises(ValueError):
        Split(0, crops_with_conf(0.5), np.zeros((1, 4), np.int64))  # one piece is no split


def test_touching_digits_are_read_apart(reader, mnist_test):
    # a 0 and a 4 overlapping by 3 px: one connected blob, which alone reads as a confident "4"
    idx = [3, 4]  # MNIST test: 0, 4
    labels = "".join(str(mnist_test.labels[i]) for i in idx)
    img, _ = paper_with_digits([mnist_test.images[i] for i in idx], origin=(60, 100), gap=-0.04)
    solo, _ = paper_with_digits([mnist_test.images[i] for i in (0, 1)], origin=(60, 300))
    img = np.minimum(img, solo)
    pre = reader.read(img)
    assert pre.text == labels + " " + "".join(str(mnist_test.labels[i]) for i in (0, 1))
    assert [d.box[0] for d in pre.digits[:2]] == sorted(d.box[0] for d in pre.digits[:2])
    whole = Reader(config=PreprocessConfig(max_split=1)).read(img)  # no split proposed: the blob is one crop
    top = [d for d in whole.digits + whole.rejected if d.box[1] < 200]
    assert len(top) == 1 and labels not in whole.text  # read as one digit, or (11 classes) as no digit at all


def test_touching_pairs_as_wide_as_tall_are_tried_as_two_digits(mnist_test):
    """A fused pair is no wider than a broad digit, so its width cannot ask for a split;
    a whole that reads as no digit can (generator case: make_touching_pair_scene)."""
    from dataclasses import replace

    from digitlens.synth.pens import DigitInk
    from digitlens.synth.scenes import make_touching_pair_scene

    ink = DigitInk(mnist_test.images)
    scenes = [
        make_touching_pair_scene(np.random.default_rng([11, i]), mnist_test.images, mnist_test.labels, ink=ink)
        for i in range(40)
    ]
    with_pairs = Reader()
    without = Reader(config=replace(PreprocessConfig(), pair_aspect=0.0))
    read_with = sum(with_pairs.read(s.image).text == s.text for s in scenes)
    read_without = sum(without.read(s.image).text == s.text for s in scenes)
    assert read_with >= read_without + 4  # measured 19 against 12 of 40


def test_pair_pieces_are_asked_for_only_where_the_whole_would_not_be_read():
    asked = []

    def pairs(indices):
        asked.append(list(indices))
        halves = np.array([[0, 30, 10, 20], [10, 30, 10, 20]])
        return tuple(Split(i, crops_with_conf(0.97, 0.95), halves) for i in indices)

    pre = Preprocessed(
        crops_with_conf(0.9, 0.1),  # a broad digit read well, and a fused pair read as nothing
        np.array([[0, 0, 20, 20], [0, 30, 20, 20]]),
        np.array([0, 1]),
        (100, 100),
        pairs=pairs,
    )
    r = Reader.__new__(Reader)
    r.recognizer, r.config, r.conf = ScriptedRecognizer(), PreprocessConfig(), 0.3
    rd = r.read_preprocessed(pre)
    assert asked == [[1]]  # the well-read whole is never cut
    assert [d.confidence for d in rd.digits] == pytest.approx([0.9, 0.97, 0.95])
    assert r.recognizer.batches == [2, 2]  # the crops, then only the asked pieces


class ProbRecognizer(ScriptedRecognizer):
    """As ScriptedRecognizer, with probabilities: digit 0 at the wanted confidence."""

    def classify(self, crops):
        _, conf, _ = super().classify(crops)
        probs = np.repeat(((1 - conf) / 9)[:, None], 10, axis=1)
        probs[:, 0] = conf
        return np.zeros(len(crops), np.int64), conf, probs


def test_orientation_scores_a_fused_pair_as_it_will_be_read():
    """A fused pair reads as no digit whole and as two sure digits cut: the photo as given is
    scored at its less sure half, so a turn that passes the blob for an 8 does not win."""
    asked = []

    def pairs(indices):
        asked.append(list(indices))
        return tuple(
            Split(i, crops_with_conf(0.97, 0.95), np.array([[0, 0, 10, 20], [10, 0, 10, 20]])) for i in indices
        )

    def unsure_pairs(indices):
        return tuple(Split(i, crops_with_conf(0.97, 0.6), np.array([[0, 0, 10, 20], [10, 0, 10, 20]])) for i in indices)

    boxes = np.array([[0, 0, 20, 20], [30, 0, 20, 20]])
    r = Reader.__new__(Reader)
    r.recognizer, r.config, r.conf = ProbRecognizer(), PreprocessConfig(), 0.3
    pre = Preprocessed(crops_with_conf(0.9, 0.1), boxes, np.array([0, 0]), (100, 100), pairs=pairs)
    assert r._with_pairs(pre, np.array([0.9, 0.1]), None) == pytest.approx([0.9, 0.95])
    assert asked == [[1]]  # only the crop that would not be read whole is cut
    pre = Preprocessed(crops_with_conf(0.9, 0.1), boxes, np.array([0, 0]), (100, 100), pairs=unsure_pairs)
    assert r._with_pairs(pre, np.array([0.9, 0.1]), None) == pytest.approx([0.9, 0.1])  # below split_min_conf

"""Segmentation: the digit height is the writing's, not an object's that outweighs it."""

import cv2
import numpy as np

from digitlens.inference import Reader
from digitlens.preprocess import PreprocessConfig, preprocess
from digitlens.preprocess.segment import Candidate, reference_height, writing_height
from tests.conftest import paper_with_digits


def _cand(h: int, ink: int, w: int | None = None) -> Candidate:
    return Candidate(0, 0, w or max(2, h * 2 // 3), h, [1], ink)


def test_many_alike_small_pieces_beside_one_heavy_object_set_the_height():
    digits = [_cand(18 + (i % 4), 40) for i in range(20)]  # a page of small digits: 800 px of ink
    pen = _cand(90, 1500)  # a pen lying on it: more ink than all of them
    assert reference_height([*digits, pen], PreprocessConfig()) == 90
    assert 18 <= writing_height([*digits, pen], PreprocessConfig()) <= 21
    assert writing_height([*digits, pen], PreprocessConfig(small_writing=0)) == 90  # off


def test_crumbs_around_one_big_digit_do_not():
    rng = np.random.default_rng(0)
    crumbs = [_cand(int(h), int(h)) for h in rng.integers(8, 60, 12)]  # specks of every size, little ink
    digit = _cand(300, 9000)
    assert writing_height([*crumbs, digit], PreprocessConfig()) == 300
    few = [_cand(20, 40) for _ in range(3)]  # nor do a few small digits beside a big one
    assert writing_height([*few, _cand(90, 1500)], PreprocessConfig()) == 90


def test_each_condition_is_needed():
    pen = _cand(90, 1500)
    # specks of every height (not alike), though inky enough
    mixed = [_cand(h, 60) for h in (10, 12, 14, 30, 9, 28, 11, 26, 10, 29)]
    assert writing_height([*mixed, pen], PreprocessConfig()) == 90
    assert writing_height([*mixed, pen], PreprocessConfig(small_alike=5.0)) < 90
    # alike, but a trace of ink against the pen's (a row of dots beside a big digit)
    dots = [_cand(10, 12) for _ in range(10)]
    assert writing_height([*dots, pen], PreprocessConfig()) == 90
    assert writing_height([*dots, pen], PreprocessConfig(small_ink=0.05)) == 10
    # three tall pieces are digits, whatever lies beside them
    ticks = [_cand(20, 200) for _ in range(16)]
    tall = [_cand(90, 1500) for _ in range(3)]
    assert writing_height([*ticks, *tall], PreprocessConfig()) == 90
    assert writing_height([*ticks, *tall], PreprocessConfig(small_objects=3)) == 20


def test_small_digits_beside_a_pen_lying_on_the_page_are_read(mnist_test):
    idx = list(range(10, 22))
    img, _ = paper_with_digits([mnist_test.images[i] for i in idx], height=22, size=(640, 480), origin=(60, 300))
    cv2.line(img, (380, 40), (520, 220), 25, 14)  # a dark pen, heavier in ink than all the digits
    truth = "".join(str(mnist_test.labels[i]) for i in idx)
    got = Reader(rotate=0).read(img).text.replace(" ", "")
    assert got in (truth, "1" + truth)  # the pen itself may pass for a 1 (its own height, its own line)
    assert truth not in Reader(rotate=0, config=PreprocessConfig(small_writing=0)).read(img).text.replace(" ", "")


def test_dark_punched_holes_do_not_set_the_level_of_a_paler_pen(mnist_test):
    picks = [int(np.flatnonzero(mnist_test.labels == d)[0]) for d in (4, 7, 2, 5, 8, 3)]
    img, boxes = paper_with_digits([mnist_test.images[i] for i in picks], height=30, ink=120, origin=(150, 200))
    for k in range(6):  # a ring binder's holes down the margin, far darker than the pen
        cv2.ellipse(img, (40, 30 + 70 * k), (5, 8), 0, 0, 360, 20, -1)

    def digits_found(pre) -> int:
        return sum(any(abs(b[0] - x) <= 3 and abs(b[1] - y) <= 3 for b in pre.boxes) for x, y, _w, _h in boxes)

    assert digits_found(preprocess(img)) == 6
    # weighed with the holes (page-wide), the pen's digits look like shadows beside them, and go
    assert digits_found(preprocess(img, PreprocessConfig(solid_fill=0))) == 0


def _leaning_pair(joined: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two strokes leaning right, 10 px apart, each over columns the other also covers (ink, left, right)."""
    left, right = np.zeros((40, 50), bool), np.zeros((40, 50), bool)
    for r in range(40):
        left[r, 8 + r // 2 : 11 + r // 2] = True
        right[r, 18 + r // 2 : 21 + r // 2] = True
    ink = left | right
    if joined:
        ink[20, 18:29] = True  # a bar from one to the other: one connected piece
    return ink.astype(np.float32), left, right


def test_the_seam_goes_round_a_stroke_that_leans_over_its_neighbour():
    """No straight cut parts two leaning strokes; a path along the gap between them does."""
    from digitlens.preprocess.segment import seam

    ink, _, _ = _leaning_pair(joined=False)
    path = seam(ink, 17, 33)
    assert path.shape == (40,) and path.min() >= 17 and path.max() <= 33
    assert float(ink[np.arange(40), path].sum()) == 0.0  # crosses no ink
    assert np.abs(np.diff(path)).max() <= 1
    assert (ink[:, 17:34].sum(axis=0) > 0).all()  # while every straight cut in the band crosses some


def test_curved_cut_gives_each_piece_its_own_stroke():
    from digitlens.preprocess.segment import Candidate, _cut, member_mask

    ink, left, right = _leaning_pair(joined=True)
    labels = (ink > 0).astype(np.int32)
    c = Candidate(0, 0, 50, 40, [1], int(ink.sum()))
    for gain in (0.5, 0.0):
        pieces = _cut(c, ink, 2, seam_gain=gain)
        assert len(pieces) == 2
        own = []
        for p in pieces:
            m = np.zeros(ink.shape, bool)
            m[p.y : p.y2, p.x : p.x2] = member_mask(labels, p)
            own.append(m)
        assert not (own[0] & own[1]).any()  # no pixel in both pieces
        if gain:
            assert own[0][left].all() and not own[0][right].any()  # the left stroke whole, none of the right
            assert own[1][right].all() and not own[1][left].any()
        else:
            assert own[0][right].any() or own[1][left].any()  # a straight cut gives a piece of its neighbour


def test_a_cut_piece_drops_its_neighbours_crumbs_and_keeps_its_own_bar():
    from digitlens.preprocess.segment import _without_crumbs

    region = np.zeros((30, 30), np.int32)
    region[2:28, 4:8] = 1  # the piece's own stroke
    region[2:5, 12:16] = 2  # a detached bar of its own, small
    region[20:24, 16:30] = 3  # the neighbour's stroke, cut at column 18
    keep = np.zeros((30, 30), bool)
    keep[:, :18] = True
    own = region > 0
    out = _without_crumbs(own & keep, own & ~keep, region)
    assert out[region == 1].all() and out[region == 2].all()  # the stroke and its own bar stay
    assert not out[region == 3].any()  # the neighbour's crumb goes


def test_a_touching_pair_is_cut_only_when_asked_and_once(monkeypatch):
    """The seam search costs a path per row: the pieces of a box that may be a fused pair are
    cut when the reader asks for them, and asking twice does not cut again."""
    import digitlens.preprocess.pipeline as pipeline

    img = np.full((120, 200), 255, np.uint8)
    cv2.ellipse(img, (76, 60), (14, 26), 0, 0, 360, 0, 5)  # two 0s touching: as wide as tall together
    cv2.ellipse(img, (102, 60), (14, 26), 0, 0, 360, 0, 5)
    cv2.putText(img, "7", (140, 86), cv2.FONT_HERSHEY_SIMPLEX, 1.9, 0, 5)  # and a narrow 7
    calls = []
    real = pipeline.split_pair
    monkeypatch.setattr(pipeline, "split_pair", lambda *a, **k: calls.append(1) or real(*a, **k))
    pre = preprocess(img)
    assert len(pre) == 2 and pre.pairs is not None
    assert calls == []  # nothing cut yet
    wide = int(np.argmax(pre.boxes[:, 2]))
    first = pre.pairs([0, 1])
    assert [sp.index for sp in first] == [wide] and first[0].crops.shape == (2, 28, 28)
    assert len(calls) == 1  # both were asked for: the narrow 7 is no pair and is not cut
    assert pre.pairs([wide]) == first and len(calls) == 1  # the second ask is answered from the first

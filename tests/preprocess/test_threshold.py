"""Thresholding (preprocess.threshold): hysteresis keeps a pale stroke's faint stretches; objects do not vote."""

import cv2
import numpy as np
import pytest

from digitlens.preprocess import PreprocessConfig, preprocess
from digitlens.preprocess.threshold import (
    binarize,
    faint_ridges,
    find_rules,
    grow_into,
    not_writing,
    remove_border_runs,
    remove_rules,
    rule_chords,
)
from tests.conftest import paper_with_digits


def test_grow_into_keeps_only_weak_pieces_that_hold_a_seed():
    weak = np.zeros((40, 60), np.uint8)
    weak[5:10, 5:50] = 255  # a stroke, strong at one end
    weak[25:30, 5:50] = 255  # a faint mark with no strong pixel
    seeds = np.zeros_like(weak)
    seeds[6:9, 5:12] = 255
    out = grow_into(seeds, weak, reach=100)
    assert (out[5:10, 5:50] == 255).all()
    assert not out[25:30].any()
    near = grow_into(seeds, weak, reach=10)  # no further along it than `reach`
    assert (near[5:10, 5:20] == 255).all() and not near[5:10, 30:50].any()
    assert not grow_into(seeds, weak, reach=100, max_gain=2.0)[5:10, 20:50].any()  # far past its seeds: no growth


def test_faint_ridges_are_a_stroke_not_the_halo_of_a_dark_one():
    ink = np.zeros((30, 60), np.uint8)
    ink[10:13, 5:25] = 200  # a dark stroke...
    ink[9, 5:25] = ink[13, 5:25] = 30  # ...with its soft edge
    ink[10:13, 35:55] = 30  # a faint stroke of the same level
    r = faint_ridges(ink, 0.6)
    assert not r[9, 5:25].any() and not r[13, 5:25].any()
    assert r[11, 35:55].all()


def _pale_stroke(core: float, tail: float) -> tuple[np.ndarray, np.ndarray]:
    """A flat page (grey, ink) with one stroke: `core` ink along a third of it, fading to `tail`."""
    ink = np.zeros((120, 200), np.float32)
    cv2.line(ink, (20, 60), (80, 60), core, 3)
    cv2.line(ink, (80, 60), (180, 60), tail, 3)
    cv2.line(ink, (20, 100), (180, 100), tail, 3)  # a faint line on its own
    grey = 0.9 * (1 - ink)
    return ink, grey


def test_hysteresis_follows_a_stroke_under_the_floor_and_nothing_else():
    cfg = PreprocessConfig(quiet_contrast=0.0)  # the floor stays at min_contrast however quiet the paper
    ink, grey = _pale_stroke(core=cfg.min_contrast + 0.03, tail=0.8 * cfg.min_contrast)
    cfg = cfg.with_(hysteresis=0.5, hysteresis_reach=100.0)  # the whole faint stretch, however long
    without = binarize(ink, grey, True, cfg.with_(hysteresis=0.0))
    assert without[60, 20:75].all() and not without[60, 100:180].any()
    mask = binarize(ink, grey, True, cfg)
    assert mask[60, 20:180].all()  # the faint stretch joins the stroke it continues
    assert not mask[100].any()  # a faint line with no strong part stays paper


def test_a_pale_pen_clears_the_floor_on_quiet_paper_but_not_on_grainy_or_ruled_paper():
    cfg = PreprocessConfig()
    pale = 0.8 * cfg.min_contrast  # under the floor, over the quiet floor
    assert cfg.quiet_contrast < pale
    ink, grey = _pale_stroke(core=pale, tail=pale)
    quiet = binarize(ink, grey, True, cfg)
    assert quiet[60, 20:180].all() and quiet[100, 20:180].all()  # on clean paper: both strokes are ink
    assert not binarize(ink, grey, True, cfg, quiet=False).any()  # ruled paper keeps the floor
    assert not binarize(ink, grey, True, cfg.with_(quiet_contrast=0.0)).any()
    # grain: a field whose upper decile is 6 % ink keeps the floor over it, pale strokes and all
    rng = np.random.default_rng(1)
    grain = cv2.GaussianBlur(rng.uniform(0, 1, ink.shape).astype(np.float32), (0, 0), 2.0)
    grain = 0.06 * grain / float(np.percentile(grain, 90))
    grainy = np.maximum(ink, grain).astype(np.float32)
    mask = binarize(grainy, 0.9 * (1 - grainy), True, cfg)
    assert not mask[60, 20:180].any() and cv2.countNonZero(mask) < 0.01 * mask.size


def test_hysteresis_never_goes_under_the_noise():
    cfg = PreprocessConfig(hysteresis=0.5)
    rng = np.random.default_rng(0)
    grey = np.clip(0.8 + rng.normal(0, 0.03, (120, 200)), 0, 1).astype(np.float32)  # noisy paper
    ink = np.clip(1 - grey / 0.8, 0, 1).astype(np.float32)
    ink[60, 20:180] = cfg.min_contrast + 0.2  # one clear stroke
    mask = binarize(ink, grey, True, cfg)
    assert cv2.countNonZero(mask) < 0.02 * mask.size  # the noise around it is not grown into


def test_hysteresis_on_an_all_ink_image_reads_nothing():
    from digitlens import Reader

    reader = Reader(config=PreprocessConfig(hysteresis=0.5))
    for shape in [(100, 100), (1, 50), (50, 1)]:  # all black: no paper, no stroke width to grow by
        assert reader.read(np.zeros(shape, np.uint8)).text == ""


def _pen_on_page(ink: int = 150) -> np.ndarray:
    """Five pale digit-like strokes on a page, and a black pen lying below them."""
    page = np.full((480, 640), 225, np.uint8)
    for k in range(5):  # pale loops and bars, 60 px tall, 2-3 px strokes
        x = 60 + 90 * k
        if k % 2:
            cv2.ellipse(page, (x, 110), (18, 30), 0, 0, 360, ink, 3)
        else:
            cv2.polylines(page, [np.array([(x - 15, 80), (x + 15, 80), (x - 5, 140)], np.int32)], False, ink, 3)
    pen = cv2.boxPoints(((320, 330), (420, 26), -8)).astype(np.int32)
    cv2.fillPoly(page, [pen], 15)
    return page


def test_not_writing_finds_solid_objects_and_border_runs_but_no_strokes():
    mask = np.zeros((480, 640), np.uint8)
    cv2.fillPoly(mask, [cv2.boxPoints(((320, 330), (420, 26), -8)).astype(np.int32)], 255)  # a pen
    mask[:, :30] = 255  # the desk beside the page, along the frame's edge
    cv2.ellipse(mask, (200, 110), (18, 30), 0, 0, 360, 255, 3)  # a 0
    mask[80:140, 400:406] = 255  # a 1 as thick as the pen's width is thin
    objects = not_writing(mask)
    assert objects[330, 320] == 255 and objects[240, 10] == 255
    assert not objects[80:141, 180:221].any() and not objects[80:140, 400:406].any()
    assert not not_writing(np.zeros_like(mask)).any()


def test_a_dark_pen_on_the_page_does_not_hide_pale_writing():
    page = _pen_on_page()
    off = preprocess(page, PreprocessConfig(object_revote=0.0))
    on = preprocess(page)
    assert len(off) == 0  # the pen's Otsu level stands above every pale stroke
    assert len(on) == 5
    xs = sorted(int(b[0] + b[2] / 2) for b in on.boxes)
    assert all(abs(x - (60 + 90 * k)) < 25 for k, x in enumerate(xs))
    assert all(b[1] + b[3] < 200 for b in on.boxes)  # the pen itself is no digit


def test_small_punched_holes_do_not_set_the_level_of_a_pale_pen(mnist_test):
    # a binder's holes far darker than the pen and small against the frame (14 px in 480):
    # round and solid, they are objects, not writing, and the level is voted again without them
    picks = [int(np.flatnonzero(mnist_test.labels == d)[0]) for d in (4, 7, 2, 5, 8, 3)]
    img, boxes = paper_with_digits([mnist_test.images[i] for i in picks], height=30, ink=150, origin=(150, 200))
    for k in range(6):
        cv2.circle(img, (40, 30 + 70 * k), 7, 20, -1)

    def digits_found(pre) -> int:
        return sum(any(abs(b[0] - x) <= 3 and abs(b[1] - y) <= 3 for b in pre.boxes) for x, y, _w, _h in boxes)

    assert digits_found(preprocess(img)) == 6
    assert digits_found(preprocess(img, PreprocessConfig(object_disc=0.0))) == 0
    mask = np.zeros((480, 640), np.uint8)
    cv2.circle(mask, (40, 40), 7, 255, -1)  # a hole: an object
    cv2.circle(mask, (200, 200), 12, 255, 3)  # a 0, round but a ring: writing
    cv2.circle(mask, (300, 200), 2, 255, -1)  # a pen's dot: smaller than any digit
    objects = not_writing(mask)
    assert objects[40, 40] == 255 and not objects[185:216, 185:216].any() and not objects[195:206, 295:306].any()


def test_a_bold_digit_alone_is_not_taken_for_an_object(mnist_test):
    one = mnist_test.images[np.flatnonzero(mnist_test.labels == 1)[0]]
    page, _ = paper_with_digits([one], height=400, origin=(280, 40))  # solid and thick, filling the frame
    on, off = preprocess(page), preprocess(page, PreprocessConfig(object_revote=0.0))
    assert len(on) == len(off) == 1
    assert np.array_equal(on.crops, off.crops)


def test_a_sliver_along_the_surface_outline_goes_and_a_digit_touching_it_stays():
    # the surface: a slanted sheet whose hull runs a little off its real edge
    outside = np.zeros((400, 400), np.uint8)
    cv2.fillPoly(outside, [np.array([[300, 0], [399, 0], [399, 399], [240, 399]], np.int32)], 255)
    mask = np.zeros_like(outside)
    # a sliver of desk inside the hull, hugging the outline for 200 px
    cv2.line(mask, (297, 10), (269, 200), 255, 3)
    # a digit-sized mark further down that touches the outline with one stroke end
    cv2.ellipse(mask, (200, 300), (18, 28), 0, 0, 360, 255, 3)
    cv2.line(mask, (218, 300), (262, 300), 255, 3)
    mask[outside > 0] = 0
    kept, removed = remove_border_runs(mask, PreprocessConfig(), outside)
    assert removed[100:110, 275:295].any() and not kept[0:210, 240:300].any()  # the sliver went
    assert kept[272, 200] == 255 and kept[300, 240] == 255  # the mark stayed whole
    same, nothing = remove_border_runs(mask, PreprocessConfig())  # without the outline: kept
    assert not nothing.any() and np.array_equal(same, mask)
    # nor does the sliver vote for the ink level: it is an object, the mark is not
    objects = not_writing(mask, PreprocessConfig(), outside)
    assert objects[100:110, 275:295].any() and not objects[250:350, 150:270].any()
    assert not not_writing(mask, PreprocessConfig()).any()


def _ruled(h: int = 400, w: int = 600) -> np.ndarray:
    ink = np.zeros((h, w), np.float32)
    for y in (60, 130, 200, 270, 340):
        ink[y : y + 2, :] = 0.3
    ink[200:202, 80:110] = 0.0  # one rule broken near its end (a crossing, an eraser, a fold)
    return ink


@pytest.mark.parametrize("edge_to_edge", [True, False])
def test_what_is_left_of_a_rule_past_a_break_goes_with_it(edge_to_edge):
    ink = _ruled()
    cfg = PreprocessConfig(rule_edge_to_edge=edge_to_edge)
    rules = find_rules(ink, cfg)
    assert rules[200:202, 110:600].all() and not rules[200:202, 0:80].any()  # the stub is too short to be found
    mask = (ink > 0).astype(np.uint8) * 255
    mask[150:250, 92:96] = 255  # a 1 written where the rule is broken
    mask[150:250, 300:304] = 255  # and one crossing the rule
    cleaned = remove_rules(mask, ink, rules, cfg)
    assert cleaned[200:202, 0:30].any() != edge_to_edge  # the stub, on the rule's line, goes with the rule
    assert cleaned[150:250, 92:96].all() and cleaned[150:250, 300:304].all()  # ...and the 1s stay whole
    assert chords_reach_the_edges(cfg, rules)


def chords_reach_the_edges(cfg: PreprocessConfig, rules: np.ndarray) -> bool:
    chords = rule_chords(rules, cfg)
    return not cfg.rule_edge_to_edge or bool(chords[200, 0] and chords[200, -1] and not chords[230, 300])


def test_one_tilted_rule_crossing_a_close_up_is_a_rule_and_a_thick_stroke_is_not():
    ink = np.zeros((480, 640), np.float32)
    cv2.line(ink, (0, 60), (639, 300), 0.3, 3)  # the one rule of a close-up, tilted 20 degrees
    cv2.line(ink, (420, 0), (440, 479), 0.8, 22)  # a 1 filling the frame, in a thick pen
    cv2.line(ink, (250 + 160, 20), (250, 460), 0.8, 3)  # and one slanted 20 degrees, in a thin pen
    alone = find_rules(ink, PreprocessConfig(rule_edge_to_edge=False))
    found = find_rules(ink)
    assert not alone[:, :400].any()  # one line alone is no family...
    on_rule = np.array([found[round(60 + 240 * x / 639), x] > 0 for x in range(0, 400, 10)])
    assert on_rule.all()  # ...but one crossing the frame from edge to edge is a rule
    assert cv2.countNonZero(found[100:479, 425:435]) < 0.1 * 379 * 10  # the thick 1 is no rule...
    slanted = [found[y, round(250 + 160 * (460 - y) / 440)] > 0 for y in range(40, 440, 10)]
    assert sum(slanted) <= 3  # ...nor the thin slanted one, long as it is: it ends inside the frame (crossings aside)

import cv2
import numpy as np
import pytest

from digitlens import conventions as C
from digitlens.preprocess import PreprocessConfig, preprocess
from digitlens.preprocess.normalize import to_mnist
from digitlens.preprocess.segment import Candidate, reading_order
from tests.conftest import paper_with_digits


def test_blank_pages_give_no_digits():
    rng = np.random.default_rng(0)
    for img in (
        np.full((480, 640), 235, np.uint8),
        np.full((480, 640), 20, np.uint8),
        np.clip(rng.normal(200, 4, (480, 640)), 0, 255).astype(np.uint8),
    ):
        assert len(preprocess(img)) == 0


def test_lit_page_with_gradient_gives_no_digits():
    x = np.linspace(0.5, 1.0, 640, dtype=np.float32)
    page = np.tile(x, (480, 1)) * 230
    assert len(preprocess(page.astype(np.uint8))) == 0


def test_crops_follow_mnist_conventions(mnist_test):
    img, _boxes = paper_with_digits([mnist_test.images[i] for i in range(4)])
    pre = preprocess(img)
    assert len(pre) == 4
    assert pre.crops.dtype == np.float32 and pre.crops.shape == (4, 28, 28)
    assert 0.0 <= pre.crops.min() and pre.crops.max() <= 1.0
    for crop in pre.crops:
        ys, xs = np.nonzero(crop > 0.05)
        assert max(np.ptp(ys), np.ptp(xs)) + 1 <= C.BOX_SIZE + 2  # fitted in the 20px box
        m = cv2.moments(crop)
        assert abs(m["m10"] / m["m00"] - 13.5) < 1.0 and abs(m["m01"] / m["m00"] - 13.5) < 1.0
        assert crop[0].max() < 0.05 and crop[-1].max() < 0.05  # black border, white digit


def test_boxes_are_in_original_coordinates_after_downscaling(mnist_test):
    img, boxes = paper_with_digits(
        [mnist_test.images[i] for i in range(3)], height=300, size=(2400, 1000), origin=(200, 300)
    )
    pre = preprocess(img, PreprocessConfig(max_side=800))
    assert pre.image_size == (1000, 2400)
    for got, want in zip(pre.boxes, boxes, strict=True):
        # within 7% of the digit's height: the anti-aliased rim is ink or not
        assert abs(got[0] - want[0]) <= 21 and abs(got[1] - want[1]) <= 21
        assert abs(got[3] - want[3]) <= 42


def test_light_ink_on_dark_board_is_detected(mnist_test):
    img, _ = paper_with_digits([mnist_test.images[i] for i in range(3)], paper=40, ink=230)
    pre = preprocess(img)
    assert not pre.dark_ink and len(pre) == 3
    forced = preprocess(img, PreprocessConfig(invert=True))  # wrong polarity forced: not the same result
    assert forced.dark_ink


def test_ruled_lines_do_not_become_digits(mnist_test):
    img, _ = paper_with_digits([mnist_test.images[i] for i in range(5)], origin=(40, 200))
    for y in range(30, 480, 45):
        cv2.line(img, (0, y), (640, y + 6), 170, 2)
    cv2.line(img, (60, 0), (60, 480), 150, 1)
    pre = preprocess(img)
    assert len(pre) == 5


def test_digits_15px_tall_and_touching_the_border(mnist_test):
    img, _ = paper_with_digits([mnist_test.images[i] for i in range(5)], height=15, origin=(300, 200))
    assert len(preprocess(img)) == 5
    edge, _ = paper_with_digits([mnist_test.images[i] for i in range(2)], height=100, origin=(0, 0))
    assert len(preprocess(edge)) == 2


def test_one_digit_filling_the_frame(mnist_test):
    d = mnist_test.images[0]
    img = 255 - cv2.resize(d, (480, 480), interpolation=cv2.INTER_CUBIC)
    pre = preprocess(img)
    assert len(pre) == 1


def test_reading_order_lines_then_left_to_right():
    cands = [
        Candidate(80, 10, 20, 30),
        Candidate(10, 100, 20, 30),
        Candidate(10, 12, 20, 30),
        Candidate(70, 95, 20, 30),
    ]
    ordered = reading_order(cands, PreprocessConfig())
    assert [(c.x, c.line) for c in ordered] == [(10, 0), (80, 0), (10, 1), (70, 1)]


def test_reading_order_puts_a_far_block_on_the_same_row_apart():
    # two columns: a gap of 6 digit heights separates blocks, which are read as lines of their own
    cands = [Candidate(x, y, 20, 30) for y in (10, 60) for x in (10, 35, 60, 240, 265)]
    ordered = reading_order(cands, PreprocessConfig())
    assert [(c.x, c.y, c.line) for c in ordered] == [
        (10, 10, 0), (35, 10, 0), (60, 10, 0), (240, 10, 1), (265, 10, 1),
        (10, 60, 2), (35, 60, 2), (60, 60, 2), (240, 60, 3), (265, 60, 3),
    ]  # fmt: skip


def test_to_mnist_keeps_a_one_thin_and_matches_stroke_width():
    one = np.zeros((200, 40), np.uint8)
    one[10:190, 15:25] = 255
    crop = to_mnist(one)
    cols = np.nonzero(crop.max(axis=0) > 0.3)[0]
    assert np.ptp(cols) + 1 <= 6  # aspect kept: still thin
    fat = np.zeros((200, 200), np.uint8)
    cv2.circle(fat, (100, 100), 70, 255, 40)
    ring = to_mnist(fat)
    row = ring[14] > 0.5
    assert 1 <= row[:14].sum() <= 5  # 40px pen brought near MNIST's ~2.4px stroke


def test_stages_are_kept_on_request(mnist_test):
    img, _ = paper_with_digits([mnist_test.images[0]])
    assert preprocess(img).stages == {}
    stages = preprocess(img, keep_stages=True).stages
    assert {"1_grey", "3_ink", "4_threshold", "6_cleaned"} <= set(stages)
    assert all(s.dtype == np.uint8 for s in stages.values())


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        PreprocessConfig(threshold="magic")
    with pytest.raises(ValueError):
        PreprocessConfig(min_contrast=-1.0)


def test_a_faint_shadow_does_not_become_a_digit(mnist_test):
    img, _ = paper_with_digits([mnist_test.images[i] for i in range(4)], origin=(40, 60))
    page = img.astype(np.float32)
    shadow = np.zeros_like(page)
    cv2.line(shadow, (380, 200), (470, 400), 1.0, 16)  # a pen's soft shadow: a faint, blurred band
    page *= 1.0 - 0.4 * cv2.GaussianBlur(shadow, (0, 0), 4)
    pre = preprocess(page.astype(np.uint8))
    assert len(pre) == 4 and all(y < 200 for _, y, _, _ in pre.boxes)
    off = preprocess(page.astype(np.uint8), PreprocessConfig(min_relative_ink=0.0))
    assert len(off) == 5  # the same-pen filter is what removed it


@pytest.mark.parametrize("paper,ink", [(225, 40), (45, 220)])
def test_polarity_with_strokes_too_thick_for_the_thin_phase_cue(paper, ink):
    img = np.full((480, 640), paper, np.uint8)
    cv2.ellipse(img, (320, 170), (90, 80), 0, 0, 360, ink, 45)  # a marker 8 filling the frame
    cv2.ellipse(img, (320, 350), (110, 90), 0, 0, 360, ink, 45)
    img = cv2.GaussianBlur(img, (0, 0), 4)
    pre = preprocess(img)
    assert pre.dark_ink == (ink < paper)
    assert len(pre) >= 1


def test_grey_and_mask_inputs_normalise_alike():
    mask = np.zeros((120, 80), np.uint8)
    cv2.ellipse(mask, (40, 60), (28, 50), 0, 0, 360, 255, 9)
    from_mask = to_mnist(mask)
    from_grey = to_mnist(mask.astype(np.float32) / 255.0)
    assert np.abs(from_mask - from_grey).max() < 1e-5
    faint = to_mnist(mask.astype(np.float32) / 255.0 * 0.5)  # grey crops keep the ink's own level
    assert 0.4 < faint.max() <= 0.55


def test_crops_keep_antialiased_edges_by_default(mnist_test):
    img, _ = paper_with_digits([mnist_test.images[0]], height=120)
    grey = preprocess(img).crops[0]
    binary = preprocess(img, PreprocessConfig(grey_crops=False)).crops[0]
    mid = lambda c: int(((c > 0.1) & (c < 0.9)).sum())  # noqa: E731
    assert mid(grey) > mid(binary)


def _thin_brush_strip() -> tuple[np.ndarray, int]:
    """Digits 7 4 1 9 5 traced with a 2 px brush on a wide 245x975 canvas (a screen drawing)."""
    img = np.full((245, 975), 250, np.uint8)
    strokes = [
        [[(60, 50), (150, 48), (125, 180)]],  # 7: a long bar and a long stem
        [[(300, 50), (255, 150), (350, 150)], [(320, 90), (322, 200)]],  # 4
        [[(450, 45), (452, 190)]],  # 1
        [[(640, 95), (575, 60), (560, 110), (600, 130), (640, 95), (632, 195)]],  # 9
        [[(830, 50), (760, 50), (755, 110), (810, 105), (830, 150), (800, 195), (755, 185)]],  # 5
    ]
    for digit in strokes:
        for line in digit:
            cv2.polylines(img, [np.array(line, np.int32)], False, 20, 2, cv2.LINE_AA)
    return img, len(strokes)


def test_thin_brush_strokes_on_a_strip_are_not_taken_for_rules():
    img, n = _thin_brush_strip()
    pre = preprocess(img)
    assert len(pre) == n
    assert sorted(x for x, _, _, _ in pre.boxes)[0] < 70  # the 7 whole, its bar included


def test_a_big_digit_traced_with_a_thin_brush_is_kept():
    img = np.full((440, 1000), 248, np.uint8)
    cv2.polylines(img, [np.array([(200, 100), (430, 100), (330, 330)], np.int32)], False, 60, 1, cv2.LINE_AA)  # a 7
    cv2.circle(img, (620, 220), 100, 60, 1, cv2.LINE_AA)  # a 0
    pre = preprocess(img)
    assert len(pre) == 2  # a thin frame-like 7 is sparse in its box, but as dense as its brush allows
    assert len(preprocess(img, PreprocessConfig(min_ink_strokes=10.0))) == 0  # the plain ink-ratio floor


def test_polarity_of_small_writing_on_a_lamp_lit_page():
    H, W = 1280, 960
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    light = 1.0 - 0.5 * np.clip(np.hypot(xx - 200, yy - 200) / np.hypot(W, H) / 0.3, 0, 1)  # a lamp near the writing
    page = np.full((H, W), 235, np.uint8)
    for row, text in enumerate(("1367", "2015")):
        cv2.putText(page, text, (100, 200 + 90 * row), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.0, 60, 2, cv2.LINE_AA)
    img = np.clip(page * light, 0, 255).astype(np.uint8)
    pre = preprocess(img)
    assert pre.dark_ink  # the lit patch around the writing is not taken for light marks on a dark page
    assert len(pre) >= 6


def test_the_walls_of_a_form_strip_are_not_read_as_ones():
    cell, pad, boxes = 140, 30, 7  # a strip cut tight around a row of printed boxes
    img = np.full((cell + 2 * pad, boxes * cell + 2 * pad), 245, np.uint8)
    for j in range(boxes + 1):
        cv2.line(img, (pad + j * cell, pad), (pad + j * cell, pad + cell), 30, 6)  # thick against the strip
    for y in (pad, pad + cell):
        cv2.line(img, (pad, y), (pad + boxes * cell, y), 30, 6)
    for j, digit in enumerate("03"):
        cv2.putText(img, digit, (pad + j * cell + 40, pad + 105), cv2.FONT_HERSHEY_SIMPLEX, 2.6, 20, 6, cv2.LINE_AA)
    pre = preprocess(img)
    assert len(pre) == 2 and all(x < pad + 2 * cell for x, _, _, _ in pre.boxes)


def test_the_shaded_edge_of_a_thick_brush_stroke_is_no_rule():
    img = np.zeros((678, 897), np.uint8)  # a 9 painted with a soft white brush on a black canvas
    cv2.circle(img, (340, 225), 45, 235, 26, cv2.LINE_AA)
    cv2.line(img, (388, 200), (392, 475), 235, 26, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (0, 0), 5)
    pre = preprocess(img)
    assert len(pre) == 1 and pre.boxes[0][3] > 250  # one digit, its long stem included


def test_a_sheet_found_on_a_desk_settles_polarity_only_when_the_strokes_do_not(mnist_test):
    from digitlens.preprocess.illumination import dark_ink, thin_phase_vote

    cfg = PreprocessConfig()
    page, _ = paper_with_digits([mnist_test.images[i] for i in range(4)])
    img = page.astype(np.float32) / 255  # the pipeline's grey: float 0..1
    thin = thin_phase_vote(img, cfg)
    assert max(thin) > cfg.polarity_margin * min(thin)  # thin dark strokes: decisive...
    assert dark_ink(img, cfg, prior=False) and dark_ink(img, cfg, prior=True)  # ...whatever the scene says
    # blotches as wide as the gaps between them: no thin phase, so the scene's word decides
    rng = np.random.default_rng(3)
    blotches = cv2.resize(rng.uniform(0, 255, (12, 16)).astype(np.float32), (640, 480), interpolation=cv2.INTER_CUBIC)
    blotches = np.clip(blotches / 255, 0, 1)
    thin = thin_phase_vote(blotches, cfg)
    assert max(thin) <= cfg.polarity_margin * min(thin)
    assert dark_ink(blotches, cfg, prior=True) and not dark_ink(blotches, cfg, prior=False)

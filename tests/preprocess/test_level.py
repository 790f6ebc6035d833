"""The levelling stage: a page photographed at a slant is read with its lines level."""

import cv2
import numpy as np
import pytest

from digitlens.inference import Reader
from digitlens.preprocess import PreprocessConfig, preprocess
from digitlens.preprocess.level import boxes_back, level
from tests.conftest import paper_with_digits


@pytest.mark.parametrize("angle", [-35.0, 12.0, 40.0])
def test_boxes_found_level_map_back_around_the_marks(angle):
    mask = np.zeros((300, 400), np.uint8)
    mask[100:140, 250:270] = 255  # an upright bar, standing for a digit
    turned, ink, back = level(mask, mask.astype(np.float32) / 255, angle)
    assert turned.shape == ink.shape and turned.dtype == np.uint8
    assert cv2.countNonZero(turned) == pytest.approx(cv2.countNonZero(mask), rel=0.08)  # nothing cut off
    x, y, w, h = cv2.boundingRect(turned)
    ((bx, by, bw, bh),) = boxes_back(np.array([[x, y, w, h]]), back, mask.shape)
    # the mapped box encloses the bar and is no larger than the bar turned twice would need
    assert bx <= 250 + 1 and by <= 100 + 1 and bx + bw >= 270 - 1 and by + bh >= 140 - 1
    c, s = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
    w1, h1 = 20 * c + 40 * s, 20 * s + 40 * c  # the bar's box in the turned frame...
    assert bw <= w1 * c + h1 * s + 3 and bh <= w1 * s + h1 * c + 3  # ...and that box's box, turned back


def _slanted_line(mnist_test, start, angle):
    idx = list(range(start, start + 6))
    img, boxes = paper_with_digits([mnist_test.images[i] for i in idx], height=60, size=(800, 600), origin=(120, 270))
    M = cv2.getRotationMatrix2D((400, 300), angle, 1.0)
    centres = [M @ np.array([x + w / 2, y + h / 2, 1.0]) for x, y, w, h in boxes]
    page = cv2.warpAffine(img, M, (800, 600), borderValue=225)
    return page, "".join(str(mnist_test.labels[i]) for i in idx), centres


def test_a_line_written_at_35_degrees_reads_as_its_level_copy(mnist_test):
    levelled, plain = Reader(rotate=0), Reader(rotate=0, config=PreprocessConfig(level_skew=0))
    exact_levelled = exact_plain = 0
    for start in (0, 20, 30):
        for angle in (35.0, -35.0):
            page, truth, centres = _slanted_line(mnist_test, start, angle)
            got = levelled.read(page)
            exact_levelled += got.text == truth
            exact_plain += plain.read(page).text == truth
            if got.text == truth:  # each box (input frame) holds its digit's centre
                for d, (cx, cy) in zip(got.digits, centres, strict=True):
                    x, y, w, h = d.box
                    assert x <= cx <= x + w and y <= cy <= y + h
    assert exact_levelled == 6
    assert exact_plain < exact_levelled  # MNIST digits leaning by 35 degrees are misread


def test_level_writing_is_left_alone_and_slanted_writing_reports_its_skew(mnist_test):
    page, _truth, _ = _slanted_line(mnist_test, 0, 0.0)
    flat = preprocess(page)
    assert flat.skew == 0.0 and flat.level_boxes is None
    same = preprocess(page, PreprocessConfig(level_skew=0))
    assert np.array_equal(flat.boxes, same.boxes) and np.array_equal(flat.crops, same.crops)
    slanted = preprocess(_slanted_line(mnist_test, 0, 30.0)[0], keep_stages=True)
    assert slanted.skew == pytest.approx(-30.0, abs=6.0)  # the page turned anticlockwise: lines rise to the right
    assert slanted.level_boxes is not None and len(slanted.level_boxes) == len(slanted)
    assert "7_levelled" in slanted.stages
    w, h = slanted.level_boxes[:, 2], slanted.level_boxes[:, 3]
    assert np.median(w / h) < np.median(slanted.boxes[:, 2] / slanted.boxes[:, 3])  # upright again: narrower

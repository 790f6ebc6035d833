import cv2
import numpy as np

from digitlens.preprocess import PreprocessConfig, preprocess
from digitlens.preprocess.scale import finer_side, ink_pool_size, pieces_size, shrink_keeping_ink, writing_size
from tests.conftest import paper_with_digits


def test_a_thin_line_keeps_its_contrast_when_a_big_photo_is_shrunk():
    page = np.full((1000, 1000), 0.8, np.float32)
    page[:, 501] = 0.1  # a 1 px pen line
    size = (400, 400)  # shrunk 2.5 times
    pool = ink_pool_size(2.5, 1.0)
    plain = shrink_keeping_ink(page, size, dark=True, pool=1)
    kept = shrink_keeping_ink(page, size, dark=True, pool=pool)
    assert pool == 3
    assert 0.8 - plain.min() < 0.5 * 0.7  # area averaging washes the line out...
    assert 0.8 - kept.min() > 0.9 * 0.7  # ...the ink-keeping shrink does not
    assert abs(float(np.median(kept)) - 0.8) < 1e-3  # and the paper stays paper


def test_light_ink_is_kept_with_the_opposite_filter():
    board = np.full((900, 900), 0.15, np.float32)
    board[301, :] = 0.9  # a thin chalk line
    kept = shrink_keeping_ink(board, (300, 300), dark=False, pool=ink_pool_size(3.0, 1.0))
    plain = shrink_keeping_ink(board, (300, 300), dark=False, pool=1)
    assert kept.max() > 0.85 and plain.max() < 0.7


def test_no_pooling_for_a_small_shrink():
    assert ink_pool_size(1.5, 1.0) == 1 and ink_pool_size(1.99, 1.0) == 1
    assert ink_pool_size(2.0, 1.0) == 2 and ink_pool_size(4.0, 0.0) == 1


def test_writing_size_is_the_writings_not_the_specks():
    mask = np.zeros((200, 400), np.uint8)
    for x in range(20, 300, 40):
        cv2.rectangle(mask, (x, 50), (x + 10, 70), 255, 3)  # digit-like loops, taller than wide
    loop_width = cv2.boundingRect(mask[:, :40])[2]
    rng = np.random.default_rng(0)
    for _ in range(60):  # specks: many, little ink
        y, x = rng.integers(100, 196), rng.integers(0, 396)
        mask[y : y + 2, x : x + 2] = 255
    assert loop_width >= 11 and writing_size(mask) == loop_width
    assert writing_size(np.zeros((50, 50), np.uint8)) == 0.0


def test_a_line_of_touching_tiny_digits_measures_as_one_digit_across():
    mask = np.zeros((100, 400), np.uint8)
    mask[40:47, 20:300] = 255  # 7 px digits fused into one long piece along their line
    assert writing_size(mask) == 7
    assert writing_size(np.ascontiguousarray(mask.T)) == 7  # the same, written downwards


def test_finer_side_is_bounded_by_the_image_and_the_pixel_budget():
    assert finer_side((3000, 4000), 0.4, 6.0, 24.0, 1e9) == 4000  # never past full size
    assert finer_side((3000, 4000), 0.4, 10.0, 24.0, 1e9) == 3840
    assert finer_side((3000, 4000), 0.4, 6.0, 24.0, 3e6) == 2000  # 1500 x 2000 = 3 MP


def test_tiny_digits_on_a_big_page_are_read_at_a_finer_scale(mnist_test):
    digits = [mnist_test.images[i] for i in range(5)]
    img, boxes = paper_with_digits(digits, height=17, size=(4000, 3000), origin=(1800, 1400))
    config = PreprocessConfig()
    coarse = preprocess(img, config.with_(zoom_below=0.0))  # 17 px become 7 at the 1600 px working scale
    fine = preprocess(img, config)
    assert len(fine) == 5
    assert len(coarse) < len(fine)
    for got, want in zip(fine.boxes, boxes, strict=True):  # boxes still in the photo's pixels
        assert abs(got[0] - want[0]) <= 4 and abs(got[3] - want[3]) <= 6


def test_pieces_size_of_labelled_pieces_is_writing_size():
    mask = np.zeros((200, 300), np.uint8)
    mask[20:60, 20:45] = 255  # a digit-sized block...
    mask[100:130, 100:118] = 255  # ...a smaller one...
    mask[150:151, 10:290] = 255  # ...and a long thin line (its smaller side is 1)
    stats = cv2.connectedComponentsWithStats(mask, connectivity=8)[2]
    assert pieces_size(stats) == writing_size(mask) == 25.0  # the inkiest piece's smaller side
    assert pieces_size(stats[:1]) == 0.0  # background only

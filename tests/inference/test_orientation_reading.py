"""The reader finds which way up a photo is (rotate='auto') and reports boxes in the photo as given."""

import numpy as np
import pytest

from digitlens.inference import Reader
from tests.conftest import paper_with_digits


@pytest.fixture(scope="module")
def line(mnist_test):
    # one clear example each of 2, 3, 4, 5, 7: digits that look wrong upside down
    picks = [int(np.flatnonzero(mnist_test.labels == d)[k]) for d, k in ((2, 1), (3, 0), (4, 2), (5, 0), (7, 0))]
    image, boxes = paper_with_digits([mnist_test.images[i] for i in picks], height=70, origin=(60, 180))
    return image, boxes, "23457"


@pytest.mark.parametrize("quarters", [0, 1, 2, 3])
def test_a_turned_photo_reads_upright_and_boxes_stay_in_its_frame(reader, line, quarters):
    image, _boxes, text = line
    turned = np.ascontiguousarray(np.rot90(image, -quarters))  # the photo as the user has it
    reading = reader.read(turned)
    assert reading.text == text
    assert reading.rotation == (360 - 90 * quarters) % 360
    # every reported box lies on ink of the turned photo
    for d in reading.digits:
        x, y, w, h = d.box
        assert turned[y : y + h, x : x + w].min() < 100


def test_fixed_rotation_is_obeyed(line):
    image, _, text = line
    upside_down = np.ascontiguousarray(np.rot90(image, 2))
    assert Reader(rotate=180).read(upside_down).text == text
    assert Reader(rotate=0).read(upside_down).text != text


def test_bad_rotate_is_refused():
    with pytest.raises(ValueError, match="rotate"):
        Reader(rotate=45)

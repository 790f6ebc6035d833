"""Quarter turns, mapping back to the photo as given, and the geometry cue (preprocess.orientation)."""

import numpy as np
import pytest

from digitlens.preprocess.orientation import boxes_to_source, points_to_source, sideways_evidence, turn


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


@pytest.mark.parametrize("quarters", [0, 1, 2, 3])
def test_boxes_found_in_a_turned_image_map_back_to_the_source(quarters):
    src = np.zeros((60, 100), np.uint8)
    src[10:25, 70:90] = 255  # a box near the top right
    turned = turn(src, quarters)
    assert turned.shape == ((60, 100) if quarters % 2 == 0 else (100, 60))
    found = np.array([_bbox(turned > 0)])
    assert tuple(boxes_to_source(found, quarters, src.shape)[0]) == (70, 10, 20, 15)


@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_points_map_back_like_the_boxes_corners(quarters):
    box = np.array([[5, 7, 11, 13]])
    src_shape = (40, 50)
    turned_shape = src_shape if quarters == 2 else src_shape[::-1]
    # corners of a box in the turned frame map onto the corners of the mapped box
    t = boxes_to_source(box, (4 - quarters) % 4, turned_shape)[0]  # the box as seen in the turned image
    x, y, w, h = t
    corners = points_to_source(np.array([[x, y], [x + w, y + h]]), quarters, src_shape)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    assert (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]) == (5, 7, 11, 13)


def test_turning_clockwise_moves_the_top_left_corner_to_the_top_right():
    src = np.zeros((4, 6), np.uint8)
    src[0, 0] = 1
    assert turn(src, 1)[0, -1] == 1 and turn(src, 2)[-1, -1] == 1 and turn(src, 3)[-1, 0] == 1


def test_geometry_cue_tells_upright_from_sideways():
    # a row of digit-shaped boxes (taller than wide, side by side)
    row = np.array([(20 + 30 * k, 50, 20, 32) for k in range(6)])
    sideways = np.array([(50, 20 + 30 * k, 32, 20) for k in range(6)])
    assert sideways_evidence(row) < -0.5 < 0.5 < sideways_evidence(sideways)
    assert sideways_evidence(np.zeros((0, 4))) == 0.0

"""Segmentation's shape filters, on marks drawn in code."""

import cv2
import numpy as np

from digitlens import Reader


def test_thin_closed_outlines_stay_out_while_thin_open_strokes_read():
    """The ink floor follows a thin pen for open strokes (a 7 with a fine brush on a big
    canvas) but not for a thin ring or frame alone on a page (a stamp, an empty box)."""
    reader = Reader()
    ring = np.full((600, 600), 235, np.uint8)
    cv2.circle(ring, (300, 300), 220, 30, 1)
    frame = np.full((600, 600), 235, np.uint8)
    cv2.rectangle(frame, (100, 80), (500, 520), 30, 1)
    seven = np.full((600, 600), 235, np.uint8)
    cv2.line(seven, (150, 120), (450, 120), 30, 1)
    cv2.line(seven, (450, 120), (260, 500), 30, 1)
    assert reader.read(ring).text == "" and reader.read(frame).text == ""
    assert reader.read(seven).text == "7"

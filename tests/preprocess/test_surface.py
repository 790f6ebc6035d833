"""The writing surface (preprocess.surface): a sheet on a desk is found, lighting alone is not."""

import cv2
import numpy as np
import pytest

from digitlens.preprocess import PreprocessConfig, preprocess
from digitlens.preprocess.surface import find_surface, required_step
from tests.conftest import paper_with_digits


def _desk(h: int = 600, w: int = 800, seed: int = 0) -> np.ndarray:
    """A dark wood-grain desk: streaks with dark knots that a threshold calls ink."""
    rng = np.random.default_rng(seed)
    rows = np.cumsum(rng.normal(0, 1, h))[:, None] * 0.8
    grain = 90 + 25 * np.sin(np.arange(w)[None, :] / 9.0 + rows / 7.0)
    desk = grain + rng.normal(0, 6, (h, w))
    for _ in range(12):  # knots and stains
        cv2.ellipse(
            desk,
            (int(rng.integers(0, w)), int(rng.integers(0, h))),
            (18, 6),
            float(rng.integers(0, 180)),
            0,
            360,
            30,
            3,
        )
    return np.clip(desk, 0, 255).astype(np.uint8)


SHEET = np.array([[200, 90], [640, 130], [610, 520], [170, 480]], np.int32)


def _sheet_on_desk(mnist_test) -> tuple[np.ndarray, str]:
    img = _desk()
    cv2.fillConvexPoly(img, SHEET, 228)
    picks = [int(np.flatnonzero(mnist_test.labels == d)[0]) for d in (3, 8, 6)]
    line, _ = paper_with_digits([mnist_test.images[i] for i in picks], height=70, size=(300, 120), origin=(20, 25))
    img[240:360, 260:560] = np.minimum(img[240:360, 260:560], line)
    return img, "386"


def test_a_sheet_on_a_desk_is_found_and_only_its_writing_read(mnist_test, reader):
    img, text = _sheet_on_desk(mnist_test)
    grey = img.astype(np.float32) / 255
    surface = find_surface(grey, True, PreprocessConfig())
    assert surface is not None
    # the outline hugs the sheet: its area within 15% of the sheet's
    assert cv2.contourArea(surface.polygon.astype(np.float32)) == pytest.approx(cv2.contourArea(SHEET), rel=0.15)
    assert reader.read(img).text == text
    without = reader.__class__(config=PreprocessConfig(find_surface=False)).read(img).text
    assert without != text  # the desk's knots are read as digits when the surface is ignored


def test_lighting_falloff_on_one_sheet_is_not_a_surface():
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w]
    lamp = 235 - 120 * (((xx - 200) / w) ** 2 + ((yy - 150) / h) ** 2)  # a lamp's fall-off and vignetting
    grey = np.clip(lamp, 0, 255).astype(np.float32) / 255
    assert find_surface(grey, True, PreprocessConfig()) is None


def test_a_page_filling_the_frame_and_tight_crops_are_all_surface():
    page = np.full((480, 640), 0.9, np.float32)
    page[:6, :] = 0.3  # a sliver of desk
    assert find_surface(page, True, PreprocessConfig()) is None
    assert find_surface(np.full((120, 300), 0.9, np.float32), True, PreprocessConfig()) is None


def test_surface_outline_is_reported_in_input_pixels(mnist_test):
    img, _ = _sheet_on_desk(mnist_test)
    big = cv2.resize(img, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_LINEAR)  # 2000 px: shrunk to max_side
    pre = preprocess(big)
    assert pre.surface is not None
    lo, hi = pre.surface.min(axis=0), pre.surface.max(axis=0)
    assert lo == pytest.approx(SHEET.min(axis=0) * 2.5, abs=40) and hi == pytest.approx(SHEET.max(axis=0) * 2.5, abs=40)


def test_a_dim_photo_of_a_sheet_asks_a_proportionally_smaller_step():
    cfg = PreprocessConfig()
    assert required_step(0.9, cfg) == pytest.approx(cfg.surface_contrast)  # a well-lit sheet: the full step
    assert required_step(0.4, cfg) == pytest.approx(cfg.surface_contrast * 0.4 / cfg.surface_lit_level)
    assert required_step(0.4, cfg.with_(surface_lit_level=0.0)) == pytest.approx(cfg.surface_contrast)


def test_a_sheet_is_found_in_an_underexposed_photo():
    # a plain desk and a sheet, exposed for a well-lit and for half the light: the same scene
    h, w = 600, 800
    lit = np.full((h, w), 150.0, np.float32)
    cv2.fillConvexPoly(lit, SHEET, 180.0)  # a step of 0.12 at full light, 0.06 at half
    rng = np.random.default_rng(1)
    for exposure in (1.0, 0.5):
        img = np.clip(lit * exposure + rng.normal(0, 2, (h, w)), 0, 255).astype(np.float32) / 255
        assert find_surface(img, True, PreprocessConfig()) is not None, exposure
        if exposure < 1:  # without the exposure's allowance the dim sheet is missed (by its brightness)
            assert find_surface(img, True, PreprocessConfig(surface_lit_level=0.0, surface_edges=False)) is None


def test_rules_are_long_against_the_page_they_are_printed_on(mnist_test):
    img = _desk(900, 1200)
    x0, y0, w, h = 430, 300, 345, 310  # a small ruled sheet: its rules are short against the photo
    cv2.fillConvexPoly(img, np.array([[x0, y0], [x0 + w, y0 + 6], [x0 + w - 6, y0 + h], [x0 - 4, y0 + h - 6]]), 228)
    picks = [int(np.flatnonzero(mnist_test.labels == d)[0]) for d in (3, 8, 6)]
    line, _ = paper_with_digits([mnist_test.images[i] for i in picks], height=50, size=(240, 80), origin=(20, 15))
    img[y0 + 100 : y0 + 180, x0 + 50 : x0 + 290] = np.minimum(img[y0 + 100 : y0 + 180, x0 + 50 : x0 + 290], line)
    for y in range(y0 + 30, y0 + h - 15, 36):  # one rule runs through the digits
        cv2.line(img, (x0 + 2, y), (x0 + w - 8, y + 4), 150, 2)
    on_page = preprocess(img, keep_stages=True)
    on_photo = preprocess(img, PreprocessConfig(rules_on_surface=False), keep_stages=True)
    assert on_page.surface is not None
    assert cv2.countNonZero(on_page.stages["5_rules_removed"]) > 5 * 300  # the rules are found...
    assert len(on_page) == 3 and all(b[3] >= 40 for b in on_page.boxes)  # ...and the digits read whole
    assert not on_photo.stages["5_rules_removed"].any() and len(on_photo) > 3  # against the photo: cut by the rule


@pytest.mark.parametrize("slant", [10, -60])
def test_a_big_1_on_a_small_sheet_is_no_rule(slant):
    img = _desk(900, 1200)
    x0, y0, w, h = 420, 250, 400, 400  # as tall as the 1 nearly: against the sheet it is long
    cv2.fillConvexPoly(img, np.array([[x0, y0], [x0 + w, y0 + 4], [x0 + w - 4, y0 + h], [x0 - 3, y0 + h - 4]]), 228)
    cv2.line(img, (x0 + 150 + slant, y0 + 25), (x0 + 150, y0 + 370), 50, 4, cv2.LINE_AA)
    pre = preprocess(img, keep_stages=True)
    assert pre.surface is not None
    assert not pre.stages["5_rules_removed"].any()
    assert len(pre) == 1 and pre.boxes[0][3] >= 330  # read whole


def _stacked_notes(mnist_test) -> tuple[np.ndarray, str]:
    """Two sheets on a dark desk, the top one turned against the one below, a pale pen on top."""
    h, w = 1200, 1600
    img = np.full((h, w), 35, np.uint8)

    def quad(cx: float, cy: float, a: float, b: float, angle: float) -> np.ndarray:
        return np.round(cv2.boxPoints(((cx, cy), (a, b), angle))).astype(np.int32)

    cv2.fillConvexPoly(img, quad(820, 640, 560, 760, 28), 205)  # the sheet below
    cv2.fillConvexPoly(img, quad(760, 600, 520, 700, 8), 228)
    picks = [
        int(np.flatnonzero(mnist_test.labels == d)[k]) for d, k in ((2, 0), (5, 1), (9, 0), (4, 3), (7, 2), (3, 1))
    ]
    line, _ = paper_with_digits(
        [mnist_test.images[i] for i in picks], height=40, size=(330, 70), origin=(10, 15), paper=228, ink=175
    )
    img[560:630, 600:930] = np.minimum(img[560:630, 600:930], line)
    return img, "259473"


def test_the_corners_of_desk_between_stacked_sheets_are_not_surface(mnist_test, reader):
    """The hull around two stacked sheets takes in corners of dark desk between them: as ink
    they would set the level above the pale pen (and make it a "shadow" of themselves)."""
    img, text = _stacked_notes(mnist_test)
    surface = find_surface(img.astype(np.float32) / 255, True, PreprocessConfig())
    assert surface is not None
    desk = np.where(img < 100, np.uint8(255), np.uint8(0))
    assert cv2.countNonZero(cv2.bitwise_and(surface.mask, desk)) == 0
    assert cv2.countNonZero(surface.mask) > 0.8 * cv2.countNonZero(255 - desk)  # and the sheets are in it
    assert reader.read(img).text == text


def test_desk_wedges_are_the_gaps_that_reach_the_hull_edge():
    from digitlens.preprocess.surface import _desk_wedges

    inside = np.zeros((60, 60), np.uint8)
    cv2.fillConvexPoly(inside, np.array([[5, 5], [55, 5], [55, 55], [5, 55]], np.int32), 255)
    region = (inside > 0).astype(np.uint8)
    region[5:15, 5:15] = 0  # a corner of desk, on the hull's edge
    region[28:34, 28:34] = 0  # a dark blot in the middle of the sheet
    wedges = _desk_wedges(inside, region)
    assert wedges[8, 8] == 255 and wedges[30, 30] == 0
    assert cv2.countNonZero(wedges) == 100


def test_a_sliver_along_the_outline_is_long_against_the_surface_not_the_frame():
    from digitlens.preprocess.threshold import remove_border_runs

    h, w = 1200, 1600
    outside = np.full((h, w), 255, np.uint8)
    outside[400:800, 600:1000] = 0  # a note of 400 px in a photo of the desk
    mask = np.zeros((h, w), np.uint8)
    mask[400:404, 650:760] = 255  # a wedge of desk 110 px along the note's edge: a quarter of its side
    mask[550:620, 780:800] = 255  # a stroke in the middle of the note
    kept, removed = remove_border_runs(mask, PreprocessConfig(), outside)
    assert cv2.countNonZero(removed) == 4 * 110
    assert cv2.countNonZero(kept) == 70 * 20


def _grey_sheet_in_a_lamps_band(mnist_test) -> tuple[np.ndarray, str, np.ndarray]:
    """A grey sheet on a desk about as bright, a lamp's band lying across both (generator
    case: the pale papers and light desks of `synth.scenes`, whose lighting adds the band)."""
    h, w = 600, 800
    yy, xx = np.mgrid[0:h, 0:w]
    band = 70 * np.exp(-(((xx - yy - 250) / 240.0) ** 2))  # a broad diagonal band of light
    rng = np.random.default_rng(3)
    img = 170 + band + rng.normal(0, 3, (h, w))
    sheet = np.array([[220, 130], [600, 150], [590, 470], [210, 450]], np.int32)
    inside = cv2.fillConvexPoly(np.zeros((h, w), np.uint8), sheet, 1) > 0
    img[inside] += 12  # a little brighter than the desk beside it, far darker than the band's desk
    img = np.clip(img, 0, 255).astype(np.uint8)
    picks = [int(np.flatnonzero(mnist_test.labels == d)[0]) for d in (4, 0, 7)]
    line, _ = paper_with_digits([mnist_test.images[i] for i in picks], height=60, size=(260, 100), origin=(20, 20))
    img[250:350, 280:540] = np.minimum(img[250:350, 280:540], np.where(line < 128, line // 2 + 40, 255))
    for x, y in ((60, 80), (700, 560), (120, 520)):  # marks on the desk: a threshold calls them ink
        cv2.putText(img, "5", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 60, 4)
    return img, "407", sheet


def test_a_sheet_as_bright_as_its_desk_is_found_by_its_outline(mnist_test, reader):
    img, text, sheet = _grey_sheet_in_a_lamps_band(mnist_test)
    grey = img.astype(np.float32) / 255
    assert find_surface(grey, True, PreprocessConfig(surface_edges=False)) is None  # no brightness parts them
    surface = find_surface(grey, True, PreprocessConfig())
    assert surface is not None
    assert cv2.contourArea(surface.polygon.astype(np.float32)) == pytest.approx(cv2.contourArea(sheet), rel=0.15)
    for k in range(4):  # the same sheet whichever way the photo is turned
        turned = find_surface(np.ascontiguousarray(np.rot90(grey, k)), True, PreprocessConfig())
        assert turned is not None and turned.area == pytest.approx(surface.area, rel=0.05)
    assert reader.read(img).text == text
    assert reader.__class__(config=PreprocessConfig(surface_edges=False)).read(img).text != text  # the desk's 5s


def test_an_outline_is_no_sheet_unless_it_is_a_closed_quadrilateral_inside_the_frame():
    from digitlens.preprocess.surface import edge_quad

    cfg = PreprocessConfig()
    page = np.full((480, 640), 0.8, np.float32)
    cv2.circle(page, (320, 240), 150, 0.5, 3)  # a drawn circle: round, not a sheet
    assert edge_quad(page, cfg) is None
    page = np.full((480, 640), 0.8, np.float32)
    cv2.rectangle(page, (100, 100), (700, 400), 0.5, 3)  # a box running out of the frame
    assert edge_quad(page, cfg) is None
    page = np.full((480, 640), 0.8, np.float32)
    cv2.polylines(page, [np.array([[100, 100], [540, 100], [540, 400], [100, 400]])], False, 0.5, 3)  # open
    assert edge_quad(page, cfg) is None
    cv2.line(page, (100, 400), (100, 100), 0.5, 3)  # closed: a box drawn round the writing, ink on paper
    assert edge_quad(page, cfg) is None
    page = np.full((480, 640), 0.92, np.float32)
    page[150:400, 300:560] = 0.8  # a note stuck on a page: darker than the page, which is written on too
    assert edge_quad(page, cfg) is None
    page = np.full((480, 640), 0.75, np.float32)
    page[100:400, 100:540] = 0.8  # a sheet a shade brighter: a step all round
    found = edge_quad(page, cfg)
    assert found is not None and found.area == pytest.approx(440 * 300 / (480 * 640), rel=0.05)

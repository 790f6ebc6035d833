"""Real-photo scenes: deterministic, truthful boxes and text, orientation, scale, and the classic API."""

import cv2
import numpy as np
import pytest

from digitlens.synth import scenes as S
from digitlens.synth import textures
from digitlens.synth.pens import PENS, DigitInk, make_pen

SMALL = (320, 240)


@pytest.fixture(scope="module")
def ink(mnist_test):
    return DigitInk(mnist_test.images)


def scene(mnist_test, ink, seed, **kw):
    kw.setdefault("frame", SMALL)
    return S.make_real_scene(np.random.default_rng(seed), mnist_test.images, mnist_test.labels, ink=ink, **kw)


def test_same_seed_same_scene_other_seed_other_scene(mnist_test, ink):
    a = scene(mnist_test, ink, 5, kind="sheet")
    b = scene(mnist_test, ink, 5, kind="sheet")
    c = scene(mnist_test, ink, 6, kind="sheet")
    assert np.array_equal(a.image, b.image) and a.text == b.text and a.boxes == b.boxes and a.meta == b.meta
    assert not np.array_equal(a.image, c.image) if a.image.shape == c.image.shape else True
    assert (a.text, a.boxes) != (c.text, c.boxes)


def test_scene_i_depends_only_on_seed_and_index(mnist_test):
    two = S.generate_real(2, mnist_test.images, mnist_test.labels, seed=9, kinds=("note",), frame=SMALL)
    one = list(S.iter_real(2, mnist_test.images, mnist_test.labels, seed=9, kinds=("note",), frame=SMALL))
    assert np.array_equal(two[1].image, one[1].image) and two[1].text == one[1].text


@pytest.mark.parametrize("kind", [k for k in S.REAL_KINDS if k != "bigframe"])
def test_truth_is_consistent(mnist_test, ink, kind):
    for seed in range(2):
        sc = scene(mnist_test, ink, 100 + seed, kind=kind, frame=(480, 360))
        H, W = sc.image.shape[:2]
        digits = sc.text.replace(" ", "")
        assert digits.isdigit() and "  " not in sc.text and sc.text == sc.text.strip()
        assert len(sc.boxes) == len(sc.labels) == len(digits) == len(sc.lines) >= 1
        assert "".join(map(str, sc.labels)) == digits
        assert sorted(set(sc.lines)) == list(range(len(sc.text.split(" "))))
        for x, y, w, h in sc.boxes:
            assert 0 <= x and 0 <= y and w >= 1 and h >= 1 and x + w <= W and y + h <= H
        # every digit lies on the page: its box centre is inside the surface outline
        poly = np.array(sc.meta["polygon"], np.float32)
        for x, y, w, h in sc.boxes:
            assert cv2.pointPolygonTest(poly, (x + w / 2, y + h / 2), True) > -2
        assert sc.meta["kind"] == kind and sc.meta["orientation"] in S.ORIENTATIONS


def test_ink_is_inside_the_boxes(mnist_test, ink):
    """The page is light and the writing dark: each box holds darker pixels than its surroundings."""
    sc = scene(mnist_test, ink, 3, kind="note", layout="line", pen="felt-pen", orientation=0, frame=(640, 480))
    gray = cv2.cvtColor(sc.image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    for x, y, w, h in sc.boxes:
        inside = gray[y : y + h, x : x + w]
        assert inside.min() < np.median(inside) - 25


@pytest.mark.parametrize("orientation", [90, 180, 270])
def test_turned_scene_is_the_upright_scene_turned(mnist_test, ink, orientation):
    """Same seed, stored turned: same truth text, boxes turned with the pixels, image turned back matches."""
    up = scene(mnist_test, ink, 21, kind="sheet", layout="lines", orientation=0, frame=(400, 300))
    frame = (400, 300) if orientation == 180 else (300, 400)
    tu = scene(mnist_test, ink, 21, kind="sheet", layout="lines", orientation=orientation, frame=frame)
    assert tu.text == up.text and tu.labels == up.labels and tu.lines == up.lines
    back = np.rot90(tu.image, k=orientation // 90)
    assert back.shape == up.image.shape
    assert np.abs(back.astype(np.float32) - up.image.astype(np.float32)).mean() < 6
    assert tu.boxes == [S._box_to_stored(b, orientation, 400, 300) for b in up.boxes]


def test_box_turning_matches_numpy_rotation():
    img = np.zeros((30, 40), np.uint8)
    img[5:12, 20:23] = 1  # x 20..22, y 5..11
    for o in (0, 90, 180, 270):
        t = S.turn(img, o)
        ys, xs = np.nonzero(t)
        box = (int(xs.min()), int(ys.min()), int(np.ptp(xs) + 1), int(np.ptp(ys) + 1))
        assert box == S._box_to_stored((20, 5, 3, 7), o, 40, 30)
    # clockwise: the top of the upright image is on the right after a 90 degree turn
    assert S.turn(img, 90).shape == (40, 30) and S._box_to_stored((0, 0, 1, 1), 90, 40, 30) == (29, 0, 1, 1)


def test_reading_order_follows_the_upright_line(mnist_test, ink):
    """A straight line read left to right upright runs top to bottom once turned 90 degrees clockwise."""
    for seed in range(40):
        sc = scene(mnist_test, ink, seed, kind="note", layout="line", orientation=90, frame=(480, 640))
        if abs(sc.meta["skew"]) < 5 and len(sc.boxes) >= 3:
            break
    else:
        pytest.fail("no straight line drawn")
    ys = [y + h / 2 for x, y, w, h in sc.boxes]
    assert ys == sorted(ys)


def test_big_frames_and_close_ups(mnist_test, ink):
    big = scene(mnist_test, ink, 1, kind="bigframe", layout="lines", orientation=90, frame=None)
    # a camera stores its landscape frame; a page photographed sideways is sideways in it
    assert big.image.shape == (3000, 4000, 3) and big.meta["frame"] == [4000, 3000]
    hs = sorted(max(w, h) for x, y, w, h in big.boxes)
    assert len(hs) >= 4 and 9 <= hs[len(hs) // 2] <= 120  # small digits in a huge frame
    close = scene(mnist_test, ink, 2, kind="closeup", layout="single", orientation=0, frame=(640, 480))
    ((_x, _y, _w, h),) = close.boxes
    assert h >= 0.35 * 480  # one digit fills the frame


def test_every_kind_layout_pen_and_desk_draws(mnist_test, ink):
    for i, layout in enumerate(S.REAL_LAYOUTS):
        sc = scene(mnist_test, ink, 50 + i, kind="sheet", layout=layout, pen=PENS[i % len(PENS)])
        assert sc.layout == layout and sc.meta["pen"] == PENS[i % len(PENS)] and sc.image.shape == (240, 320, 3)
    rng = np.random.default_rng(0)
    for name in textures.DESKS:
        d = textures.desk(rng, 60, 80, name)
        assert d.shape == (60, 80, 3) and d.dtype == np.float32 and 0 <= d.mean() <= 255 and d.std() > 0.5
    with pytest.raises(ValueError, match="unknown scene kind"):
        scene(mnist_test, ink, 0, kind="moon")


def test_marks_between_digits_stay_out_of_the_truth(mnist_test, ink):
    from digitlens.synth.surfaces import write_page

    rng = np.random.default_rng(4)
    page = write_page(rng, ink, mnist_test.labels, "sheet", "lines", make_pen(rng, "ballpoint"), 20, (12, 16), 1.0)
    assert page.marks >= 2 and len(page.digits) >= 4  # marks are written, digits alone are recorded
    seen = 0
    for seed in range(12):
        sc = scene(mnist_test, ink, 300 + seed, kind="note", layout="lines", frame=SMALL)
        seen += sc.meta["marks"] > 0
        assert sc.text.replace(" ", "").isdigit() and len(sc.boxes) == len(sc.text.replace(" ", ""))
    assert seen >= 2


def test_without_scikit_image_the_real_textures_fall_back(monkeypatch):
    monkeypatch.setattr(textures, "_skimage_gray", lambda name: None)
    a = textures.desk(np.random.default_rng(0), 50, 70, "brick")
    assert a.shape == (50, 70, 3) and np.isfinite(a).all()


def test_pens_differ_as_real_pens_do(ink):
    rng = np.random.default_rng(0)
    felt = ink.render(0, 60, make_pen(rng, "felt-pen"), rng)
    pale = ink.render(0, 60, make_pen(rng, "pale-ballpoint"), rng)
    pencil = ink.render(0, 60, make_pen(rng, "pencil"), rng)
    assert (felt > 0.3).sum() > 2 * (pale > 0.3).sum() > 0
    assert pale.max() < 0.85 and pencil[pencil > 0].std() > 0.1  # faint, grainy
    tiny = ink.render(0, 12, make_pen(rng, "ballpoint"), rng)
    assert 10 <= tiny.shape[0] <= 20 and tiny.max() > 0.5


def test_classic_api_still_works(mnist_test, tmp_path):
    from digitlens.cli import main
    from digitlens.synth import KINDS, LAYOUTS, Scene, add_arguments, generate, make_scene, run  # noqa: F401

    scs = generate(2, mnist_test.images, mnist_test.labels, seed=1)
    assert all(isinstance(s, Scene) and s.kind in KINDS and s.layout in LAYOUTS for s in scs)
    one = make_scene(np.random.default_rng(0), mnist_test.images, mnist_test.labels, "paper", "line")
    assert one.image.shape == (480, 640, 3)
    data = str(mnist_test_dir())
    assert main(["synth", "--count", "2", "--out", str(tmp_path / "c"), "--data-dir", data]) == 0
    assert main(["synth", "--count", "2", "--scenes", "real", "--out", str(tmp_path / "r"), "--data-dir", data]) == 0
    assert len(list((tmp_path / "r").glob("*.jpg"))) == 2 and (tmp_path / "r" / "truth.json").exists()
    assert (
        main(
            [
                "synth",
                "--count",
                "2",
                "--split",
                "train",
                "--scenes",
                "all",
                "--out",
                str(tmp_path / "t"),
                "--data-dir",
                data,
            ]
        )
        == 0
    )
    assert main(["synth", "--count", "0", "--out", str(tmp_path / "x"), "--data-dir", data]) == 2


def mnist_test_dir():
    from tests.conftest import mnist_dir

    return mnist_dir()


@pytest.mark.parametrize(
    "maker", [S.make_canvas_scene, S.make_lit_page_scene, S.make_form_strip_scene, S.make_touching_pair_scene]
)
def test_targeted_cases_are_deterministic_and_truthful(mnist_test, ink, maker):
    a = maker(np.random.default_rng(3), mnist_test.images, mnist_test.labels, ink=ink)
    b = maker(np.random.default_rng(3), mnist_test.images, mnist_test.labels, ink=ink)
    assert np.array_equal(a.image, b.image) and a.text == b.text and a.boxes == b.boxes
    assert a.text.replace(" ", "") == "".join(map(str, a.labels)) and len(a.boxes) == len(a.labels) >= 1
    grey = cv2.cvtColor(a.image, cv2.COLOR_BGR2GRAY).astype(np.int16)
    paper = int(np.median(grey))
    for x, y, w, h in a.boxes:  # every box holds ink that differs from the paper
        assert np.abs(grey[y : y + h, x : x + w] - paper).max() > 40


def test_canvas_scene_brush_is_thin_whatever_the_digit_size(mnist_test, ink):
    rng = np.random.default_rng(1)
    sc = S.make_canvas_scene(rng, mnist_test.images, mnist_test.labels, brush=1.5, dark=False, ink=ink)
    grey = cv2.cvtColor(sc.image, cv2.COLOR_BGR2GRAY)
    x, y, w, h = sc.boxes[0]
    assert h > 60 and np.count_nonzero(grey[y : y + h, x : x + w] < 128) < 0.05 * w * h


def test_form_strip_scene_is_truthful(mnist_test, ink):
    sc = S.make_form_strip_scene(np.random.default_rng(2), mnist_test.images, mnist_test.labels, ink=ink)
    assert sc.text == "".join(map(str, sc.labels)) and 1 <= len(sc.boxes) < sc.meta["boxes"]
    assert sc.image.shape[1] > 3 * sc.image.shape[0]  # a strip


def test_touching_pair_overlap_sets_how_far_the_digits_reach_into_each_other(mnist_test, ink):
    for lo, hi in ((0.02, 0.15), (0.2, 0.35)):
        for i in range(5):
            sc = S.make_touching_pair_scene(
                np.random.default_rng([4, i]), mnist_test.images, mnist_test.labels, ink=ink, overlap=(lo, hi)
            )
            assert lo <= sc.meta["overlap"] <= hi
            (x0, _, w0, _), (x1, _, _, _) = sc.boxes
            assert x1 < x0 + w0  # the second digit starts inside the first's box

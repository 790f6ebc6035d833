"""Property-based fuzzing: any array either raises the documented ValueError or gives a
well-formed result.  A short run in CI; DIGITLENS_FUZZ_EXAMPLES=2000 for a long one."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from digitlens.preprocess import PreprocessConfig, preprocess
from digitlens.preprocess.load import ImageLoadError, decode_image

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # NaN or overflow inside is a bug

EXAMPLES = int(os.environ.get("DIGITLENS_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

dtypes = st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int16, np.int64, np.bool_, np.complex64])
shapes = st.one_of(
    st.tuples(st.integers(0, 120), st.integers(0, 120)),
    st.tuples(st.integers(0, 80), st.integers(0, 80), st.integers(0, 5)),
    st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)),
)


def well_formed(pre, shape):
    n = len(pre)
    assert pre.crops.shape == (n, 28, 28) and pre.crops.dtype == np.float32
    assert np.isfinite(pre.crops).all() and pre.crops.min(initial=0) >= 0 and pre.crops.max(initial=0) <= 1
    h, w = shape[:2]
    for x, y, bw, bh in pre.boxes:
        assert 0 <= x and 0 <= y and bw >= 1 and bh >= 1 and x + bw <= w and y + bh <= h
    assert pre.lines.shape == (n,)


@FUZZ
@given(arrays(dtypes, shapes, elements=None))
def test_preprocess_any_array(arr):
    try:
        pre = preprocess(arr)
    except ValueError as exc:
        assert str(exc)
        return
    well_formed(pre, arr.shape)


@FUZZ
@given(
    st.integers(8, 200), st.integers(8, 200), st.integers(0, 2**32 - 1), st.sampled_from(["otsu", "adaptive", "fixed"])
)
def test_preprocess_random_strokes(h, w, seed, method):
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((h, w), rng.integers(0, 256), np.uint8)
    for _ in range(int(rng.integers(0, 8))):
        p1 = tuple(int(v) for v in rng.integers(0, [w, h]))
        p2 = tuple(int(v) for v in rng.integers(0, [w, h]))
        cv2.line(img, p1, p2, int(rng.integers(0, 256)), int(rng.integers(1, 6)))
    img = np.clip(img + rng.normal(0, rng.uniform(0, 30), img.shape), 0, 255).astype(np.uint8)
    well_formed(preprocess(img, PreprocessConfig(threshold=method)), img.shape)


@FUZZ
@given(st.binary(max_size=2000))
def test_decode_any_bytes(data):
    try:
        img = decode_image(data, "fuzz")
    except ImageLoadError as exc:
        assert str(exc).startswith("fuzz")
        return
    assert img.ndim in (2, 3) and img.size > 0


@FUZZ
@given(st.binary(min_size=1, max_size=400), st.sampled_from([".png", ".jpg", ".bmp", ".webp"]))
def test_decode_corrupted_real_files(noise, ext):
    import cv2

    _ok, buf = cv2.imencode(ext, np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8))
    data = bytearray(buf.tobytes())
    pos = len(noise) % max(1, len(data) - 1)
    data[pos : pos + len(noise)] = noise
    try:
        img = decode_image(bytes(data), "fuzz")
    except ImageLoadError:
        return
    assert img.ndim in (2, 3)


def test_reader_on_fuzz_found_cases(reader):
    # kept from fuzzing: single-pixel-wide and all-ink inputs
    for arr in (
        np.zeros((120, 1), np.uint8),
        np.zeros((3, 120), np.uint8),
        np.full((50, 50), 255, np.uint8),
        np.eye(64, dtype=np.uint8) * 255,
        np.zeros((64, 64, 1), np.float32),
        np.full((30, 30), 1.0, np.float32),
        np.full((30, 30), 255.0, np.float32),
    ):
        reading = reader.read(arr)
        assert all(0.0 <= d.confidence <= 1.0 for d in reading.digits + reading.rejected)
    # float64 beyond float32's range once became inf then NaN; floats above 0..255 are now refused clearly
    with pytest.raises(ValueError, match=r"expected 0\.\.1 or 0\.\.255"):
        reader.read(np.full((30, 30), 3.4e38, np.float64))


@pytest.mark.parametrize("value", [3.40282357e38, 1e300, -1e300])
def test_float64_beyond_float32_range_is_clipped_not_overflowed(value):
    """Found by the fuzzer: a float64 photo holding a value past float32's range warned of an
    overflow when sampled for colour; floats are 0..1, so they are clipped first."""
    import warnings

    grey = np.full((40, 40, 3), value)
    colour = grey.copy()
    colour[:, :, 2] = 0.5  # a colourful pixel everywhere, so working_colour runs too
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for arr in (grey, colour):
            well_formed(preprocess(arr), arr.shape)

"""The fast statistics give numpy's answers bit for bit."""

import numpy as np
import pytest

from digitlens.preprocess import stats


def samples():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for n in [*range(1, 40), 99, 100, 255, 256, 1001, 12288]:
            for kind in range(3):
                if kind == 0:
                    a = rng.random(n)
                elif kind == 1:  # ties, as in distance maps and quantised images
                    a = rng.integers(0, 6, n) / 5.0
                else:
                    a = rng.normal(0, 1, n) ** 3
                yield a.astype(dtype)


@pytest.mark.parametrize("q", [75, 50, 99, 0, 100, 25.5, 0.2])
def test_percentile_is_numpys(q):
    for a in samples():
        want = np.percentile(a, q)
        got = stats.fast_percentile(a.copy(), q)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (a.size, a.dtype, q)


def test_median_is_numpys():
    for a in samples():
        want = np.median(a)
        got = stats.fast_median(a.copy())
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (a.size, a.dtype)


@pytest.mark.parametrize("qs", [[0.002, 0.998], [0.03, 0.97], [0.0, 1.0], [0.5]])
def test_quantiles_is_numpys(qs):
    for a in samples():
        want = np.quantile(a, qs)
        got = stats.fast_quantiles(a.copy(), qs)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (a.size, a.dtype, qs)


def test_other_inputs_go_to_numpy():
    a = np.arange(10, dtype=np.uint8)
    assert stats.fast_median(a) == np.median(a)
    assert stats.fast_percentile(a, 75) == np.percentile(a, 75)
    m = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert stats.fast_median(m) == np.median(m)

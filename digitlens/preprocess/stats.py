"""numpy's median, percentile and quantile, bit for bit, without their per-call overhead.

`np.median` and `np.percentile` cost 50-150 us per call on a few hundred values, nearly all
of it bookkeeping around one `np.partition` (a few us).  The pipeline calls them dozens of
times per image (once or twice per digit), so these do just the partition and then the
same arithmetic numpy does, in the same dtypes: the results are identical to numpy's
(tests/preprocess/test_stats.py checks it on random samples of every size).  For 1-D float
arrays without NaN; anything else is handed to numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _plain(a: np.ndarray) -> bool:
    return a.ndim == 1 and a.size > 0 and a.dtype.kind == "f"


def fast_median(a: np.ndarray) -> np.floating:
    """np.median(a) for a 1-D float array without NaN (the mean of the middle pair, in a's dtype)."""
    if not _plain(a):
        return np.median(a)
    n = a.size
    h = n // 2
    if n % 2:
        return np.partition(a, h)[h]
    p = np.partition(a, (h - 1, h))
    return (p[h - 1] + p[h]) / a.dtype.type(2)


def fast_percentile(a: np.ndarray, q: float) -> np.floating:
    """np.percentile(a, q) with a Python number q (linear method), for a 1-D float array without NaN."""
    if not _plain(a) or type(q) not in (int, float) or not 0 <= q <= 100:
        return np.percentile(a, q)
    n = a.size
    v = (n - 1) * (q / 100)
    if v >= n - 1:
        return a.max()
    lo = math.floor(v)
    g = v - lo
    p = np.partition(a, (lo, lo + 1))
    x, y = p[lo], p[lo + 1]
    d = y - x
    return y - d * (1 - g) if g >= 0.5 else x + d * g


def fast_quantiles(a: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """np.quantile(a, qs) for a list of q (linear method; float64 like numpy's), 1-D float a without NaN."""
    q = np.asarray(qs, np.float64)
    if not _plain(a) or q.ndim != 1 or not ((q >= 0) & (q <= 1)).all():
        return np.quantile(a, qs)
    n = a.size
    v = (n - 1) * q
    lo = np.floor(v)
    hi = lo + 1
    top = v >= n - 1
    lo_i, hi_i = lo.astype(np.intp), hi.astype(np.intp)
    lo_i[top] = n - 1
    hi_i[top] = n - 1
    g = v - np.where(top, -1.0, lo)
    p = np.partition(a, np.unique(np.concatenate((lo_i, hi_i))))
    x, y = p[lo_i], p[hi_i]
    d = y - x
    return np.where(g >= 0.5, y - d * (1 - g), x + d * g)

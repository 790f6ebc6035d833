"""Confidence that means something: temperature scaling and expected calibration error.

numpy only.  `fit_temperature` finds the T that minimises the negative log-likelihood of
softmax(logits / T) on held-out data (Guo et al. 2017); the exporter folds 1/T into the
graph, so the logits that ship are already calibrated.  `ece` is the usual binned
expected calibration error of the top-1 confidence.
"""

from __future__ import annotations

import numpy as np


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, weights: np.ndarray | None = None) -> float:
    """(Weighted) mean negative log-likelihood of the true labels under softmax(logits / temperature)."""
    lp = _log_softmax(np.asarray(logits, np.float64) / temperature)
    per = -lp[np.arange(len(labels)), np.asarray(labels)]
    return float(per.mean() if weights is None else (per * weights).sum() / weights.sum())


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true labels under softmax(logits / temperature)."""
    return _nll(logits, labels, temperature)


def group_weights(groups: np.ndarray) -> np.ndarray:
    """Per-sample weights under which every group (an int id per sample) counts the same in total."""
    groups = np.asarray(groups)
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse].astype(np.float64)


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, lo: float = 0.05, hi: float = 20.0, groups: np.ndarray | None = None
) -> float:
    """The temperature minimising NLL on (logits [N, K], labels [N]), by golden-section search on log T.

    `groups` (an id per sample, e.g. MNIST digits / generated non-digits / photo crops):
    each group then weighs the same, so a large clean group does not set the temperature
    for the crops inference actually sees.
    """
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels, np.int64)
    if logits.ndim != 2 or len(logits) != len(labels) or len(labels) == 0:
        raise ValueError(f"need logits [N, K] and labels [N] with N > 0, got {logits.shape} and {labels.shape}")
    if groups is not None and len(groups) != len(labels):
        raise ValueError(f"need one group per sample, got {len(groups)} for {len(labels)}")
    w = None if groups is None else group_weights(groups)

    def nll(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
        return _nll(logits, labels, t, w)

    a, b = np.log(lo), np.log(hi)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(logits, labels, np.exp(c)), nll(logits, labels, np.exp(d))
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(logits, labels, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(logits, labels, np.exp(d))
    return float(np.exp((a + b) / 2))


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: |accuracy - confidence| per confidence bin, weighted by the bin's share."""
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 0.0
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for k in range(bins):
        sel = idx == k
        if sel.any():
            total += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(total)

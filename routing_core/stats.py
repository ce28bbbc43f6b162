"""Weighted percentiles of many small samples at once (one row per candidate operation).

The rules of :func:`routing_core.predictor.trimmed_stats`, row by row, as array operations: a
value counts when it is finite and its weight positive; with at least 4 such values, those
outside Tukey's fences (1.5 × the interquartile range, quartiles by linear interpolation) are
dropped unless that drops them all; the weighted percentile is the first value, in (value,
weight) order, whose running weight reaches ``q × total − 1e-12``. The running weights are the
same additions in the same order as the plain-Python loop (a dropped value adds an exact 0.0),
so every figure is the same float.
"""

from __future__ import annotations

import numpy as np


def weighted_percentiles(
    values: np.ndarray, weights: np.ndarray, percentiles: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``values`` / ``weights`` (same shape; a weight ≤ 0 marks no value): the
    weighted percentiles (rows × len(percentiles)) and whether the row had any value."""
    valid = (weights > 0) & np.isfinite(values)
    key = np.where(valid, values, np.inf)
    order = np.lexsort((weights, key), axis=-1)
    v = np.take_along_axis(key, order, axis=1)
    w = np.take_along_axis(np.where(valid, weights, 0.0), order, axis=1)
    n = valid.sum(axis=1)
    kept = np.arange(values.shape[1]) < n[:, None]  # the valid values, sorted first
    kept = _inside_fences(v, n, kept)
    running = np.cumsum(np.where(kept, w, 0.0), axis=1)
    total = running[:, -1]
    # all percentiles at once: rows × percentiles × values. Up to the 100th, the last kept
    # value reaches every target (the running weight there is the total); a row without
    # values gives its first (argmax of nothing reached is 0)
    target = (np.array(percentiles) / 100.0)[None, :] * total[:, None] - 1e-12
    reached = kept[:, None, :] & (running[:, None, :] >= target[:, :, None])
    first = np.argmax(reached, axis=2)
    if max(percentiles) > 100:  # beyond the total: the last kept value
        last = values.shape[1] - 1 - np.argmax(kept[:, ::-1], axis=1)
        last = np.where(kept.any(axis=1), last, 0)
        first = np.where(reached.any(axis=2), first, last[:, None])
    return np.take_along_axis(v, first, axis=1), n > 0


def _inside_fences(v: np.ndarray, n: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """``kept`` without the Tukey outliers of the rows with at least 4 values (a row whose
    values would all be dropped keeps them). Quartiles by linear interpolation (numpy's
    default) of each row's first ``n`` sorted values, both at once and for every row (a row
    with fewer values is computed, then left as it is)."""
    use = n >= 4
    if not use.any():
        return kept
    pos = _QUARTILES * (n - 1)[:, None]
    low = pos.astype(np.int64)
    high = np.minimum(low + 1, (n - 1)[:, None])
    at_low, at_high = np.take_along_axis(v, low, axis=1), np.take_along_axis(v, high, axis=1)
    with np.errstate(invalid="ignore"):  # the rows left as they are may hold inf - inf
        q = at_low + (at_high - at_low) * (pos - low)
        fence = 1.5 * (q[:, 1:] - q[:, :1])
        inside = kept & (q[:, :1] - fence <= v) & (v <= q[:, 1:] + fence)
    return np.where((use & inside.any(axis=1))[:, None], inside, kept)


_QUARTILES = np.array([[0.25, 0.75]])


def rounded(values: np.ndarray, digits: int) -> list:
    """``round(v, digits)`` of every value, as (nested) lists of floats."""
    return rounded_array(values, digits).tolist()


def rounded_array(values: np.ndarray, digits: int | list[int]) -> np.ndarray:
    """``round(v, digits)`` of every value, the same floats as Python's: the scaled value
    rounded half to even, divided back, which is Python's correctly rounded result wherever
    the scaled value is not within its own rounding error of a tie; those (and huge or
    non-finite values) are left to ``round`` itself. ``digits``: one for all values, or one
    per row of a 2-d ``values``."""
    if isinstance(digits, int):
        scale = 10.0**digits
    else:
        scale = np.array([10.0**d for d in digits])[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = values * scale
        whole = np.rint(scaled)
        out = whole / scale
        size = np.abs(scaled)
        unsure = ~(size < 2.0**50) | (np.abs(np.abs(scaled - whole) - 0.5) <= size * 2.0**-48)
    if unsure.any():
        if isinstance(digits, int):
            out[unsure] = [round(v, digits) for v in values[unsure].tolist()]
        else:
            per_value = np.broadcast_to(np.array(digits)[:, None], values.shape)[unsure]
            out[unsure] = [
                round(v, d)
                for v, d in zip(values[unsure].tolist(), per_value.tolist(), strict=True)
            ]
    return out

"""Text attributes as people write them: word tokens and the numbers written inside a text."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from routing_core.numbers import parse_number

_WORD = re.compile(r"[^\W_]+")
_WORD_OR_BREAK = re.compile(r"[^\W_]+|\n")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def words_of(text: str) -> list[str]:
    """Word tokens of a normalised text: runs of letters and digits (``d20x150``, ``ø``)."""
    return _WORD.findall(text)


def numbers_in(text: str, locale: str = "auto") -> list[float]:
    """The numbers written inside a text, in order: ``Shaft D20x150`` → [20, 150],
    ``Ø 40`` → [40], ``M8`` → [8], ``160,5 mm`` → [160.5] (decimal mark per ``locale``)."""
    out = []
    for token in _NUMBER.findall(text):
        number = parse_number(token, locale)
        if number == number:
            out.append(number)
    return out


def word_entries(texts: Sequence[str | None], buckets: int):
    """Hashed word-token counts per text as (rows, cols, values), rows L2-normalised.

    Tokens are found in one pass over all texts joined by line breaks (a normalised text has
    none; the breaks are found as tokens of their own and number the rows), and each
    *distinct* word is hashed (CRC32) once, so 300,000 names cost about as much as their
    distinct words; a few texts (a prediction) take a plain loop with the same arithmetic."""
    if len(texts) <= 64:
        return _few_word_entries(texts, buckets)
    import pandas as pd  # here, not at the top: serving (a few texts) starts without pandas

    joined = "\n".join([t or "" for t in texts])
    if joined.count("\n") != len(texts) - 1:  # a text with a line break: the rows by pandas
        words = pd.Series([t or "" for t in texts], dtype=object).str.findall(_WORD).explode()
        words = words[words.notna()]
        rows, codes, distinct = words.index.to_numpy(np.int64), *pd.factorize(words.to_numpy())
    else:
        codes, distinct = pd.factorize(np.array(_WORD_OR_BREAK.findall(joined), dtype=object))
        is_break = distinct == "\n"
        breaks = is_break[codes]
        rows, codes = np.cumsum(breaks)[~breaks], codes[~breaks]
    if not len(codes):
        return _EMPTY
    hashed = np.fromiter(
        (zlib.crc32(b"w:" + w.encode("utf-8")) % buckets for w in distinct),
        dtype=np.int64,
        count=len(distinct),
    )
    keys, counts = np.unique(rows * buckets + hashed[codes], return_counts=True)
    rows, cols = keys // buckets, keys % buckets
    norms = np.sqrt(np.bincount(rows, weights=counts.astype(float) ** 2))
    return rows, cols, (counts / norms[rows]).astype(np.float32)


def _few_word_entries(texts: Sequence[str | None], buckets: int):
    rows, cols, vals = [], [], []
    for i, text in enumerate(texts):
        counts: dict[int, int] = {}
        for word in _WORD.findall(text or ""):
            b = zlib.crc32(b"w:" + word.encode("utf-8")) % buckets
            counts[b] = counts.get(b, 0) + 1
        norm = sum(c * c for c in counts.values()) ** 0.5
        for b in sorted(counts):
            rows.append(i)
            cols.append(b)
            vals.append(counts[b] / norm)
    return (
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.array(vals, dtype=np.float32),
    )


_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))

"""Text attributes as people write them: word tokens and the numbers written inside a text."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from routing_core.numbers import parse_number

_WORD = re.compile(r"[^\W_]+")
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
    """Hashed word-token counts per text as (rows, cols, values), rows L2-normalised."""
    rows, cols, vals = [], [], []
    for i, text in enumerate(texts):
        if not text:
            continue
        counts: dict[int, int] = {}
        for word in words_of(text):
            b = zlib.crc32(b"w:" + word.encode("utf-8")) % buckets
            counts[b] = counts.get(b, 0) + 1
        norm = sum(c * c for c in counts.values()) ** 0.5
        for b, c in counts.items():
            rows.append(i)
            cols.append(b)
            vals.append(c / norm)
    return (
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.array(vals, dtype=np.float32),
    )

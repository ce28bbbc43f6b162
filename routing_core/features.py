"""Item attributes → fixed-dimension, L2-normalised embedding vectors.

One code path for training and prediction: :meth:`FeatureEncoder.embed` turns a list of
attribute dicts (or a DataFrame's columns) into vectors, and both the trainer and the runtime
call it. Missing values are recognised by :func:`is_missing` in both places and contribute
nothing (an all-zero block), so "missing" can never mean one thing at training and another at
prediction.

Per attribute kind:
- categorical: one-hot over the frequent values seen at training; rarer or unseen values fall
  into a small number of hashed buckets (stable CRC32), so a >1,000-value column stays compact;
- numeric: ``log1p`` for non-negative columns, then robust scaling (median / IQR), clipped; a 0
  counts as missing when the attribute says so (real dimension columns use 0 for "not given");
- text: case and spacing normalised; character 2–4-grams (hashed, L2-normalised) and word
  tokens (hashed into their own buckets, L2-normalised), the two halves weighted equally; with
  ``"numbers": N`` in the profile's attribute, the first N numbers written inside the text
  (``D20x150`` → 20, 150; ``Ø 40`` → 40; ``M8`` → 8) become N numeric columns scaled like a
  numeric attribute. Numbers are read by :func:`routing_core.numbers.parse_number` in the
  profile's number locale, the parser extraction uses.

Each attribute's block is scaled to unit size first and *then* multiplied by its weight, and
nothing scales afterwards, so the weights are what the engineers set. TruncatedSVD (fitted at
training, applied as a plain matrix product) reduces to ``dim`` and rows are L2-normalised for
the cosine index.
"""

from __future__ import annotations

import functools
import json
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from routing_core.numbers import parse_number
from routing_core.text import numbers_in, word_entries

if TYPE_CHECKING:
    import scipy.sparse

KINDS = ("categorical", "numeric", "text")
TEXT_BUCKETS = 2048
WORD_BUCKETS = 512
HALF = np.float32(math.sqrt(0.5))
CAT_HASH_BUCKETS = 16
MAX_VOCAB = 512
NGRAMS = (2, 3, 4)
TEXT_SLICE = 40_000  # text values whose entries are built at once
GATHER_ROWS = 65_536  # rows whose projected values are added at once
CLIP = 4.0


MISSING_WORDS = frozenset(("nan", "none", "null", "nat", "<na>"))


def is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return str(value).strip().lower() in MISSING_WORDS


def norm_category(value) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().upper()


def norm_text(value) -> str | None:
    if is_missing(value):
        return None
    return " ".join(str(value).lower().split())


def norm_texts(values: Iterable) -> list[str | None]:
    """:func:`norm_text` of many values: a plain string (what extraction gives) is lowered and
    its spacing collapsed in one step, its missing spellings recognised on the result; anything
    else takes :func:`norm_text`."""
    out: list[str | None] = []
    for value in values:
        if type(value) is str:
            text = " ".join(value.lower().split())
            out.append(text if text and text not in MISSING_WORDS else None)
        else:
            out.append(norm_text(value))
    return out


def norm_number(value, zero_is_missing: bool, locale: str = "auto") -> float:
    if is_missing(value):
        return math.nan
    number = parse_number(value, locale)
    if math.isnan(number) or (zero_is_missing and number == 0):
        return math.nan
    return number


@functools.lru_cache(maxsize=50_000)
def _normalise(kind: str, zero_is_missing: bool, value, locale: str = "auto"):
    if kind == "numeric":
        number = norm_number(value, zero_is_missing, locale)
        return None if math.isnan(number) else number
    return norm_category(value) if kind == "categorical" else norm_text(value)


def _bucket(token: str, buckets: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % buckets


_BUCKET_BITS = TEXT_BUCKETS.bit_length() - 1  # buckets are a power of two: masks, not modulo
assert 1 << _BUCKET_BITS == TEXT_BUCKETS
_PRIME = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def text_entries(texts: Sequence[str | None], chunk: int = 20_000):
    """Hashed character 2–4-gram counts per text as (rows, cols, values), rows L2-normalised.

    Vectorised over all texts at once (a polynomial hash of the code points of each n-gram,
    mixed and reduced to ``TEXT_BUCKETS``), so 300,000 distinct names take seconds, and a single
    text at prediction goes through exactly the same arithmetic. ``None`` gives no entries.
    """
    if len(texts) == 1 and texts[0] is not None:  # one text (a prediction): plain integers
        return _one_text_entries(texts[0])
    parts = [_text_chunk(texts[i : i + chunk], i) for i in range(0, len(texts), chunk)]
    if not parts:
        return _EMPTY
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))


_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))


def _sparse():
    """scipy.sparse, imported on first use: a prediction (a few values per attribute) never
    needs it, so the serving process starts without it."""
    import scipy.sparse

    return scipy.sparse


def _count_keys(keys: np.ndarray, n: int):
    """Distinct (row, bucket) pairs in (row, bucket) order and their counts: one sort, of
    32-bit keys where the rows allow (half the memory to sort as 64-bit ones)."""
    if n << _BUCKET_BITS < 2**32:
        keys = keys.astype(np.uint32)
    unique, counts = np.unique(keys, return_counts=True)
    unique = unique.astype(np.int64)
    return unique >> _BUCKET_BITS, unique & (TEXT_BUCKETS - 1), counts


def _text_chunk(texts: Sequence[str | None], first_row: int):
    n = len(texts)
    padded = [f" {t} " if t is not None else "" for t in texts]
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=n)
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    row_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
    room = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(codes))  # characters left
    keys = []
    h = np.zeros(len(codes), dtype=np.uint64)
    for size in range(1, max(NGRAMS) + 1):  # extend the n-gram hash one character at a time
        h *= _PRIME
        h[: len(codes) - size + 1] += codes[size - 1 :]
        if size in NGRAMS:
            valid = room >= size
            mixed = (h[valid] + np.uint64(size)) * _MIX
            bucket = ((mixed >> np.uint64(40)) & np.uint64(TEXT_BUCKETS - 1)).astype(np.int64)
            keys.append((row_of[valid] << _BUCKET_BITS) | bucket)
    rows, cols, counts = _count_keys(np.concatenate(keys), n)
    if not len(rows):  # no text with a character
        return rows, cols, np.zeros(0, np.float32)
    # rows are sorted and each has a count: its norm from one integer sum per run of the row
    # (whole squares add up exactly in any order, as the float sum per row did)
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    norms = np.sqrt(np.add.reduceat(counts * counts, starts).astype(np.float64))
    values = (counts / np.repeat(norms, np.diff(np.r_[starts, len(rows)]))).astype(np.float32)
    return rows + first_row, cols, values


def _one_text_entries(text: str):
    """:func:`_text_chunk` of one text without its multi-text bookkeeping: the same n-gram
    hashes, their buckets counted by ``bincount`` (ascending, as ``np.unique`` gives them),
    each count divided by the norm of the counts (a sum of integers: exact in any order)."""
    codes = np.frombuffer(f" {text} ".encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    h, found = codes, []
    for size in range(2, max(NGRAMS) + 1):
        h = h[:-1] * _PRIME + codes[size - 1 :]
        if size in NGRAMS:
            found.append((h + np.uint64(size)) * _MIX >> np.uint64(40))
    counts = np.bincount(
        (np.concatenate(found) % np.uint64(TEXT_BUCKETS)).astype(np.int64), minlength=TEXT_BUCKETS
    )
    cols = np.flatnonzero(counts)
    counts = counts[cols].astype(np.float64)
    norm = math.sqrt(float(np.dot(counts, counts)))
    return np.zeros(len(cols), dtype=np.int64), cols, (counts / norm).astype(np.float32)


@dataclass
class AttributeCodec:
    """How one attribute becomes a block of columns; fitted at training, frozen afterwards."""

    name: str
    kind: str
    weight: float
    offset: int = 0
    vocab: dict[str, int] = field(default_factory=dict)  # categorical
    center: float = 0.0  # numeric
    scale: float = 1.0
    log: bool = False
    zero_is_missing: bool = True
    locale: str = "auto"
    words: bool = False  # text: word tokens beside the character n-grams
    numbers: int = 0  # text: how many numbers inside the text become numeric columns
    number_center: list[float] = field(default_factory=list)
    number_scale: list[float] = field(default_factory=list)

    @property
    def width(self) -> int:
        if self.kind == "categorical":
            return len(self.vocab) + CAT_HASH_BUCKETS
        if self.kind == "numeric":
            return 1
        return TEXT_BUCKETS + (WORD_BUCKETS if self.words else 0) + self.numbers

    def fit(self, distinct: list, counts: np.ndarray) -> None:
        """Learn the vocabulary / scaler from the column's distinct values and their counts."""
        if self.kind == "categorical":
            totals: dict[str, int] = {}
            for value, n in zip(distinct, counts.tolist(), strict=True):
                c = norm_category(value)
                if c is not None:
                    totals[c] = totals.get(c, 0) + n
            frequent = sorted((v for v, n in totals.items() if n >= 2), key=lambda v: -totals[v])
            self.vocab = {v: i for i, v in enumerate(sorted(frequent[:MAX_VOCAB]))}
        elif self.kind == "numeric":
            nums = np.array(
                [norm_number(v, self.zero_is_missing, self.locale) for v in distinct], dtype=float
            )
            self.log = bool(np.nanmin(nums, initial=0.0) >= 0)
            self.center, self.scale = _robust_scale(nums, counts, self.log)
        elif self.numbers:
            slots = self._text_numbers(distinct)
            fitted = [_robust_scale(slots[:, j], counts, True) for j in range(self.numbers)]
            self.number_center = [c for c, _ in fitted]
            self.number_scale = [s for _, s in fitted]

    def _text_numbers(self, distinct: list) -> np.ndarray:
        """(distinct values × ``numbers``) numbers written inside each text; NaN where none."""
        out = np.full((len(distinct), self.numbers), np.nan)
        for i, value in enumerate(distinct):
            if not is_missing(value):
                found = numbers_in(str(value), self.locale)[: self.numbers]
                out[i, : len(found)] = found
        return out

    def entries(self, distinct: list):
        """(row, column, value) of each distinct raw value's block, weight applied."""
        if self.kind == "text":
            return self._text_entries(distinct)
        rows, cols, vals = [], [], []
        for i, value in enumerate(distinct):
            entry = self._encode_scalar(value)
            if entry is not None:
                rows.append(i)
                cols.append(entry[0])
                vals.append(entry[1] * self.weight)
        return (
            np.array(rows, dtype=np.int64),
            np.array(cols, dtype=np.int64),
            np.array(vals, dtype=np.float32),
        )

    def _text_entries(self, distinct: list):
        """N-grams, word tokens and numbers of each distinct *normalised* text (``Shaft`` and
        ``SHAFT `` are one), handed back per raw value in the raw values' order."""
        if len(distinct) == 1:  # one value (a prediction): no distinct texts to spread back
            return self._one_value_entries(distinct[0])
        texts, raw_of = _distinct_texts(distinct)
        if not texts:
            return _EMPTY
        parts = [text_entries(texts)]
        if self.words:
            rows, cols, vals = word_entries(texts, WORD_BUCKETS)
            parts = [
                (parts[0][0], parts[0][1], parts[0][2] * HALF),
                (rows, cols + TEXT_BUCKETS, vals * HALF),
            ]
        if self.numbers:
            parts.append(self._number_entries(texts))
        rows, cols, vals = (np.concatenate(p) for p in zip(*parts, strict=True))
        del parts  # the concatenated entries are all that is needed from here on
        rows, cols, vals = _spread(rows, cols, vals, raw_of, len(texts))
        return rows, cols, vals.astype(np.float32) * np.float32(self.weight)

    def _one_value_entries(self, value):
        """:meth:`_text_entries` of one raw value: the same entries, in the same order, with
        the same arithmetic (all in row 0)."""
        text = norm_texts([value])[0]
        if text is None:
            return _EMPTY
        _, cols, vals = _one_text_entries(text)
        if self.words or self.numbers:
            parts = [(cols, vals * HALF if self.words else vals)]
            if self.words:
                _, w_cols, w_vals = word_entries([text], WORD_BUCKETS)
                parts.append((w_cols + TEXT_BUCKETS, w_vals * HALF))
            if self.numbers:
                parts.append(self._number_entries([text])[1:])
            cols, vals = (np.concatenate(p) for p in zip(*parts, strict=True))
        rows = np.zeros(len(cols), dtype=np.int64)
        return rows, cols, vals.astype(np.float32) * np.float32(self.weight)

    def _number_entries(self, distinct: list):
        slots = self._text_numbers(distinct)
        z = (np.log1p(np.maximum(slots, 0.0)) - self.number_center) / self.number_scale
        z = np.clip(z, -CLIP, CLIP) / CLIP / math.sqrt(self.numbers)
        rows, slot = np.nonzero(~np.isnan(z) & (z != 0))
        first = TEXT_BUCKETS + (WORD_BUCKETS if self.words else 0)
        return (
            rows.astype(np.int64),
            (first + slot).astype(np.int64),
            z[rows, slot].astype(np.float32),
        )

    def block(self, distinct: list) -> scipy.sparse.csr_matrix:
        """The distinct values' block; a text attribute's in slices of ``TEXT_SLICE`` values
        stacked (each value's entries do not depend on the others), so the entries of
        300,000 names are never all in memory at once beside their matrix."""
        if self.kind == "text" and len(distinct) > TEXT_SLICE:
            return _sparse().vstack(
                [
                    self._block(distinct[i : i + TEXT_SLICE])
                    for i in range(0, len(distinct), TEXT_SLICE)
                ],
                format="csr",
            )
        return self._block(distinct)

    def _block(self, distinct: list) -> scipy.sparse.csr_matrix:
        rows, cols, vals = self.entries(distinct)
        return _sparse().csr_matrix((vals, (rows, cols)), shape=(len(distinct), self.width))

    def _encode_scalar(self, value) -> tuple[int, float] | None:
        if self.kind == "categorical":
            c = norm_category(value)
            if c is None:
                return None
            col = self.vocab.get(c)
            return (col if col is not None else len(self.vocab) + _bucket(c, CAT_HASH_BUCKETS), 1.0)
        x = norm_number(value, self.zero_is_missing, self.locale)
        if math.isnan(x):
            return None
        if self.log:
            x = math.log1p(max(x, 0.0))
        z = max(-CLIP, min(CLIP, (x - self.center) / self.scale)) / CLIP
        return (0, z) if z else None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "weight": self.weight,
            "offset": self.offset,
            "vocab": sorted(self.vocab, key=self.vocab.get),
            "center": self.center,
            "scale": self.scale,
            "log": self.log,
            "zero_is_missing": self.zero_is_missing,
            "locale": self.locale,
            "words": self.words,
            "numbers": self.numbers,
            "number_center": self.number_center,
            "number_scale": self.number_scale,
        }

    @classmethod
    def from_json(cls, data: dict) -> AttributeCodec:
        vocab = {v: i for i, v in enumerate(data.pop("vocab"))}
        return cls(vocab=vocab, **data)


def _distinct_texts(distinct: list) -> tuple[list[str], np.ndarray]:
    """The distinct normalised texts of ``distinct`` raw values, and per raw value the index
    of its text (-1 when missing)."""
    normed = norm_texts(distinct)
    if len(normed) <= 64:
        seen: dict[str, int] = {}
        raw_of = [-1 if t is None else seen.setdefault(t, len(seen)) for t in normed]
        return list(seen), np.array(raw_of, dtype=np.int64)
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(normed, dtype=object), use_na_sentinel=True)
    return list(uniques), codes.astype(np.int64)


def _spread(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, raw_of: np.ndarray, n: int):
    """Entries of distinct texts (rows 0..n-1) → entries of the raw values pointing at them,
    ordered by raw value, then by column (a few values: a sort; many: scipy's row gather);
    where each text has one raw value, the entries keep their order under the raw rows."""
    present = np.flatnonzero(raw_of >= 0)
    if len(present) == n:  # one raw value per text (the usual case): only relabel the rows
        raw_value = np.empty(n, dtype=np.int64)
        raw_value[raw_of[present]] = present
        return raw_value[rows], cols, vals
    if len(raw_of) <= 64:
        order = np.lexsort((cols, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        picked = [np.flatnonzero(rows == raw_of[i]) for i in present]
        lengths = [len(p) for p in picked]
        picked = np.concatenate(picked) if picked else np.zeros(0, np.int64)
        return np.repeat(present, lengths).astype(np.int64), cols[picked], vals[picked]
    width = int(cols.max()) + 1 if len(cols) else 1
    matrix = _sparse().csr_matrix((vals, (rows, cols)), shape=(n, width))[raw_of[present]]
    coo = matrix.tocoo()
    return present[coo.row].astype(np.int64), coo.col.astype(np.int64), coo.data


def _robust_scale(nums: np.ndarray, counts: np.ndarray, log: bool) -> tuple[float, float]:
    """(median, IQR) of the non-missing values repeated by their counts (``log1p`` first)."""
    keep = ~np.isnan(nums)
    nums, weights = nums[keep], counts[keep]
    if log:
        nums = np.log1p(np.maximum(nums, 0.0))
    if not nums.size:
        return 0.0, 1.0
    nums = np.repeat(nums, weights)
    q1, med, q3 = np.percentile(nums, [25, 50, 75])
    return float(med), float(q3 - q1) or float(nums.std()) or 1.0


def _factorize(values: Sequence, n: int) -> tuple[list, np.ndarray]:
    """Distinct values and each row's index into them (the last distinct value is None)."""
    if n > 2000:  # training-sized input: let pandas do the hashing in C
        import pandas as pd

        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        distinct = list(uniques) + [None]
        return distinct, np.where(codes < 0, len(distinct) - 1, codes).astype(np.int64)
    seen: dict = {}
    codes = np.empty(n, dtype=np.int64)
    for i, v in enumerate(values):
        key = None if is_missing(v) else v
        code = seen.get(key)
        if code is None:
            code = seen[key] = len(seen)
        codes[i] = code
    return list(seen), codes


class FeatureEncoder:
    """Sparse attribute matrix → SVD projection → L2-normalised ``float32`` vectors."""

    def __init__(self, codecs: list[AttributeCodec], dim: int):
        self.codecs = codecs
        self.dim = dim
        self.components: np.ndarray | None = None  # (n_features, dim), float32
        self._memo: dict = {}  # (attribute, raw value) -> projected vector, for predictions
        offset = 0
        for codec in codecs:
            codec.offset = offset
            offset += codec.width
        self.n_features = offset

    @classmethod
    def from_attributes(
        cls, attributes: list[dict], weights: dict | None, dim: int, locale: str = "auto"
    ) -> FeatureEncoder:
        """Codecs for the profile's attributes: ``weights`` (workflow settings) override the
        profile's; a weight of 0 or ``"encode": false`` (a family-only identifier) leaves the
        attribute out."""
        weights = weights or {}

        def weight_of(a: dict) -> float:
            return float(weights.get(a["name"], a.get("weight", 1.0)))

        codecs = [
            AttributeCodec(
                name=a["name"],
                kind=a["kind"],
                weight=weight_of(a),
                zero_is_missing=bool(a.get("zero_is_missing", True)),
                locale=locale,
                words=a["kind"] == "text" and bool(a.get("words", True)),
                numbers=int(a.get("numbers", 0)) if a["kind"] == "text" else 0,
            )
            for a in attributes
            if weight_of(a) > 0 and a.get("encode", True) is not False
        ]
        return cls(codecs, dim)

    # -- fitting ------------------------------------------------------------------------------
    def fit_transform(self, columns: dict[str, Sequence], seed: int = 0, sample: int = 20000):
        """Fit vocabularies, scalers and the SVD on the training items; return their vectors."""
        from sklearn.decomposition import TruncatedSVD

        n = len(next(iter(columns.values()))) if columns else 0
        factorized = self._factorize_all(columns, n)
        for codec in self.codecs:
            distinct, codes = factorized[codec.name]
            codec.fit(distinct, np.bincount(codes, minlength=len(distinct)))
        offset = 0
        for codec in self.codecs:
            codec.offset, offset = offset, offset + codec.width
        self.n_features = offset
        blocks = {c.name: c.block(factorized[c.name][0]) for c in self.codecs}
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(n, size=sample, replace=False)) if n > sample else np.arange(n)
        matrix = _sparse().hstack(
            [blocks[c.name][factorized[c.name][1][rows]] for c in self.codecs],
            format="csr",
            dtype=np.float32,
        )
        dim = max(2, min(self.dim, matrix.shape[1] - 1, len(rows) - 1))
        svd = TruncatedSVD(n_components=dim, algorithm="randomized", n_iter=3, random_state=seed)
        svd.fit(matrix)
        del matrix
        self.dim = dim
        self.components = np.ascontiguousarray(svd.components_.T, dtype=np.float32)
        return self._project(factorized, n, blocks)  # empties ``blocks`` as it goes

    # -- the shared path ----------------------------------------------------------------------
    def _factorize_all(self, columns: dict[str, Sequence], n: int) -> dict:
        return {c.name: _factorize(columns.get(c.name, [None] * n), n) for c in self.codecs}

    def _project(self, factorized: dict, n: int, blocks: dict | None = None) -> np.ndarray:
        """Σ over attributes of (distinct values' block @ its slice of the SVD components),
        gathered per row: the same result as the full sparse matrix times the components,
        without ever building that matrix. Small batches (prediction) add the component rows
        of the same entries directly, skipping scipy's per-matrix overhead. ``blocks`` (the
        training's, built once) are taken out of the dict as they are used, so each is freed
        once projected."""
        vectors = np.zeros((n, self.dim), dtype=np.float32)
        for c in self.codecs:
            distinct, codes = factorized[c.name]
            components = self.components[c.offset : c.offset + c.width]
            if blocks is None and len(distinct) <= 64:
                projected = np.stack([self._value_vector(c, v) for v in distinct])
            else:
                block = blocks.pop(c.name) if blocks else c.block(distinct)
                projected = np.asarray(block @ components).astype(np.float32, copy=False)
                del block
            for i in range(0, n, GATHER_ROWS):  # in row slices: no (n, dim) temporary
                vectors[i : i + GATHER_ROWS] += projected[codes[i : i + GATHER_ROWS]]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms

    def _value_vector(self, codec: AttributeCodec, value) -> np.ndarray:
        """One raw value's projected contribution, memoised: a plant has few distinct values
        per attribute, so predictions mostly add up vectors they have already computed."""
        key = (codec.name, value)
        try:
            cached = self._memo.get(key)
        except TypeError:  # unhashable value: compute without memoising
            key, cached = None, None
        if cached is not None:
            return cached
        components = self.components[codec.offset : codec.offset + codec.width]
        rows, cols, vals = codec.entries([value])
        vector = (vals[:, None] * components[cols]).sum(axis=0, dtype=np.float32)
        vector = np.zeros(self.dim, np.float32) if not len(cols) else vector.astype(np.float32)
        if key is not None:
            if len(self._memo) >= 50_000:
                self._memo.clear()
            self._memo[key] = vector
        return vector

    def transform(self, columns: dict[str, Sequence]) -> np.ndarray:
        """Vectors for whole columns (evaluation of many items), same path as :meth:`embed`."""
        n = len(next(iter(columns.values()))) if columns else 0
        return self._project(self._factorize_all(columns, n), n)

    def embed(self, records: Iterable[dict]) -> np.ndarray:
        """Vectors for attribute dicts (prediction), through the same path as training."""
        records = list(records)
        if len(records) <= 64:
            return self._embed_few(records)
        columns = {c.name: [r.get(c.name) for r in records] for c in self.codecs}
        return self._project(self._factorize_all(columns, len(records)), len(records))

    def _embed_few(self, records: list[dict]) -> np.ndarray:
        """:meth:`_project` of a few records without its per-attribute arrays: each record's
        memoised value vectors added in the codecs' order, the same float32 additions. A
        missing value's vector is all zeros and adding it changes nothing (the sum starts at
        +0.0 and so never holds -0.0), so it is skipped."""
        vectors = np.zeros((len(records), self.dim), dtype=np.float32)
        for row, record in zip(vectors, records, strict=True):
            for c in self.codecs:
                value = record.get(c.name)
                if value is not None:
                    row += self._value_vector(c, value)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms

    def matched_attributes(self, query: dict, other: dict, normalised: bool = False) -> list[str]:
        """Names of the attributes on which two items agree (after normalisation).

        ``normalised=True`` says ``query`` already is :meth:`normalised` output (one item
        compared with many neighbours normalises its own values once)."""
        mine = query if normalised else self.normalised(query)
        theirs = self.normalised(other)
        out = []
        for c in self.codecs:
            x, y = mine.get(c.name), theirs.get(c.name)
            if x is None or y is None:
                continue
            if c.kind == "numeric":
                same = abs(x - y) <= 0.02 * max(abs(x), abs(y), 1e-9)
            else:
                same = x == y
            if same:
                out.append(c.name)
        return out

    def normalised(self, record: dict) -> dict:
        """Each attribute's comparable value (None when missing); memoised per raw value."""
        out = {}
        for c in self.codecs:
            value = record.get(c.name)
            if value is None:
                continue
            try:
                out[c.name] = _normalise(c.kind, c.zero_is_missing, value, c.locale)
            except TypeError:  # an unhashable value cannot be memoised
                out[c.name] = _normalise.__wrapped__(c.kind, c.zero_is_missing, value, c.locale)
        return out

    # -- persistence --------------------------------------------------------------------------
    def save(self, folder: Path) -> list[str]:
        (folder / "encoder.json").write_text(
            json.dumps(
                {
                    "dim": self.dim,
                    "n_features": self.n_features,
                    "codecs": [c.to_json() for c in self.codecs],
                },
                ensure_ascii=False,
            )
        )
        np.save(folder / "svd_components.npy", self.components)
        return ["encoder.json", "svd_components.npy"]

    @classmethod
    def load(cls, folder: Path) -> FeatureEncoder:
        meta = json.loads((folder / "encoder.json").read_text())
        encoder = cls([AttributeCodec.from_json(c) for c in meta["codecs"]], meta["dim"])
        encoder.components = np.load(folder / "svd_components.npy")
        if encoder.components.shape != (encoder.n_features, encoder.dim):
            raise ValueError(
                f"svd_components.npy has shape {encoder.components.shape}, expected "
                f"({encoder.n_features}, {encoder.dim}) from encoder.json"
            )
        return encoder

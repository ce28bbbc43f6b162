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
- text: character 2–4-grams of the lower-cased value, hashed (CRC32) and L2-normalised.

Each attribute's block is scaled to unit size first and *then* multiplied by its weight, and
nothing scales afterwards, so the weights are what the engineers set. TruncatedSVD (fitted at
training, applied as a plain matrix product) reduces to ``dim`` and rows are L2-normalised for
the cosine index.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

KINDS = ("categorical", "numeric", "text")
TEXT_BUCKETS = 2048
CAT_HASH_BUCKETS = 16
MAX_VOCAB = 512
NGRAMS = (2, 3, 4)
CLIP = 4.0


def is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return str(value).strip().lower() in ("nan", "none", "null", "nat", "<na>")


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


def norm_number(value, zero_is_missing: bool) -> float:
    if is_missing(value):
        return math.nan
    try:
        number = float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return math.nan
    if not math.isfinite(number) or (zero_is_missing and number == 0):
        return math.nan
    return number


def _bucket(token: str, buckets: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % buckets


def text_buckets(text: str) -> dict[int, float]:
    """Hashed character n-gram counts of one normalised text value, L2-normalised."""
    padded = f" {text} "
    counts: dict[int, float] = {}
    for n in NGRAMS:
        for i in range(len(padded) - n + 1):
            b = _bucket(padded[i : i + n], TEXT_BUCKETS)
            counts[b] = counts.get(b, 0.0) + 1.0
    norm = math.sqrt(sum(c * c for c in counts.values())) or 1.0
    return {b: c / norm for b, c in counts.items()}


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

    @property
    def width(self) -> int:
        if self.kind == "categorical":
            return len(self.vocab) + CAT_HASH_BUCKETS
        if self.kind == "numeric":
            return 1
        return TEXT_BUCKETS

    def fit(self, values: Sequence) -> None:
        if self.kind == "categorical":
            counts: dict[str, int] = {}
            for v in values:
                c = norm_category(v)
                if c is not None:
                    counts[c] = counts.get(c, 0) + 1
            frequent = sorted((v for v, n in counts.items() if n >= 2), key=lambda v: -counts[v])
            self.vocab = {v: i for i, v in enumerate(sorted(frequent[:MAX_VOCAB]))}
        elif self.kind == "numeric":
            nums = np.array([norm_number(v, self.zero_is_missing) for v in values], dtype=float)
            nums = nums[~np.isnan(nums)]
            self.log = bool(nums.size and nums.min() >= 0)
            if self.log:
                nums = np.log1p(nums)
            if nums.size:
                q1, med, q3 = np.percentile(nums, [25, 50, 75])
                self.center, self.scale = float(med), float(q3 - q1) or float(nums.std()) or 1.0

    def encode_distinct(self, value) -> list[tuple[int, float]]:
        """Column offsets and values of one raw value's block, weights applied."""
        if self.kind == "categorical":
            c = norm_category(value)
            if c is None:
                return []
            col = self.vocab.get(c)
            if col is None:
                col = len(self.vocab) + _bucket(c, CAT_HASH_BUCKETS)
            return [(self.offset + col, self.weight)]
        if self.kind == "numeric":
            x = norm_number(value, self.zero_is_missing)
            if math.isnan(x):
                return []
            if self.log:
                x = math.log1p(max(x, 0.0))
            z = max(-CLIP, min(CLIP, (x - self.center) / self.scale)) / CLIP
            return [(self.offset, self.weight * z)] if z else []
        t = norm_text(value)
        if t is None:
            return []
        return [(self.offset + b, self.weight * v) for b, v in text_buckets(t).items()]

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
        }

    @classmethod
    def from_json(cls, data: dict) -> AttributeCodec:
        vocab = {v: i for i, v in enumerate(data.pop("vocab"))}
        return cls(vocab=vocab, **data)


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
        offset = 0
        for codec in codecs:
            codec.offset = offset
            offset += codec.width
        self.n_features = offset

    @classmethod
    def from_attributes(cls, attributes: list[dict], weights: dict | None, dim: int):
        weights = weights or {}
        codecs = [
            AttributeCodec(
                name=a["name"],
                kind=a["kind"],
                weight=float(weights.get(a["name"], a.get("weight", 1.0))),
                zero_is_missing=bool(a.get("zero_is_missing", True)),
            )
            for a in attributes
            if float(weights.get(a["name"], a.get("weight", 1.0))) > 0
        ]
        return cls(codecs, dim)

    # -- fitting ------------------------------------------------------------------------------
    def fit_transform(self, columns: dict[str, Sequence], seed: int = 0, sample: int = 60000):
        """Fit vocabularies, scalers and the SVD on the training items; return their vectors."""
        from sklearn.decomposition import TruncatedSVD

        for codec in self.codecs:
            codec.fit(columns[codec.name])
        offset = 0
        for codec in self.codecs:
            codec.offset, offset = offset, offset + codec.width
        self.n_features = offset
        matrix = self.sparse_matrix(columns)
        n = matrix.shape[0]
        rng = np.random.default_rng(seed)
        rows = rng.choice(n, size=min(n, sample), replace=False) if n > sample else np.arange(n)
        dim = max(2, min(self.dim, matrix.shape[1] - 1, len(rows) - 1))
        svd = TruncatedSVD(n_components=dim, algorithm="randomized", n_iter=5, random_state=seed)
        svd.fit(matrix[rows])
        self.dim = dim
        self.components = np.ascontiguousarray(svd.components_.T, dtype=np.float32)
        return self._project(matrix)

    # -- the shared path ----------------------------------------------------------------------
    def sparse_matrix(self, columns: dict[str, Sequence]) -> sp.csr_matrix:
        """Rows = items. Each column's distinct values are encoded once, then gathered."""
        n = len(next(iter(columns.values()))) if columns else 0
        blocks = []
        for codec in self.codecs:
            values = columns.get(codec.name)
            if values is None:
                values = [None] * n
            blocks.append(self._column_block(codec, values, n))
        if not blocks:
            return sp.csr_matrix((n, max(self.n_features, 1)), dtype=np.float32)
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def _column_block(self, codec: AttributeCodec, values: Sequence, n: int) -> sp.csr_matrix:
        distinct, codes = _factorize(values, n)
        indptr, indices, data = [0], [], []
        for value in distinct:
            entries = codec.encode_distinct(value)
            indices.extend(col - codec.offset for col, _ in entries)
            data.extend(v for _, v in entries)
            indptr.append(len(indices))
        table = sp.csr_matrix(
            (np.array(data, dtype=np.float32), np.array(indices, dtype=np.int64), indptr),
            shape=(len(distinct), codec.width),
        )
        return table[codes]

    def _project(self, matrix: sp.csr_matrix) -> np.ndarray:
        vectors = np.asarray(matrix @ self.components, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms

    def embed(self, records: Iterable[dict]) -> np.ndarray:
        """Vectors for attribute dicts (prediction), through the same path as training."""
        records = list(records)
        columns = {c.name: [r.get(c.name) for r in records] for c in self.codecs}
        if not records:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._project(self.sparse_matrix(columns))

    def matched_attributes(self, query: dict, other: dict) -> list[str]:
        """Names of the attributes on which two items agree (after normalisation)."""
        out = []
        for c in self.codecs:
            a, b = query.get(c.name), other.get(c.name)
            if is_missing(a) or is_missing(b):
                continue
            if c.kind == "numeric":
                x, y = norm_number(a, c.zero_is_missing), norm_number(b, c.zero_is_missing)
                same = not math.isnan(x) and not math.isnan(y) and abs(x - y) <= 0.02 * max(abs(x), abs(y), 1e-9)
            elif c.kind == "categorical":
                same = norm_category(a) == norm_category(b)
            else:
                same = norm_text(a) == norm_text(b)
            if same:
                out.append(c.name)
        return out

    # -- persistence --------------------------------------------------------------------------
    def save(self, folder: Path) -> list[str]:
        (folder / "encoder.json").write_text(
            json.dumps(
                {"dim": self.dim, "n_features": self.n_features, "codecs": [c.to_json() for c in self.codecs]},
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

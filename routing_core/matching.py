"""The attributes on which an item agrees with each of its neighbours, for all neighbours at once.

``FeatureEncoder.matched_attributes`` compares two attribute dicts value by value: for the 10–20
neighbours of an answer that is a few hundred normalisations and comparisons in Python, about
half of a *similar* request. Here each stored attribute value (an id into the version's string
table) is normalised once, the first time a neighbour shows it, into a float (numeric
attributes) or a small integer key shared by equal normalised values (the others); the
neighbours' ids are then compared with the query's as arrays, with exactly the rules of
``matched_attributes`` (numbers within 2 %, other values equal after normalisation).

The memo lives beside the version's tables (one per loaded version, filled lazily: its arrays
are allocated zeroed, so pages no answer touched take no memory).
"""

from __future__ import annotations

import math
import threading
from itertools import compress

import numpy as np

from routing_core.features import FeatureEncoder, norm_category, norm_texts
from routing_core.features import _normalise as memoised_normalise

_UNSEEN = -2.0  # a query value no stored value normalises to (so far): equal to no neighbour's
normalise = memoised_normalise.__wrapped__
PATTERNS = 20_000


class NeighbourMatcher:
    """Normalised stored values by string id, shared by the threads of one process.

    One float per stored value: a numeric attribute's number, another attribute's key (a small
    integer, exact as a float), NaN when the value normalises to nothing. Each attribute has a
    slot before its values for a missing value (stored id -1: NaN, "seen" from the start), so a
    row's ids plus the attributes' bases give the slots to read, missing values included."""

    def __init__(self, encoder: FeatureEncoder, tables):
        self.encoder = encoder
        self.tables = tables
        self.codecs = list(encoder.codecs)
        self.names = [c.name for c in self.codecs]
        strings = tables.strings["attributes"]
        columns = {name: j for j, name in enumerate(tables.attribute_names)}
        # per codec: its column in the tables (-1: the tables do not hold it, always missing)
        column = np.array([columns.get(n, -1) for n in self.names], dtype=np.int64)
        self.held, self.columns = column >= 0, np.maximum(column, 0)
        self.plain = bool(self.held.all()) and np.array_equal(
            self.columns, np.arange(len(tables.attribute_names))
        )  # the row's ids are the codecs' in order: no column gather
        sizes = [len(strings.get(n, [])) if columns.get(n) is not None else 0 for n in self.names]
        # the missing slot of codec j at base[j], its value i at base[j] + 1 + i
        self.base = np.concatenate([[0], np.cumsum(np.add(sizes, 1))[:-1]]).astype(np.int64)
        total = int(sum(sizes)) + len(sizes) if sizes else 1
        self.filled = np.zeros(total, dtype=bool)
        self.filled[self.base] = True
        self.value = np.zeros(total, dtype=np.float64)  # numbers and keys, NaN: nothing
        self.value[self.base] = math.nan
        numeric = np.array([c.kind == "numeric" for c in self.codecs], dtype=bool)
        self.kinds = list(zip(self.names, numeric.tolist(), strict=True))
        # the rule per attribute: |a - b| <= tolerance × max(|a|, |b|, 1e-9), numbers within
        # 2 %, keys equal (a tolerance of 0; a key is never NaN, so never "equal" to nothing)
        self.tolerance = np.where(numeric, 0.02, 0.0)
        self.keys: list[dict] = [{} for _ in self.codecs]  # normalised value -> key, per codec
        self.patterns: dict[bytes, list[str]] = {}  # a row's packed matches -> their names
        self._lock = threading.Lock()

    def matched(self, query: dict, rows: list[int], own: int | None = None) -> list[list[str]]:
        """For each row, the names of the attributes it shares with ``query`` (raw values).

        ``own``: the row whose stored attributes ``query`` is, unedited (a known item asked
        for by its code): its values are read as a neighbour's, from the same normalised
        ids, instead of normalising the query's values one by one."""
        if not rows:
            return []
        slots = self._slots(rows if own is None else [*rows, own])
        seen = self.filled[slots]
        if not seen.all():
            self._fill(slots[~seen])
        values = self.value[slots]
        if own is None:
            query_values = self._query(query)
        else:
            query_values, values = values[-1], values[:-1]
        scale = np.maximum(np.abs(query_values), 1e-9)
        with np.errstate(invalid="ignore"):  # inf - inf: NaN, no match
            same = np.abs(values - query_values) <= self.tolerance * np.maximum(
                np.abs(values), scale
            )
        return self._names(same)

    def _names(self, same: np.ndarray) -> list[list[str]]:
        """The names of each row's matching attributes, by the row's pattern of matches
        (patterns recur across a version's items; up to ``PATTERNS`` are kept)."""
        packed = np.packbits(same, axis=1)
        width, raw = packed.shape[1], packed.tobytes()
        keys = [raw[i : i + width] for i in range(0, len(raw), width)]
        patterns = self.patterns
        found = [patterns.get(k) for k in keys]
        if None in found:
            lines = same.tolist()
            for i, names in enumerate(found):
                if names is None:
                    found[i] = list(compress(self.names, lines[i]))
                    if len(patterns) < PATTERNS:
                        patterns[keys[i]] = found[i]
        return [list(names) for names in found]

    def _slots(self, rows: list[int]) -> np.ndarray:
        """The memo slots of the rows' stored values (missing: the codec's missing slot)."""
        ids = self.tables.a["item_attrs"][np.asarray(rows)]
        if not self.plain:
            ids = np.where(self.held, ids[:, self.columns], -1)
        return ids + (self.base + 1)

    def _query(self, query: dict) -> np.ndarray:
        """The query's normalised numbers and keys (NaN: none; ``_UNSEEN``: a value no
        neighbour of this answer has); call after ``_fill``."""
        normalised = self.encoder.normalised(query)
        out = []
        for j, (name, numeric) in enumerate(self.kinds):
            value = normalised.get(name)
            if value is None:
                out.append(math.nan)
            elif numeric:
                out.append(value)
            else:
                # the neighbours' values have their keys already (filled before this): a value
                # without one equals none of them, and is not kept (queries bring new texts
                # every day; the memo holds the version's own values only)
                out.append(self.keys[j].get(value, _UNSEEN))
        return np.array(out, dtype=np.float64)

    def _fill(self, slots: np.ndarray) -> None:
        """Normalise the stored values not seen before (each string id once per process), all
        of them read in one batch; new keys are handed out under the lock (never two for one
        value)."""
        positions = np.unique(slots)
        owners = np.searchsorted(self.base, positions, side="right") - 1
        ids = (positions - self.base[owners] - 1).tolist()
        cuts = [0, *(np.flatnonzero(np.diff(owners)) + 1).tolist(), len(ids)]
        firsts = owners[cuts[:-1]].tolist()
        parts = [(self.names[j], ids[a:b]) for j, a, b in zip(firsts, cuts, cuts[1:], strict=False)]
        values: list[float] = []
        with self._lock:
            for j, raws in zip(firsts, self.tables.attribute_values_many(parts), strict=True):
                values += self._normalised(j, raws)
        self.value[positions] = values
        self.filled[positions] = True

    def _normalised(self, j: int, raws: list) -> list[float]:
        """Codec ``j``'s stored values ``raws`` as the memo holds them: the encoder's own
        normalisation without its memo (each id comes here once); a number, else a key (NaN:
        nothing). Call under the lock."""
        codec = self.codecs[j]
        if codec.kind == "numeric":
            values = [normalise(codec.kind, codec.zero_is_missing, r, codec.locale) for r in raws]
            return [math.nan if v is None else v for v in values]
        normal = (
            [norm_category(r) for r in raws] if codec.kind == "categorical" else norm_texts(raws)
        )
        keys = self.keys[j]
        return [math.nan if v is None else keys.setdefault(v, len(keys)) for v in normal]


def matcher_of(encoder: FeatureEncoder, tables) -> NeighbourMatcher:
    """The matcher of a version's tables (made on first use, then kept with the tables)."""
    found = tables.__dict__.get("_neighbour_matcher")
    if found is None or found.encoder is not encoder:
        found = tables.__dict__["_neighbour_matcher"] = NeighbourMatcher(encoder, tables)
    return found

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

_NO_KEY = -1
_UNSEEN = -2  # a query value no stored value normalises to (so far): equal to no neighbour's
normalise = memoised_normalise.__wrapped__


class NeighbourMatcher:
    """Normalised stored values by string id, shared by the threads of one process."""

    def __init__(self, encoder: FeatureEncoder, tables):
        self.encoder = encoder
        self.tables = tables
        self.codecs = list(encoder.codecs)
        self.names = [c.name for c in self.codecs]
        strings = tables.strings["attributes"]
        columns = {name: j for j, name in enumerate(tables.attribute_names)}
        # per codec: its column in the tables (-1: the tables do not hold it) and the offset
        # of its strings in the flat arrays below
        column = np.array([columns.get(n, -1) for n in self.names], dtype=np.int64)
        self.held, self.columns = column >= 0, np.maximum(column, 0)
        sizes = [len(strings.get(n, [])) if columns.get(n) is not None else 0 for n in self.names]
        self.offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.numeric = np.array([c.kind == "numeric" for c in self.codecs])
        self.kinds = list(zip(self.names, self.numeric.tolist(), strict=True))
        total = max(1, int(sum(sizes)))
        self.filled = np.zeros(total, dtype=bool)
        self.number = np.zeros(total, dtype=np.float64)  # NaN: missing after normalisation
        self.key = np.zeros(total, dtype=np.int64)  # _NO_KEY: missing after normalisation
        self.keys: list[dict] = [{} for _ in self.codecs]  # normalised value -> key, per codec
        self._lock = threading.Lock()

    def matched(self, query: dict, rows: list[int], own: int | None = None) -> list[list[str]]:
        """For each row, the names of the attributes it shares with ``query`` (raw values).

        ``own``: the row whose stored attributes ``query`` is, unedited (a known item asked
        for by its code): its values are read as a neighbour's, from the same normalised
        ids, instead of normalising the query's values one by one."""
        if not rows:
            return []
        picked = np.asarray(rows if own is None else [*rows, own])
        ids = self.tables.a["item_attrs"][picked][:, self.columns]
        present = (ids >= 0) & self.held
        flat = self.offset + np.where(present, ids, 0)
        self._fill(flat[present & ~self.filled[flat]])
        number, key = self.number[flat], self.key[flat]
        if own is None:
            q_number, q_key = self._query(query)
        else:
            mine, present = present[-1], present[:-1]
            q_number, q_key = np.where(mine, number[-1], np.nan), np.where(mine, key[-1], _NO_KEY)
            number, key = number[:-1], key[:-1]
        with np.errstate(invalid="ignore"):
            close = np.abs(number - q_number) <= 0.02 * np.maximum(
                np.maximum(np.abs(number), np.abs(q_number)), 1e-9
            )
        equal = (key == q_key) & (q_key != _NO_KEY)
        same = present & np.where(self.numeric, close, equal)
        return [list(compress(self.names, line)) for line in same.tolist()]

    def _query(self, query: dict) -> tuple[np.ndarray, np.ndarray]:
        """The query's normalised numbers (NaN: none) and keys (``_NO_KEY``: none,
        ``_UNSEEN``: a value no neighbour of this answer has); call after ``_fill``."""
        normalised = self.encoder.normalised(query)
        numbers, keys = [], []
        for j, (name, numeric) in enumerate(self.kinds):
            value = normalised.get(name)
            if value is None or numeric:
                numbers.append(math.nan if value is None else value)
                keys.append(_NO_KEY)
            else:
                numbers.append(math.nan)
                # the neighbours' values have their keys already (filled before this): a value
                # without one equals none of them, and is not kept (queries bring new texts
                # every day; the memo holds the version's own values only)
                keys.append(self.keys[j].get(value, _UNSEEN))
        return np.array(numbers, dtype=np.float64), np.array(keys, dtype=np.int64)

    def _keys_of(self, j: int, values: list) -> list[int]:
        """The keys of codec ``j``'s normalised ``values`` (``_NO_KEY`` for a missing one),
        new ones handed out under the lock (once per batch): never two for one value."""
        keys = self.keys[j]
        with self._lock:
            return [_NO_KEY if v is None else keys.setdefault(v, len(keys)) for v in values]

    def _fill(self, flat: np.ndarray) -> None:
        """Normalise the stored values not seen before (each string id once per process)."""
        if not flat.size:
            return
        positions = np.unique(flat)
        # a codec without strings shares the next one's offset: the last match is the owner
        owners = np.searchsorted(self.offset, positions, side="right") - 1
        cut = np.flatnonzero(np.diff(owners)) + 1
        for part, j in zip(np.split(positions, cut), owners[np.r_[0, cut]].tolist(), strict=True):
            self._fill_codec(j, part)
        self.filled[positions] = True

    def _fill_codec(self, j: int, positions: np.ndarray) -> None:
        """The values of codec ``j`` at ``positions``: the encoder's own normalisation without
        its memo (each id comes here once); a text attribute's in one batch."""
        codec = self.codecs[j]
        column = self.tables.strings["attributes"][codec.name]
        value_of = column.__getitem__
        raws = [value_of(i) for i in (positions - int(self.offset[j])).tolist()]
        if codec.kind == "numeric":
            values = [normalise(codec.kind, codec.zero_is_missing, r, codec.locale) for r in raws]
            self.number[positions] = [math.nan if v is None else v for v in values]
        elif codec.kind == "categorical":
            self.key[positions] = self._keys_of(j, [norm_category(r) for r in raws])
        else:  # text
            self.key[positions] = self._keys_of(j, norm_texts(raws))


def matcher_of(encoder: FeatureEncoder, tables) -> NeighbourMatcher:
    """The matcher of a version's tables (made on first use, then kept with the tables)."""
    found = tables.__dict__.get("_neighbour_matcher")
    if found is None or found.encoder is not encoder:
        found = tables.__dict__["_neighbour_matcher"] = NeighbourMatcher(encoder, tables)
    return found

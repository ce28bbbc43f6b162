"""Near-duplicate families of items, so a held-out evaluation never leaks a copy of an item.

An item's *family* is the connected component of the graph that joins two items when they share
the stem of their item code, of their drawing number or of their name (union of the three
families, computed as connected components, i.e. union-find). A stem is the identifier with its
known variant suffixes removed, repeatedly, from the end:

- a separator (``-``, ``_``, ``/``, ``.``) followed by one or two digits: a sheet or variant
  number (``AD-012040-02`` → ``AD-012040``);
- a separator followed by one or two letters: a variant letter (``RING 40X20 SS316-A`` →
  ``RING 40X20 SS316``);
- one or two letters straight after a digit: a revision letter (``SR0100023A`` → ``SR0100023``);
- ``REV`` with a letter or number (``BX-7 REV B`` → ``BX-7``).

A suffix is only removed when the rest still holds a digit, so a short identifier is never cut
down to a bare prefix (``BX-7`` stays ``BX-7``; ``AD-012040`` keeps its number). Values are
upper-cased and their spacing collapsed first.

Which attributes are family attributes: those a mapping profile marks ``"family": true``;
without any mark, ``DRAW_NO`` and ``ITEM_NM`` when the profile has them. The item code is always
one. Generic names shared by a whole part class (``PartNm`` = ``SEAL RING``) are not family
attributes: they would join thousands of unrelated items into one family.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

DEFAULT_FAMILY_ATTRIBUTES = ("DRAW_NO", "ITEM_NM")
ITEM_KEY = "item_code"
_SUFFIXES = (
    re.compile(r"\s*[-_/.]\s*(?:[0-9]{1,2}|[A-Z]{1,2})$"),
    re.compile(r"(?<=[0-9])[A-Z]{1,2}$"),
    re.compile(r"[\s\-_/.]*REV\.?\s*[-_.]?\s*[A-Z0-9]{1,2}$"),
)


# every suffix ends the text and, spacing collapsed, its shortest match (with the digit before
# it) is at most 10 characters long: a search over the last 16 finds whether any applies
_TAIL = 16
_ANY_SUFFIX = re.compile("|".join(f"(?:{p.pattern})" for p in _SUFFIXES))
_MISSING = ("NAN", "NONE", "NULL")
# the same search for Arrow's RE2 (no look-behind; the text is ASCII, its spacing one blank)
_ANY_SUFFIX_RE2 = "|".join(
    (
        r"(?: *[-_/.] *(?:[0-9]{1,2}|[A-Z]{1,2})$)",
        r"(?:[0-9][A-Z]{1,2}$)",
        r"(?:REV\.? *[-_.]? *[A-Z0-9]{1,2}$)",
    )
)
# what str.split() splits ASCII text at
_ASCII_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f ]+"


def family_stem(value) -> str | None:
    """The identifier without its known variant suffixes; None for a missing value."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = " ".join(str(value).upper().split())
    if not text or text in _MISSING:
        return None
    if _ANY_SUFFIX.search(text[-_TAIL:]) is None:  # most identifiers: nothing to strip
        return text
    return _stripped(text)


def _stripped(text: str) -> str:
    """``text`` (upper-cased, spacing collapsed) with its variant suffixes removed. Each
    pattern ends the text, so what is left is a prefix: it holds a digit when it is longer
    than the position of the text's first digit."""
    first_digit = next((i for i, ch in enumerate(text) if ch.isdigit()), len(text))
    changed = True
    while changed:
        changed = False
        for pattern in _SUFFIXES:
            found = pattern.search(text)
            if found is not None and found.start() > first_digit:
                text, changed = text[: found.start()], True
                break
    return text


def family_stems(values: np.ndarray) -> np.ndarray:
    """:func:`family_stem` of every value, computed once per distinct value."""
    codes, distinct = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    stems = np.array(list(_distinct_stems(np.asarray(distinct, dtype=object))) + [None], object)
    return stems[codes]  # a missing value (code -1) takes the trailing None


def _distinct_stems(values: np.ndarray) -> np.ndarray:
    """:func:`family_stem` of each value. ASCII text (nearly every identifier) is upper-cased,
    its spacing collapsed and its last characters searched for a suffix column-wise by Arrow;
    only the values with a suffix go through the stripping loop, and any other value through
    :func:`family_stem` itself."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = np.empty(len(values), dtype=object)
    is_text = np.fromiter((type(v) is str for v in values), bool, len(values))
    texts = pa.array(np.where(is_text, values, None), type=pa.large_string())
    ascii_ = pc.fill_null(pc.string_is_ascii(texts), False).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(ascii_)
    normed = pc.utf8_trim(
        pc.replace_substring_regex(
            pc.ascii_upper(texts.take(rows)), pattern=_ASCII_SPACE, replacement=" "
        ),
        characters=" ",
    )
    tails = pc.utf8_slice_codeunits(normed, start=-_TAIL)
    suffixed = pc.match_substring_regex(tails, _ANY_SUFFIX_RE2).to_numpy(zero_copy_only=False)
    normed = np.asarray(normed.to_numpy(zero_copy_only=False), dtype=object)
    missing = np.isin(normed, ["", *_MISSING])
    out[rows] = np.where(missing, None, normed)
    strip = np.flatnonzero(suffixed & ~missing)
    out[rows[strip]] = [_stripped(t) for t in normed[strip]]
    for row in np.flatnonzero(~ascii_):
        out[row] = family_stem(values[row])
    return out


def family_attributes(attributes: list[dict]) -> list[str]:
    """Names of the profile's family attributes (marked, or the default ones it has)."""
    marked = [a["name"] for a in attributes if a.get("family")]
    if marked:
        return marked
    names = {a["name"] for a in attributes}
    return [n for n in DEFAULT_FAMILY_ATTRIBUTES if n in names]


def family_keys(items: pd.DataFrame, names: list[str]) -> np.ndarray:
    """One integer per item: items with the same number belong to one family.

    ``names`` are the family attributes; the item code column is always used when present.
    """
    n = len(items)
    columns = [ITEM_KEY] if ITEM_KEY in items else []
    columns += [name for name in names if name in items and name != ITEM_KEY]
    rows, keys = [], []
    for column in columns:
        stems = pd.Series(family_stems(items[column].to_numpy(dtype=object)), dtype=object)
        present = np.flatnonzero(stems.notna().to_numpy())
        rows.append(present)
        keys.append((column + "\x00" + stems.iloc[present]).to_numpy(dtype=object))
    if not rows or not sum(len(r) for r in rows):
        return np.arange(n, dtype=np.int64)
    row = np.concatenate(rows)
    codes, _ = pd.factorize(np.concatenate(keys))
    # bipartite graph items -> stems; a family is a connected component
    graph = coo_matrix(
        (np.ones(len(row), dtype=np.int8), (row, n + codes)), shape=(n + codes.max() + 1,) * 2
    )
    _, labels = connected_components(graph, directed=False)
    _, dense = np.unique(labels[:n], return_inverse=True)
    return dense.astype(np.int64)

"""Encoding: one path for training and prediction, weights after scaling, missing values."""

import math

import numpy as np
import pytest

from routing_core.features import FeatureEncoder, is_missing, text_entries

ATTRS = [
    {"name": "PART_TYPE", "kind": "categorical", "weight": 2.0},
    {"name": "OUTDIAMETER", "kind": "numeric", "weight": 1.0},
    {"name": "ITEM_NM", "kind": "text", "weight": 1.0},
]


def columns(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    fam = rng.integers(0, 6, n)
    return {
        "PART_TYPE": [f"T{f}" if rng.random() > 0.2 else None for f in fam],
        "OUTDIAMETER": [
            float(20 + 30 * f + rng.random()) if rng.random() > 0.3 else 0 for f in fam
        ],
        "ITEM_NM": [f"seal ring {f} type {rng.integers(50)}" for f in fam],
    }


def test_prediction_encodes_exactly_like_training(tmp_path):
    cols = columns()
    encoder = FeatureEncoder.from_attributes(ATTRS, {}, 16)
    trained = encoder.fit_transform(cols)
    encoder.save(tmp_path)
    loaded = FeatureEncoder.load(tmp_path)
    for row in (0, 7, 1234):
        record = {k: v[row] for k, v in cols.items()}
        assert np.allclose(loaded.embed([record])[0], trained[row], atol=1e-5)
    assert np.allclose(np.linalg.norm(trained, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("missing", [None, float("nan"), "", "  ", "nan", "NULL"])
def test_every_spelling_of_missing_encodes_the_same(missing):
    encoder = FeatureEncoder.from_attributes(ATTRS, {}, 8)
    encoder.fit_transform(columns(500))
    base = encoder.embed([{"PART_TYPE": "T1", "OUTDIAMETER": 50.0, "ITEM_NM": None}])
    other = encoder.embed([{"PART_TYPE": "T1", "OUTDIAMETER": 50.0, "ITEM_NM": missing}])
    assert is_missing(missing)
    assert np.allclose(base, other)


def test_weights_apply_after_scaling_and_zero_weight_drops_the_attribute():
    cols = columns(2000)
    heavy = FeatureEncoder.from_attributes(ATTRS, {"PART_TYPE": 20.0}, 8)
    heavy.fit_transform(cols)
    block = heavy.codecs[0].block(["T1"]).toarray()
    assert block.max() == pytest.approx(20.0)  # one-hot scaled to 1, then weighted
    numeric = heavy.codecs[1]
    value = numeric.block([10_000.0]).toarray()[0, 0]
    assert value == pytest.approx(numeric.weight * 1.0)  # clipped robust scale, then weighted
    dropped = FeatureEncoder.from_attributes(ATTRS, {"ITEM_NM": 0}, 8)
    assert [c.name for c in dropped.codecs] == ["PART_TYPE", "OUTDIAMETER"]


def test_text_ngrams_are_deterministic_and_normalised():
    rows, cols, vals = text_entries(["o-ring 25x3", None, "o-ring 25x3"])
    first = dict(zip(cols[rows == 0].tolist(), vals[rows == 0].tolist(), strict=True))
    third = dict(zip(cols[rows == 2].tolist(), vals[rows == 2].tolist(), strict=True))
    assert first == third and (rows == 1).sum() == 0
    assert np.sqrt(sum(v * v for v in first.values())) == pytest.approx(1.0, abs=1e-6)


def test_similar_items_are_closer_than_different_ones():
    cols = columns(3000)
    encoder = FeatureEncoder.from_attributes(ATTRS, {}, 16)
    encoder.fit_transform(cols)
    a, b, c = encoder.embed(
        [
            {"PART_TYPE": "T2", "OUTDIAMETER": 80.5, "ITEM_NM": "seal ring 2 type 7"},
            {"PART_TYPE": "T2", "OUTDIAMETER": 81.0, "ITEM_NM": "seal ring 2 type 9"},
            {"PART_TYPE": "T5", "OUTDIAMETER": 170.0, "ITEM_NM": "seal ring 5 type 7"},
        ]
    )
    assert a @ b > a @ c + 0.1


def test_numbers_written_inside_text_are_found():
    from routing_core.text import numbers_in, words_of

    assert numbers_in("Shaft D20x150 stainless") == [20.0, 150.0]
    assert numbers_in("Ø 40") == [40.0] and numbers_in("M8 bolt") == [8.0]
    assert numbers_in("plate 160,5 x 12") == [160.5, 12.0]
    assert numbers_in("no numbers here") == []
    assert words_of("shaft d20x150 st.steel") == ["shaft", "d20x150", "st", "steel"]


def text_encoder(numbers: int, seed: int = 0) -> FeatureEncoder:
    rng = np.random.default_rng(seed)
    kinds = ["shaft", "flange", "pin", "plate"]
    texts = [
        f"{kinds[rng.integers(4)]} D{rng.integers(5, 400)}x{rng.integers(5, 900)} steel"
        for _ in range(1500)
    ]
    attrs = [{"name": "DESC", "kind": "text", "weight": 1.0, "numbers": numbers}]
    encoder = FeatureEncoder.from_attributes(attrs, {}, 32)
    encoder.fit_transform({"DESC": texts})
    return encoder


def test_text_is_normalised_and_word_order_matters_less_than_words():
    encoder = text_encoder(numbers=0)
    a, b, c, d = encoder.embed(
        [
            {"DESC": "Shaft D20x150 stainless"},
            {"DESC": "  SHAFT   d20x150 STAINLESS "},
            {"DESC": "stainless shaft D20x150"},
            {"DESC": "flange D20x150 stainless"},
        ]
    )
    assert np.allclose(a, b)  # case and spacing
    assert a @ c > a @ d  # same words in another order beat another word in the same order


def test_numbers_in_text_make_close_sizes_closer_when_the_profile_asks():
    plain, with_numbers = text_encoder(numbers=0), text_encoder(numbers=2)
    assert with_numbers.codecs[0].width == plain.codecs[0].width + 2
    query = [{"DESC": "shaft D20x150 steel"}]
    near, far = [{"DESC": "shaft D22x160 steel"}], [{"DESC": "shaft D320x850 steel"}]

    def gap(encoder):
        q = encoder.embed(query)[0]
        return q @ encoder.embed(near)[0] - q @ encoder.embed(far)[0]

    assert gap(with_numbers) > gap(plain)
    assert gap(with_numbers) > 0


TRICKY = [
    None,
    float("nan"),
    "",
    "  ",
    "NULL",
    " none ",
    "<NA>",
    " Shaft  D20x150\tStainless ",
    "shaft d20x150 stainless",
    "SHAFT D20X150 STAINLESS",
    "Ø 40\u00a0mm",
    "İstanbul M8",
    12.0,
    7,
    "nan mm",
]


def test_batched_text_normalisation_is_the_single_value_one():
    from routing_core.features import norm_text, norm_texts

    assert norm_texts(TRICKY) == [norm_text(v) for v in TRICKY]
    assert norm_texts(TRICKY)[7:10] == ["shaft d20x150 stainless"] * 3


@pytest.mark.parametrize("numbers", [0, 2])
@pytest.mark.parametrize("words", [True, False])
def test_texts_alike_after_normalisation_get_the_same_block_in_one_batch(numbers, words):
    """A training batch (distinct normalised texts, spread back per raw value) gives each raw
    value exactly the entries it gets alone, as a prediction computes them."""
    from routing_core.features import AttributeCodec

    codec = AttributeCodec("ITEM_NM", "text", 1.5, words=words, numbers=numbers)
    values = TRICKY + [f"Seal ring {i % 40}  type {i % 7}" for i in range(200)]
    codec.fit(values, np.ones(len(values), dtype=np.int64))
    batch = codec.block(values).toarray()
    alone = np.vstack([codec.block([v]).toarray() for v in values])
    assert batch.tobytes() == alone.tobytes()
    assert np.array_equal(batch[7], batch[8]) and np.array_equal(batch[8], batch[9])
    assert not batch[:7].any() and batch[10].any()
    rows, cols, _ = codec.entries(values)
    order = np.lexsort((cols, rows))
    assert np.array_equal(order, np.arange(len(rows)))  # by raw value, then by column


def test_a_text_block_built_in_slices_is_the_whole_block(monkeypatch):
    import routing_core.features as features

    codec = features.AttributeCodec("ITEM_NM", "text", 2.0, words=True, numbers=1)
    values = [f"Shaft D{i % 90}x{i % 13} {'SS' if i % 3 else 'ss'}" for i in range(500)]
    values += [None, "  ", "shaft d1x1 ss"]
    codec.fit(values, np.ones(len(values), dtype=np.int64))
    whole = codec.block(values)
    monkeypatch.setattr(features, "TEXT_SLICE", 37)
    sliced = codec.block(values)
    assert sliced.shape == whole.shape and sliced.dtype == whole.dtype == np.float32
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(sliced, part), getattr(whole, part))


def test_one_text_gives_the_entries_of_the_many_texts_path():
    """A prediction's single text takes its own path: the same arrays, bit for bit."""
    from routing_core.features import _text_chunk

    rng = np.random.default_rng(3)
    alphabet = list("abcxyz 0123456789-./øé漢") + ["\U0001f600"]
    texts = ["a", "o-ring 25x3", "shaft d20x150 ø 40"] + [
        "".join(rng.choice(alphabet, size=int(rng.integers(1, 80)))) for _ in range(400)
    ]
    for text in texts:
        one, many = text_entries([text]), _text_chunk([text], 0)
        for a, b in zip(one, many, strict=True):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), text


def test_a_few_records_embed_bit_for_bit_like_the_column_path():
    """embed() of up to 64 records skips the per-attribute arrays of _project (and adds no
    vector for a missing value): the vectors are the same bytes."""
    cols = columns(3000)
    encoder = FeatureEncoder.from_attributes(ATTRS, {}, 16)
    encoder.fit_transform(cols)
    records = [{k: v[row] for k, v in cols.items()} for row in range(0, 3000, 97)]
    records += [
        {"PART_TYPE": None, "OUTDIAMETER": "nan", "ITEM_NM": "  "},
        {"PART_TYPE": "unseen", "OUTDIAMETER": -4.5, "ITEM_NM": "Seal  RING 9 ø"},
        {},
    ]
    for batch in (records[:1], records[5:6], records[-3:], records[:40]):
        n = len(batch)
        column_path = encoder._project(
            encoder._factorize_all(
                {c.name: [r.get(c.name) for r in batch] for c in encoder.codecs}, n
            ),
            n,
        )
        fast = encoder.embed(batch)
        assert fast.dtype == column_path.dtype and fast.tobytes() == column_path.tobytes()
    assert not np.any(encoder.embed([records[-1]]))


def _ngram_counts_by_hand(text: str) -> dict[int, float]:
    """The documented n-gram hash, one text at a time in plain integers (mod 2**64)."""
    from routing_core.features import NGRAMS, TEXT_BUCKETS

    mask, padded, counts = 2**64 - 1, f" {text} ", {}
    for size in NGRAMS:
        for start in range(len(padded) - size + 1):
            h = 0
            for ch in padded[start : start + size]:
                h = (h * 1_000_003 + ord(ch)) & mask
            bucket = (((h + size) * 0x9E3779B97F4A7C15 & mask) >> 40) % TEXT_BUCKETS
            counts[bucket] = counts.get(bucket, 0) + 1
    norm = math.sqrt(sum(c * c for c in counts.values()))
    return {b: np.float32(c / norm) for b, c in counts.items()}


def test_text_ngrams_of_many_texts_are_each_texts_own():
    """Chunks, the 32-bit sort and the per-row norms give every text exactly the entries the
    plain arithmetic gives it alone, in (row, column) order; None gives none."""
    texts = ["o-ring 25x3", None, "Ø 40 wellendichtring", "", "ΣΑΣ ß"] + [
        f"seal ring {i % 13} type {i}" for i in range(230)
    ]
    rows, cols, vals = text_entries(texts, chunk=100)
    assert np.all(np.diff(rows * 10_000 + cols) > 0)
    for i, text in enumerate(texts):
        mine = dict(zip(cols[rows == i].tolist(), vals[rows == i].tolist(), strict=True))
        assert mine == (_ngram_counts_by_hand(text) if text is not None else {}), text
    empty = text_entries([None, None])
    assert all(len(part) == 0 for part in empty)


def test_word_tokens_of_many_texts_are_each_texts_own():
    """The joined-text pass (and the per-text one it falls back to when a text holds a line
    break) gives each text the entries the few-texts loop gives it."""
    from routing_core.text import _few_word_entries, word_entries

    texts = ["shaft d20x150 stainless", None, "", "ø 40 _x_ m8", "σας straße"] + [
        f"seal ring {i % 13} type {i}" for i in range(100)
    ]
    for batch in (texts, texts + ["two\nlines"]):
        got = word_entries(batch, 512)
        expected = _few_word_entries(batch, 512)
        for mine, theirs in zip(got, expected, strict=True):
            assert np.array_equal(mine, theirs)
    assert all(len(part) == 0 for part in word_entries([None, ""] * 40, 512))

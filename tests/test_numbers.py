"""One parser for numbers written as text: extraction and prediction read them alike."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_app.pipeline.canonical import ExtractReport
from registry_app.pipeline.extract import clean_number, extract
from routing_core.features import FeatureEncoder, norm_number
from routing_core.numbers import check_locale, parse_number
from routing_site.errors import BadInput
from workflow_app.profiles import load_default_profile

LOCALES = ("auto", "point", "comma")


def extracted(text: str, locale: str) -> float:
    series = pd.Series([text], dtype=object)
    return float(clean_number(series, ExtractReport(), "items", "X", locale)[0])


def predicted(text: str, locale: str) -> float:
    return norm_number(text, zero_is_missing=False, locale=locale)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize(
    "text, locale, value",
    [
        ("160,5", "auto", 160.5),  # extraction said 160.5, the encoder said 1605
        ("1 234,5", "auto", 1234.5),
        ("1,234.5", "auto", 1234.5),
        ("1.234,5", "auto", 1234.5),
        ("1,234", "auto", 1234.0),
        ("0,125", "auto", 0.125),
        ("1.234", "auto", 1.234),
        ("1'234.5", "auto", 1234.5),
        ("-3e2", "auto", -300.0),
        ("1,234", "comma", 1.234),
        ("1.234", "comma", 1234.0),
        ("160,5", "point", math.nan),
        ("12 mm", "auto", math.nan),
        ("inf", "auto", math.nan),
        ("1,2,3", "auto", math.nan),
        ("1,23,4", "point", math.nan),
    ],
)
def test_one_reading_per_string_in_extraction_and_prediction(text, locale, value):
    for got in (parse_number(text, locale), extracted(text, locale), predicted(text, locale)):
        assert same(got, value), (text, locale, got)


numeric_strings = st.text(alphabet="0123456789.,' -+e", min_size=1, max_size=14)


@settings(max_examples=400, deadline=None)
@given(text=numeric_strings, locale=st.sampled_from(LOCALES))
def test_extraction_and_prediction_agree_on_every_numeric_string(text, locale):
    assert same(extracted(text, locale), predicted(text, locale))


@st.composite
def written_numbers(draw):
    """A number as a plant writes it in a locale, with the value it means."""
    whole = draw(st.integers(min_value=0, max_value=10**9))
    decimals = draw(st.integers(min_value=0, max_value=3))
    fraction = draw(st.integers(min_value=0, max_value=10**decimals - 1)) if decimals else 0
    locale = draw(st.sampled_from(("point", "comma")))
    group = draw(st.sampled_from(["", " ", "'", "," if locale == "point" else "."]))
    mark = "." if locale == "point" else ","
    digits = f"{whole:,}".replace(",", group) if group else str(whole)
    text = digits + (f"{mark}{fraction:0{decimals}d}" if decimals else "")
    value = float(f"{whole}.{fraction:0{decimals}d}") if decimals else float(whole)
    return text, locale, value


@settings(max_examples=300, deadline=None)
@given(written=written_numbers())
def test_a_number_written_in_its_locale_reads_back_as_its_value(written):
    text, locale, value = written
    assert parse_number(text, locale) == pytest.approx(value)
    assert extracted(text, locale) == predicted(text, locale) == pytest.approx(value)


def test_the_encoder_embeds_a_string_as_it_was_at_training():
    values = ["160,5", "1 234,5", "12,5", "80", "95,25", None, "40,75"] * 3
    kinds = ["A", "B", "C"] * 7
    attributes = [
        {"name": "X", "kind": "numeric", "weight": 1.0},
        {"name": "K", "kind": "categorical", "weight": 0.1},
    ]
    encoder = FeatureEncoder.from_attributes(attributes, None, 4, locale="comma")
    columns = {"X": np.array(values, dtype=object), "K": np.array(kinds, dtype=object)}
    vectors = encoder.fit_transform(columns)
    assert encoder.codecs[0].locale == "comma"
    again = encoder.embed([{"X": "160,5", "K": "A"}, {"X": 1234.5, "K": "B"}])
    assert np.allclose(again[0], vectors[0]) and np.allclose(again[1], vectors[1])


def test_an_unknown_number_locale_is_refused(tmp_path):
    with pytest.raises(ValueError, match="number_locale must be one of"):
        check_locale("de_DE")
    path = tmp_path / "p.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (a)")
    profile = load_default_profile()
    profile["number_locale"] = "german"
    with pytest.raises(BadInput, match="number_locale must be one of") as caught:
        extract(profile, source=f"sqlite:///{path}")
    assert "number_locale" in caught.value.fields

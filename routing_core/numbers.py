"""One parser for numbers written as text, used by extraction and by the encoder alike.

``parse_number("160,5")`` must give the same float when a plant's export is read for training
and when the ERP sends the same string to ``/api/v1/predict``. The *number locale* of a mapping
profile (top-level ``"number_locale"``) says how to read separators:

- ``"point"``: ``.`` is the decimal mark, ``,`` (and spaces, ``'``) group thousands:
  ``1,234.5`` → 1234.5, ``160,5`` → not a number;
- ``"comma"``: ``,`` is the decimal mark, ``.`` (and spaces, ``'``) group thousands:
  ``1.234,5`` → 1234.5, ``160,5`` → 160.5;
- ``"auto"`` (default): when both marks occur, the last one is the decimal mark; a single ``,``
  followed by exactly three digits after a non-zero integer part groups thousands (``1,234`` →
  1234), any other single ``,`` is a decimal comma (``160,5`` → 160.5, ``0,125`` → 0.125);
  several ``,`` or several ``.`` group thousands; a single ``.`` is a decimal point.

Spaces (also no-break and thin spaces) and apostrophes between digits always group thousands.
An exponent (``1.5e3``) and a sign are accepted. Anything else (``inf``, ``12 mm``, ``1,2,3.4.5``)
is not a number: NaN, never a guess.
"""

from __future__ import annotations

import math
import re

LOCALES = ("auto", "point", "comma")
_GROUPING = re.compile(r"(?<=\d)[\s\u00a0\u202f']+(?=\d)")
_SHAPE = re.compile(r"^([+-]?)([0-9.,]*[0-9][0-9.,]*)([eE][+-]?[0-9]+)?$")
_GROUPS = {
    ",": re.compile(r"^[1-9][0-9]{0,2}(?:,[0-9]{3})+$"),
    ".": re.compile(r"^[1-9][0-9]{0,2}(?:\.[0-9]{3})+$"),
}


def check_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise ValueError(f"number_locale must be one of {', '.join(LOCALES)}, not {locale!r}")
    return locale


def parse_number(value, locale: str = "auto") -> float:
    """The value as a float; NaN when it is missing or not a number in ``locale``."""
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else math.nan
    if hasattr(value, "dtype") and value.dtype.kind in "iuf":  # numpy scalars
        number = float(value)
        return number if math.isfinite(number) else math.nan
    text = _GROUPING.sub("", str(value).strip())
    match = _SHAPE.match(text)
    if match is None:
        return math.nan
    sign, body, exponent = match.groups()
    body = _canonical(body, check_locale(locale))
    if body is None:
        return math.nan
    number = float(sign + body + (exponent or ""))
    return number if math.isfinite(number) else math.nan


def _canonical(body: str, locale: str) -> str | None:
    """Digits with at most one ``.`` as the decimal mark, or None when the marks do not fit."""
    if locale == "auto":
        locale = _guess(body)
    decimal, group = (".", ",") if locale == "point" else (",", ".")
    whole, _, fraction = body.rpartition(decimal) if decimal in body else (body, "", "")
    if decimal in whole or group in fraction:
        return None
    if group in whole and not _GROUPS[group].match(whole):
        return None
    whole = whole.replace(group, "")
    if not whole and not fraction:
        return None
    return f"{whole or '0'}.{fraction or '0'}"


def _guess(body: str) -> str:
    commas, points = body.count(","), body.count(".")
    if commas and points:
        return "point" if body.rfind(".") > body.rfind(",") else "comma"
    if commas == 1:
        whole, fraction = body.split(",")
        thousands = len(fraction) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0")
        return "point" if thousands else "comma"
    if commas > 1:
        return "point"
    return "comma" if points > 1 else "point"


def number_locale(profile: dict) -> str:
    """A mapping profile's number locale (``"auto"`` when it names none)."""
    return check_locale(profile.get("number_locale") or "auto")

"""How one CSV file is written: encoding, delimiter, quote character, decimal and thousands marks.

Spreadsheets export CSV in the conventions of the desktop's locale: a German or French Excel
writes ``;`` between fields, a decimal comma and cp1252; a Korean one cp949. ``detect(path,
options)`` finds each of these per file, from the first ``SAMPLE_BYTES``:

- encoding: a byte-order mark, else strict UTF-8, else charset-normalizer's best guess among
  the code pages plants export in (``EXPORT_ENCODINGS``), else cp1252;
- delimiter and quote character: the standard library's ``csv.Sniffer`` restricted to
  ``DELIMITERS``; when it cannot decide, the delimiter that splits the header into the most
  fields;
- decimal mark: ``,`` or ``.`` when every number with a fraction uses it; when both occur,
  "mixed": each value is read by the ``auto`` rules of :mod:`routing_core.numbers`;
- thousands separator: ``.`` or ``,`` when numbers grouped by it occur, else none.

A source's options (``encoding``, ``delimiter``, ``quotechar``, ``decimal``, ``thousands``)
override any of these. The result says for each whether it was detected or given, so the
extract report can name it. Values are always read as text (leading zeros of codes kept);
numbers are typed later by :func:`routing_core.numbers.parse_number` in the detected locale.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from routing_site.errors import BadInput

SAMPLE_BYTES = 256 * 1024
DELIMITERS = (",", ";", "\t", "|")
QUOTECHARS = ('"', "'")
DECIMALS = (".", ",")
THOUSANDS = ("", ".", ",", " ", "'")
EXPORT_ENCODINGS = ["cp1252", "latin_1", "cp949", "euc_kr", "utf_16"]
CSV_OPTIONS = ("encoding", "delimiter", "quotechar", "decimal", "thousands")
_DECIMAL = {
    ",": re.compile(r"^-?(?:\d+|\d{1,3}(?:\.\d{3})+),\d+$"),
    ".": re.compile(r"^-?(?:\d+|\d{1,3}(?:,\d{3})+)\.\d+$"),
}
_GROUPED = {
    ".": re.compile(r"^-?\d{1,3}(?:\.\d{3})+(?:,\d+)?$"),
    ",": re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"),
}


@dataclass
class CsvFormat:
    """How a file is written; ``given`` names the settings taken from the source's options."""

    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    decimal: str = "."
    thousands: str = ""
    given: set[str] = field(default_factory=set)

    @property
    def number_locale(self) -> str:
        """The :mod:`routing_core.numbers` locale this file's numbers are written in."""
        return {",": "comma", ".": "point"}.get(self.decimal, "auto")

    def describe(self) -> str:
        """One line for the extract report, e.g. ``encoding cp1252 (detected), delimiter ';'``."""
        parts = []
        for name in CSV_OPTIONS:
            value = getattr(self, name)
            shown = {"\t": "tab", "": "none", " ": "space"}.get(value, value)
            shown = "mixed" if name == "decimal" and not value else shown
            how = "given" if name in self.given else "detected"
            parts.append(f"{name} {shown if name == 'encoding' else repr(shown)} ({how})")
        return ", ".join(parts)


def check_csv_options(options: dict) -> dict:
    """The CSV options with values checked; BadInput naming each bad one and the allowed values."""
    fields: dict[str, list[str]] = {}
    allowed = {
        "delimiter": DELIMITERS,
        "quotechar": QUOTECHARS,
        "decimal": DECIMALS,
        "thousands": THOUSANDS,
    }
    for key, values in allowed.items():
        if key in options and options[key] not in values:
            listing = ", ".join(repr(v) for v in values)
            fields[f"options.{key}"] = [f"must be one of {listing}, not {options[key]!r}"]
    if "encoding" in options:
        try:
            codecs.lookup(str(options["encoding"]))
        except LookupError:
            fields["options.encoding"] = [
                f"unknown encoding {options['encoding']!r}; e.g. utf-8, utf-8-sig, cp1252, "
                "latin-1, cp949"
            ]
    if options.get("decimal") and options.get("decimal") == options.get("thousands"):
        fields["options.thousands"] = ["must differ from the decimal mark"]
    if fields:
        key = next(iter(fields))
        raise BadInput(f"{key}: {fields[key][0]}", fields=fields)
    return dict(options)


def detect(path: Path, options: dict | None = None) -> CsvFormat:
    """The format of the CSV file ``path``; ``options`` (checked) override what is detected."""
    options = options or {}
    with path.open("rb") as fh:
        raw = fh.read(SAMPLE_BYTES)
    fmt = CsvFormat(given={k for k in CSV_OPTIONS if k in options})
    fmt.encoding = options.get("encoding") or detect_encoding(raw)
    text = _sample_text(raw, fmt.encoding, complete=len(raw) < SAMPLE_BYTES)
    fmt.delimiter = options.get("delimiter") or _delimiter(text)
    fmt.quotechar = options.get("quotechar") or _quotechar(text, fmt.delimiter)
    values = _unquoted_fields(text, fmt.delimiter, fmt.quotechar)
    fmt.decimal = options.get("decimal") or _decimal(values)
    fmt.thousands = options["thousands"] if "thousands" in options else _thousands(values, fmt)
    return fmt


def detect_encoding(raw: bytes) -> str:
    """``utf-8-sig`` (BOM), ``utf-8``, or the best export code page for ``raw``."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3 and len(raw) >= SAMPLE_BYTES:  # cut inside a character
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(raw, cp_isolation=EXPORT_ENCODINGS).best()
    if best is None:
        return "cp1252"
    return codecs.lookup(best.encoding).name


def _sample_text(raw: bytes, encoding: str, complete: bool) -> str:
    text = raw.decode(encoding, errors="replace")
    if not complete and "\n" in text:
        text = text[: text.rfind("\n")]  # the last line may be cut
    return text.lstrip("\ufeff")


def _delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        header = text.split("\n", 1)[0]
        return max(DELIMITERS, key=header.count)


def _quotechar(text: str, delimiter: str) -> str:
    for quote in QUOTECHARS:
        if f"{delimiter}{quote}" in text or text.startswith(quote):
            return quote
    return '"'


def _unquoted_fields(text: str, delimiter: str, quotechar: str) -> list[str]:
    rows = csv.reader(text.splitlines()[1:2000], delimiter=delimiter, quotechar=quotechar)
    return [value.strip() for row in rows for value in row if value.strip()]


def _decimal(values: list[str]) -> str:
    """``,`` or ``.`` when the numbers with a fraction all use it; ``""`` when both occur (each
    value is then read by the ``auto`` rules of :mod:`routing_core.numbers`)."""
    commas = any(_DECIMAL[","].match(v) for v in values)
    points = any(_DECIMAL["."].match(v) for v in values)
    if commas != points:
        return "," if commas else "."
    return "" if commas else "."


def _thousands(values: list[str], fmt: CsvFormat) -> str:
    if not fmt.decimal:
        return ""
    mark = "." if fmt.decimal == "," else ","
    return mark if any(_GROUPED[mark].match(v) for v in values) else ""

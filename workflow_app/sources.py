"""Validation of registered data sources (the admin, the API and ``add_source`` share it).

A source is ``{name, kind, location, options, description}``: ``kind`` one of sqlite, odbc,
csv; ``location`` a file path (sqlite), a folder path (csv) or an ODBC connection string;
``options`` only the keys its kind accepts (``registry_app.pipeline.sources.OPTIONS``). The
location must be one confinement allows (``registry_app.pipeline.confinement``); a refused one
answers the same message whether or not it exists.
"""

from __future__ import annotations

from routing_site.errors import BadInput

NAME_RULE = "required: letters, digits, '-' or '_' (at most 100)"


def check_source(row) -> dict:
    """The cleaned options of ``row`` (a DataSource), or BadInput naming every bad field."""
    from registry_app.pipeline import confinement
    from registry_app.pipeline.sources import KINDS, SourceError, check_options, parse_source

    fields: dict[str, list[str]] = {}
    if not _is_slug(row.name):
        fields["name"] = [NAME_RULE]
    if row.kind not in KINDS:
        fields["kind"] = [f"must be one of {', '.join(KINDS)}"]
    location = row.location or ""
    if not location or len(location) > 1000 or any(c in location for c in "\r\n\x00"):
        fields["location"] = ["required: one line of at most 1000 characters"]
    if len(row.description or "") > 300:
        fields["description"] = ["at most 300 characters"]
    options = {}
    if "kind" not in fields:
        try:
            options = check_options(row.kind, row.options if row.options is not None else {})
        except BadInput as exc:
            fields.update(exc.fields)
    if not fields:
        try:
            kind, rest = parse_source(row.url())
            confinement.check(kind, rest, row._default_url())
        except SourceError as exc:
            fields["location"] = [exc.detail]
    if fields:
        key = next(iter(fields))
        raise BadInput(f"{key}: {fields[key][0]}", fields=fields)
    return options


def _is_slug(name) -> bool:
    from workflow_app.profiles import SOURCE_NAME

    return isinstance(name, str) and SOURCE_NAME.fullmatch(name) is not None

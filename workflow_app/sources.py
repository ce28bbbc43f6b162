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


def ignored_environment_source() -> str | None:
    """A warning when ``ROUTING_SOURCE`` is set but the registered ``default`` source differs.

    ``ROUTING_SOURCE`` only seeds the ``default`` source of a new registry; afterwards the
    registered source is read (admins change it in the admin, the API or ``add_source``). A
    command run with another ``ROUTING_SOURCE`` would otherwise read the old plant silently.
    """
    import os
    from pathlib import Path

    from registry_app.pipeline.sources import SourceError, parse_source
    from workflow_app.models import DataSource

    wanted = os.environ.get("ROUTING_SOURCE", "").strip()
    row = DataSource.objects.filter(name=DataSource.DEFAULT).first() if wanted else None
    if row is None:
        return None
    try:
        kind, rest = parse_source(wanted)
    except SourceError:
        return None  # preflight and the source's own check report a malformed setting
    same = kind == row.kind and (
        rest == row.location
        or (kind != "odbc" and Path(rest).resolve() == Path(row.location).resolve())
    )
    if same:
        return None
    return (
        f"ROUTING_SOURCE is {wanted!r}, but the registered data source 'default' reads "
        f"{row.shown_location()!r} — the registered source is used. ROUTING_SOURCE only seeds "
        "the default source of a new registry; to read the other plant, change the source in "
        "Admin › Data sources › default (or PATCH /api/v1/sources/default with "
        f'{{"kind": "{kind}", "location": ...}}), or register it under another name with '
        "manage.py add_source and name it in the profile."
    )

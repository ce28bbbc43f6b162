"""The refusals a proposal can end in, free of the web layer.

``routing_site.errors`` re-exports these classes (the same objects), so the API's exception
handler maps them to its JSON error shape unchanged.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the user can act on. ``code`` is stable; ``detail`` says what to do."""

    status_code = 400
    code = "invalid"

    def __init__(self, detail: str, fields: dict | None = None, code: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or {}
        if code:
            self.code = code


class BadInput(DomainError):
    status_code = 400
    code = "invalid"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"

"""``{% operations_home as ops %}``: the operations home's panels for the admin index."""

from __future__ import annotations

from django import template

from registry_app.console import operations_home as collect

register = template.Library()


@register.simple_tag
def operations_home() -> dict:
    return collect()

"""``{% shadow_for version as shadow %}``: the shadow comparison for an admin page."""

import logging

from django import template

register = template.Library()
log = logging.getLogger("routing.shadow")


@register.simple_tag(takes_context=True)
def shadow_for(context, version) -> dict:
    """The view's own ``shadow`` when it computed one, else the report of ``version``; a
    failure is shown on the page (the approval itself must stay possible)."""
    from inference_app.shadow import shadow_report

    given = context.get("shadow")
    if given:
        return given
    if version is None:
        return {"available": False, "flagged": False, "message": "No version."}
    try:
        return shadow_report(version)
    except Exception as exc:  # a replay problem must not hide the approve button
        log.exception("shadow comparison failed")
        message = f"The shadow comparison failed: {type(exc).__name__}: {exc}"
        return {"available": False, "flagged": False, "message": message}

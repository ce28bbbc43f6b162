"""``{% shadow_for version as shadow %}``: the shadow comparison for an admin page."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def shadow_for(context, version) -> dict:
    """The view's own ``shadow`` when it computed one, else the report of ``version``."""
    from inference_app.shadow import shadow_report

    given = context.get("shadow")
    if given:
        return given
    if version is None:
        return {"available": False, "flagged": False, "message": "No version."}
    return shadow_report(version)

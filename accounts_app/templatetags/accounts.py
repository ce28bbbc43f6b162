"""``{% load accounts %}`` then ``{{ user|console_role }}``: the user's role, or an empty string."""

from django import template

from accounts_app.roles import role_of

register = template.Library()


@register.filter
def console_role(user) -> str:
    return role_of(user) or ""

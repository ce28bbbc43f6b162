"""Roles of the console: viewer < engineer < admin.

The role has one source of truth, ``Account.role`` (changed only by ``Account.change_role``);
Django's Staff and Superuser flags follow it and are never read here. A user has a role only
while their account is approved and active; a pending, rejected or deactivated account has
none, so every permission check refuses it.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer (predict, read)"
    ENGINEER = "engineer", "Engineer (save routings, edit profiles)"
    ADMIN = "admin", "Admin (approve users, train, promote)"


RANK = {Role.VIEWER: 1, Role.ENGINEER: 2, Role.ADMIN: 3}


def role_of(user) -> str | None:
    """The user's effective role, or None when they may not use the console at all."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    account = getattr(user, "account", None)  # RelatedObjectDoesNotExist is an AttributeError
    if account is None or account.status != "approved" or not account.role:
        return None
    return account.role


def has_role(user, required: str) -> bool:
    role = role_of(user)
    return role is not None and RANK[role] >= RANK[required]

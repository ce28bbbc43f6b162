"""Role permissions for the API: viewer < engineer < admin (``Account.role``).

No credentials (or invalid ones) → 401 ``not_authenticated``: DRF raises NotAuthenticated
because our authentication classes define ``authenticate_header``. Authenticated with too low
a role → 403 ``permission_denied`` with a message naming the role needed.

    class SaveRoutingView(APIView):
        permission_classes = [IsEngineer]
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from accounts_app.roles import Role, has_role, role_of


class _RoleRequired(BasePermission):
    required: str = Role.VIEWER

    @property
    def message(self) -> str:
        return f"This needs the {self.required} role or higher."

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, self.required)


class IsViewer(_RoleRequired):
    required = Role.VIEWER


class IsEngineer(_RoleRequired):
    required = Role.ENGINEER


class IsAdminRole(_RoleRequired):
    required = Role.ADMIN


class IsAdminOrService(BasePermission):
    """Admins, or any service account (e.g. a Prometheus scraper's token)."""

    message = "This needs the admin role or a service token."

    def has_permission(self, request, view) -> bool:
        if has_role(request.user, Role.ADMIN):
            return True
        account = getattr(request.user, "account", None)
        return bool(account and account.is_service and role_of(request.user))

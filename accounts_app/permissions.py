"""Role permissions for the API: viewer < engineer < admin. (Placeholder until accounts land.)"""

from rest_framework.permissions import BasePermission


class IsViewer(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)


class IsEngineer(IsViewer):
    pass


class IsAdminRole(IsViewer):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)

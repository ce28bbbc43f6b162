"""Admin: accounts awaiting approval, service tokens, the account audit trail.

Approval, rejection and revocation happen only through the actions (which call the model verbs
and so write the audit trail); the records themselves are read-only here.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts_app.models import Account, AccountAudit, ServiceToken
from accounts_app.roles import Role, role_of
from routing_site.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _apply(modeladmin, request, objects, verb: str, done: str, **kwargs) -> None:
    """Call ``verb`` on each object; report what changed and what was refused."""
    changed = 0
    for obj in objects:
        try:
            changed += bool(getattr(obj, verb)(by=request.user, via="admin", **kwargs))
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
    modeladmin.message_user(request, f"{done}: {changed}.", messages.SUCCESS)


def _approve_action(role: str):
    def action(modeladmin, request, queryset):
        accounts = queryset.select_related("user")
        _apply(modeladmin, request, accounts, "approve", f"Approved as {role}", role=role)

    action.__name__ = f"approve_as_{role}"
    return admin.action(description=f"Approve as {role}", permissions=["view"])(action)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = [
        "username",
        "email",
        "status",
        "role",
        "is_service",
        "requested_at",
        "approved_by",
        "approved_at",
    ]
    list_filter = ["status", "role", "is_service"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user", "approved_by"]
    actions = [*(_approve_action(role) for role in Role.values), "reject"]

    @admin.display(ordering="user__email")
    def email(self, account: Account) -> str:
        return account.user.email

    @admin.display(ordering="user__username")
    def username(self, account: Account) -> str:
        return account.username

    @admin.action(description="Reject (deactivate)", permissions=["view"])
    def reject(self, request, queryset):
        _apply(self, request, queryset.select_related("user"), "reject", "Rejected")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser  # approvals are the admin role's job


@admin.register(ServiceToken)
class ServiceTokenAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at", "live"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "user__username", "name"]
    list_select_related = ["user"]
    exclude = ["digest"]
    actions = ["revoke"]

    @admin.display(boolean=True, description="live")
    def live(self, token: ServiceToken) -> bool:
        return token.is_live

    @admin.action(description="Revoke the selected tokens", permissions=["view"])
    def revoke(self, request, queryset):
        _apply(self, request, queryset, "revoke", "Revoked")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


@admin.register(AccountAudit)
class AccountAuditAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "username", "role", "actor_name", "via", "note"]
    list_filter = ["action", "role"]
    search_fields = ["username", "actor_name", "note"]
    date_hierarchy = "at"


class AccountInline(admin.StackedInline):
    model = Account
    fk_name = "user"
    fields = ["status", "role", "is_service", "approved_by", "approved_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # the post_save signal creates it


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class ConsoleUserAdmin(UserAdmin):
    inlines = [AccountInline]
    list_display = [*UserAdmin.list_display, "account_status", "role"]
    list_filter = [*UserAdmin.list_filter, "account__status", "account__role"]
    list_select_related = ["account"]

    @admin.display(ordering="account__role", description="role")
    def role(self, user) -> str:
        """The role (Accounts); Staff and Superuser follow it."""
        return role_of(user) or "—"

    @admin.display(ordering="account__status", description="approval")
    def account_status(self, user) -> str:
        account = getattr(user, "account", None)
        return account.get_status_display() if account else "—"

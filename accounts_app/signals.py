"""Keep accounts in step with changes made to users anywhere (admin forms, shell, commands).

* Every user has an :class:`~accounts_app.models.Account`; an active superuser is an approved
  admin.
* An admin whose Staff or Superuser box is unticked (Admin › Users) is demoted to viewer through
  :meth:`Account.change_role`, the one place roles change: no API admin is left behind.
* A password change or a deactivation ends every token of the user
  (:meth:`Account.end_sessions`), whichever form or command made it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from accounts_app.models import Account, AccountStatus
from accounts_app.roles import Role

WATCHED = ("password", "is_active", "is_staff", "is_superuser")


def _ignored(raw: bool, update_fields) -> bool:
    # fixtures load accounts themselves; a login touches nothing of ours
    return raw or (update_fields is not None and set(update_fields) <= {"last_login"})


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts_app.remember_user")
def remember_user(sender, instance, raw: bool = False, update_fields=None, **kwargs) -> None:
    """Keep what the row held before this save, to see what the save changes."""
    instance._before = None
    if instance.pk is None or _ignored(raw, update_fields):
        return
    instance._before = get_user_model().objects.filter(pk=instance.pk).values(*WATCHED).first()


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts_app.ensure_account")
def ensure_account(sender, instance, created: bool, raw: bool = False, update_fields=None, **kw):
    if _ignored(raw, update_fields):
        return
    account, _ = Account.objects.get_or_create(user=instance)
    if account.is_service:
        _end_sessions_on_change(account, instance)
        return
    approved_admin = account.status == AccountStatus.APPROVED and account.role == Role.ADMIN
    if instance.is_superuser and instance.is_active and not approved_admin:
        account.approve(Role.ADMIN, via="superuser")
    elif approved_admin and not (instance.is_superuser and instance.is_staff):
        account.change_role(
            Role.VIEWER, via="user flags", note="Staff or Superuser unticked: was admin"
        )
    _end_sessions_on_change(account, instance)


def _end_sessions_on_change(account: Account, user) -> None:
    before = getattr(user, "_before", None)
    user._before = None  # one save, one decision
    if not before:
        return
    if before["password"] != user.password:
        account.end_sessions("password changed", via="password")
    elif before["is_active"] and not user.is_active:
        account.end_sessions("deactivated", via="deactivation")

"""Every user has an :class:`~accounts_app.models.Account`; superusers are approved admins."""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts_app.models import Account, AccountStatus
from accounts_app.roles import Role


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts_app.ensure_account")
def ensure_account(sender, instance, created: bool, raw: bool = False, update_fields=None, **kw):
    if raw or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # fixtures load accounts themselves; a login touches nothing of ours
    account, _ = Account.objects.get_or_create(user=instance)
    if instance.is_superuser and instance.is_active:
        if account.status != AccountStatus.APPROVED or account.role != Role.ADMIN:
            account.approve(Role.ADMIN, via="superuser")

"""Give every user created before accounts existed an Account.

Superusers become approved admins; other active users approved viewers (they could already
log in); inactive users wait for approval.
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def create_accounts(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Account = apps.get_model("accounts_app", "Account")
    now = timezone.now()
    for user in User.objects.filter(account__isnull=True):
        if user.is_superuser or user.is_active:
            role = "admin" if user.is_superuser else "viewer"
            Account.objects.create(user=user, role=role, status="approved", approved_at=now)
        else:
            Account.objects.create(user=user, status="pending")


class Migration(migrations.Migration):
    dependencies = [("accounts_app", "0001_initial")]

    operations = [migrations.RunPython(create_accounts, migrations.RunPython.noop)]

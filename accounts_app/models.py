"""Accounts: approval of people who sign up, service accounts for the ERP, and their audit.

Django's ``User`` holds the credentials; :class:`Account` (one per user, created by a
``post_save`` signal) holds what the console adds: the role, the approval status and whether
it is a service account. Decisions are verbs on the model (:meth:`Account.approve`,
:meth:`Account.reject`, :meth:`ServiceToken.revoke`); each runs in one transaction and writes
its :class:`AccountAudit` row in that same transaction, so the trail never disagrees with the
accounts.

Roles map onto Django's flags for people: an approved *admin* is a staff superuser (the admin
site is the operations console), engineers and viewers are neither. Service accounts never get
the flags; they have no usable password and authenticate only with a :class:`ServiceToken`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, IntegrityError, models, transaction
from django.utils import timezone

from accounts_app import cache
from accounts_app.roles import Role
from routing_site.errors import BadInput, Conflict, NotFound

TOKEN_PREFIX = "rml_"
TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)  # last_used_at is written at most once a minute


class AccountStatus(models.TextChoices):
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class AccountQuerySet(models.QuerySet):
    def get_by_username(self, username: str) -> Account:
        try:
            return self.select_related("user").get(user__username=username)
        except Account.DoesNotExist:
            raise NotFound(
                f"No account named {username!r}.", fields={"username": ["unknown account"]}
            ) from None

    def request_signup(self, username: str, email: str, password: str) -> Account | None:
        """Create an inactive, pending account; None when the name or email is already taken.

        The caller answers both cases the same way (no account enumeration), so the taken case
        still pays for one password hash to keep the timing alike.
        """
        users = get_user_model().objects
        taken = users.filter(username__iexact=username).exists() or (
            email and users.filter(email__iexact=email).exists()
        )
        if taken:
            make_password(password)
            return None
        user = get_user_model()(username=username, email=email, is_active=False)
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()  # the post_save signal creates the pending Account
                AccountAudit.record(AuditAction.SIGNUP, user.account, via="signup")
        except IntegrityError:  # the same name, a moment earlier
            return None
        return user.account

    def ensure_service(self, username: str, role: str | None, via: str) -> Account:
        """Create or reuse the service account ``username``; (re)approve it when given a role."""
        with transaction.atomic():
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                user = get_user_model()(username=username)
                user.set_unusable_password()
                user.save()
                Account.objects.filter(user=user).update(is_service=True)
            account = Account.objects.select_related("user").get(user=user)
            if not account.is_service:
                raise Conflict(
                    f"{username!r} is a person's account, not a service account; "
                    "choose another name for the service account."
                )
            if role or account.status != AccountStatus.APPROVED:
                if not role and account.status == AccountStatus.REJECTED:
                    raise Conflict(
                        f"Service account {username!r} was rejected; give a role to approve it."
                    )
                account.approve(role or Role.VIEWER, via=via)
        return account


class Account(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account"
    )
    role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.PENDING, db_index=True
    )
    is_service = models.BooleanField(
        default=False, help_text="A machine client (the ERP): bearer tokens only, no password."
    )
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_status_display().lower()})"

    @property
    def username(self) -> str:
        return self.user.get_username()

    def approve(self, role: str, by=None, via: str = "admin") -> bool:
        """Approve with ``role`` (or change the role). False when nothing changed."""
        if role not in Role.values:
            raise BadInput(
                f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.",
                fields={"role": [f"choose one of {', '.join(Role.values)}"]},
            )
        self._refuse_self(by)
        with transaction.atomic():
            account = Account.objects.select_for_update().select_related("user").get(pk=self.pk)
            user = account.user
            if account.status == AccountStatus.APPROVED and account.role == role and user.is_active:
                return False
            account.status, account.role = AccountStatus.APPROVED, role
            account.approved_by, account.approved_at = by, timezone.now()
            account.save()  # before the user: the user's post_save must find it approved
            user.is_active = True
            if not account.is_service:
                user.is_staff = user.is_superuser = role == Role.ADMIN
            user.save(update_fields=["is_active", "is_staff", "is_superuser"])
            AccountAudit.record(AuditAction.APPROVE, account, by=by, via=via, role=role)
        self._reload(account)
        return True

    def reject(self, by=None, via: str = "admin") -> bool:
        """Refuse (or withdraw) access: the user is deactivated. False when already rejected."""
        self._refuse_self(by)
        with transaction.atomic():
            account = Account.objects.select_for_update().select_related("user").get(pk=self.pk)
            user = account.user
            if account.status == AccountStatus.REJECTED and not user.is_active:
                return False
            account.status = AccountStatus.REJECTED
            account.approved_by, account.approved_at = None, None
            account.save()
            user.is_active = user.is_staff = user.is_superuser = False
            user.save(update_fields=["is_active", "is_staff", "is_superuser"])
            AccountAudit.record(AuditAction.REJECT, account, by=by, via=via, role=account.role)
        self._reload(account)
        return True

    def _refuse_self(self, by) -> None:
        if by is not None and by.pk == self.user_id:
            raise Conflict("You cannot approve, reject or change the role of your own account.")

    def _reload(self, fresh: Account) -> None:
        for field in ("status", "role", "approved_by", "approved_at"):
            setattr(self, field, getattr(fresh, field))
        self.user = fresh.user
        cache.forget_user(self.user_id)


class AuditAction(models.TextChoices):
    SIGNUP = "signup", "Signed up"
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    TOKEN_ISSUED = "token_issued", "Service token issued"
    TOKEN_REVOKED = "token_revoked", "Service token revoked"


class AccountAudit(models.Model):
    """Append-only: who decided what about which account, when, with which role."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    # The username is copied so the trail outlives a deleted user.
    username = models.CharField(max_length=150, db_index=True)
    account = models.ForeignKey(Account, null=True, on_delete=models.SET_NULL, related_name="audit")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=64, blank=True, help_text="admin, api, command:<os user>…")
    role = models.CharField(max_length=16, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "account audit entry"
        verbose_name_plural = "account audit trail"

    def __str__(self) -> str:
        who = self.actor_name or self.via
        return f"{self.at:%Y-%m-%d %H:%M} {who} {self.action} {self.username}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise Conflict("The account audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise Conflict("The account audit trail is append-only.")

    @classmethod
    def record(
        cls, action: str, account: Account, by=None, via: str = "", role: str = "", note: str = ""
    ) -> AccountAudit:
        return cls.objects.create(
            action=action,
            account=account,
            username=account.user.get_username(),
            actor=by,
            actor_name=by.get_username() if by is not None else "",
            via=via,
            role=role or "",
            note=note,
        )


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class ServiceTokenQuerySet(models.QuerySet):
    def live(self) -> ServiceTokenQuerySet:
        return self.filter(revoked_at__isnull=True)

    def by_digest(self, digest: str) -> ServiceToken | None:
        """The live token with this SHA-256 (one indexed query), with its user and account."""
        return self.live().select_related("user__account").filter(digest=digest).first()


class ServiceToken(models.Model):
    """A bearer token of a service account. Only its SHA-256 is stored; the raw value is shown
    once, when issued."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_tokens"
    )
    name = models.CharField(max_length=100, blank=True, help_text="What uses it, e.g. 'ERP'.")
    prefix = models.CharField(max_length=16, help_text="The token's first characters.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ServiceTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.get_username()})"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, account: Account, name: str = "", by=None, via: str = "") -> tuple:
        """A new token for a service account: ``(ServiceToken, raw)``; raw is not stored."""
        if not account.is_service:
            raise Conflict("Bearer tokens are only issued to service accounts.")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with transaction.atomic():
            token = cls.objects.create(
                user=account.user,
                name=name,
                prefix=raw[:12],
                digest=token_digest(raw),
                created_by=by,
            )
            AccountAudit.record(
                AuditAction.TOKEN_ISSUED, account, by=by, via=via, note=f"token {token.prefix}…"
            )
        return token, raw

    def revoke(self, by=None, via: str = "admin") -> bool:
        """Stop the token working. False when it was already revoked."""
        with transaction.atomic():
            changed = (
                ServiceToken.objects.live().filter(pk=self.pk).update(revoked_at=timezone.now())
            )
            if changed:
                account = Account.objects.select_related("user").get(user_id=self.user_id)
                AccountAudit.record(
                    AuditAction.TOKEN_REVOKED, account, by=by, via=via, note=f"token {self.prefix}…"
                )
        self.refresh_from_db(fields=["revoked_at"])
        cache.forget_token(self.digest)
        return bool(changed)

    def touch(self) -> None:
        """Record use, at most once per ``TOKEN_TOUCH_INTERVAL`` (not a write per request)."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > TOKEN_TOUCH_INTERVAL:
            self.last_used_at = now
            try:
                ServiceToken.objects.filter(pk=self.pk).update(last_used_at=now)
            except DatabaseError:
                # bookkeeping only: a busy or read-only database must never fail the request
                # that is using the token (it is retried after the next interval)
                logging.getLogger("routing").debug("token %s: last use not recorded", self.pk)

"""Accounts: approval of people who sign up, service accounts for the ERP, and their audit.

Django's ``User`` holds the credentials; :class:`Account` (one per user, created by a
``post_save`` signal) holds what the console adds: the role, the approval status and whether
it is a service account. Decisions are verbs on the model (:meth:`Account.approve`,
:meth:`Account.reject`, :meth:`ServiceToken.revoke`); each runs in one transaction and writes
its :class:`AccountAudit` row in that same transaction, so the trail never disagrees with the
accounts.

The role lives in one place, ``Account.role``, and changes only through
:meth:`Account.change_role` (which :meth:`Account.approve` uses for an approved account). Django's
flags follow it for people: an approved *admin* is a staff superuser (the admin site is the
operations console), engineers and viewers are neither. Unticking Staff or Superuser of an admin
in Admin › Users demotes the account to viewer through that same method (see
:mod:`accounts_app.signals`). Service accounts never get the flags; they have no usable password
and authenticate only with a :class:`ServiceToken`.

Sessions: every JWT carries the account's ``token_version`` (claim ``tv``) and a login-session id
(claim ``sid``). :meth:`Account.end_sessions` (a password change, a deactivation, a role change)
bumps the version and blacklists every refresh token of the user; logout records the session id
in :class:`EndedSession`, which every process reads.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, connections, models, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

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
    token_version = models.PositiveIntegerField(
        default=0, help_text="Raised to end every token of the user (claim 'tv' of the JWTs)."
    )

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_status_display().lower()})"

    @property
    def username(self) -> str:
        return self.user.get_username()

    def approve(self, role: str, by=None, via: str = "admin") -> bool:
        """Approve with ``role``; for an approved account, change its role. False when nothing
        changed."""
        _check_role(role)
        self._refuse_self(by)
        with transaction.atomic():
            account = self._locked()
            if account.status == AccountStatus.APPROVED and account.user.is_active:
                changed = account._change_role(role, by, via)
            else:
                account._approve(role, by, via)
                changed = True
        self._reload(account)
        return changed

    def change_role(self, role: str, by=None, via: str = "admin", note: str = "") -> bool:
        """The one place where an approved account's role changes: audited, and it ends every
        token of the user (a new role takes a new login). False when it already had ``role``."""
        _check_role(role)
        self._refuse_self(by)
        with transaction.atomic():
            account = self._locked()
            if account.status != AccountStatus.APPROVED:
                raise Conflict("Only an approved account has a role to change; approve it first.")
            changed = account._change_role(role, by, via, note)
        self._reload(account)
        return changed

    def reject(self, by=None, via: str = "admin") -> bool:
        """Refuse (or withdraw) access: the user is deactivated and their tokens end (the
        deactivation does that, see :mod:`accounts_app.signals`). False when already rejected."""
        self._refuse_self(by)
        with transaction.atomic():
            account = self._locked()
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

    def change_password(self, password: str):
        """Set a new password after Django's password rules; every token of the user ends (the
        user's signal does that, for every way a password changes). Returns the user."""
        user = self.user
        try:
            validate_password(password, user)
        except DjangoValidationError as exc:
            reasons = list(exc.messages)
            raise BadInput(f"password: {reasons[0]}", fields={"password": reasons}) from None
        with transaction.atomic():
            user.set_password(password)
            user.save(update_fields=["password"])
        self.refresh_from_db(fields=["token_version"])
        return user

    def end_sessions(self, reason: str, by=None, via: str = "") -> None:
        """End every refresh and access token of the user, in every process.

        Refresh tokens are blacklisted in the database at once; access tokens stop at once too:
        the shared sessions generation changes after the commit, so every process re-reads the
        user and sees the new ``token_version`` (see :mod:`accounts_app.cache`).
        """
        with transaction.atomic():
            Account.objects.filter(pk=self.pk).update(token_version=F("token_version") + 1)
            live = OutstandingToken.objects.filter(
                user_id=self.user_id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
            )
            BlacklistedToken.objects.bulk_create(
                [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
            )
            AccountAudit.record(AuditAction.SESSIONS_ENDED, self, by=by, via=via, note=reason)
            user_id = self.user_id
            transaction.on_commit(lambda: cache.forget_user(user_id))
            transaction.on_commit(cache.sessions_changed)
        self.refresh_from_db(fields=["token_version"])
        cache.forget_user(self.user_id)

    def _locked(self) -> Account:
        return Account.objects.select_for_update().select_related("user").get(pk=self.pk)

    def _approve(self, role: str, by, via: str) -> None:
        self.status, self.role = AccountStatus.APPROVED, role
        self.approved_by, self.approved_at = by, timezone.now()
        self.save()  # before the user: the user's post_save must find it approved
        self.user.is_active = True
        self._sync_flags()
        AccountAudit.record(AuditAction.APPROVE, self, by=by, via=via, role=role)

    def _change_role(self, role: str, by, via: str, note: str = "") -> bool:
        if self.role == role:
            return False
        before, self.role = self.role, role
        self.approved_by, self.approved_at = by, timezone.now()
        self.save(update_fields=["role", "approved_by", "approved_at"])
        self._sync_flags()
        AccountAudit.record(
            AuditAction.ROLE_CHANGED, self, by=by, via=via, role=role,
            note=note or f"was {before or 'none'}",
        )  # fmt: skip
        self.end_sessions(f"role changed from {before or 'none'} to {role}", by=by, via=via)
        return True

    def _sync_flags(self) -> None:
        """Django's flags follow the role (people only); saving runs the user's signals."""
        user = self.user
        if not self.is_service:
            user.is_staff = user.is_superuser = self.role == Role.ADMIN
        user.save(update_fields=["is_active", "is_staff", "is_superuser"])

    def _refuse_self(self, by) -> None:
        if by is not None and by.pk == self.user_id:
            raise Conflict("You cannot approve, reject or change the role of your own account.")

    def _reload(self, fresh: Account) -> None:
        fresh.refresh_from_db(fields=["token_version"])
        for field in ("status", "role", "approved_by", "approved_at", "token_version"):
            setattr(self, field, getattr(fresh, field))
        self.user = fresh.user
        cache.forget_user(self.user_id)


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise BadInput(
            f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.",
            fields={"role": [f"choose one of {', '.join(Role.values)}"]},
        )


class AuditAction(models.TextChoices):
    SIGNUP = "signup", "Signed up"
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    TOKEN_ISSUED = "token_issued", "Service token issued"
    TOKEN_REVOKED = "token_revoked", "Service token revoked"
    ROLE_CHANGED = "role_changed", "Role changed"
    SESSIONS_ENDED = "sessions_ended", "Sessions ended"


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


class EndedSessionQuerySet(models.QuerySet):
    def end(self, sid: str, user_id, lifetime: timedelta) -> None:
        """Refuse the access tokens of login session ``sid`` from now on (logout).

        The row is kept as long as an access token of the session can still be valid
        (``lifetime``: the access-token lifetime); older rows are pruned here.
        """
        now = timezone.now()
        self.filter(expires_at__lt=now).delete()
        if not get_user_model().objects.filter(pk=user_id).exists():
            user_id = None  # a token of a deleted user: still refuse it, remember no one
        self.get_or_create(sid=sid, defaults={"user_id": user_id, "expires_at": now + lifetime})
        transaction.on_commit(cache.sessions_changed, using=self.db)

    def is_ended(self, sid: str) -> bool:
        """Asked on every request made with an access JWT: one look-up in the unique index on
        ``sid``, as plain SQL (building the ORM query costs ~20 times the query itself)."""
        connection = connections[self.db]
        table = connection.ops.quote_name(EndedSession._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE sid = %s", [sid])
            return cursor.fetchone() is not None


class EndedSession(models.Model):
    """A login session ended by logout. A process reads this table for a session the first time
    it sees it after the shared sessions generation changed (:mod:`accounts_app.cache`), so the
    token is refused at once everywhere, not after its lifetime."""

    sid = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )
    ended_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    objects = EndedSessionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"session {self.sid[:8]}… ended {self.ended_at:%Y-%m-%d %H:%M}"


class LoginGate(models.Model):
    """Password checks in flight for one (username, address) pair.

    django-axes counts failures only after a password was checked, so concurrent attempts could
    all pass its "locked?" test first. The login claims a slot here, under a row lock, before
    the password is checked (see :mod:`accounts_app.throttle`): failures plus checks in flight
    never exceed the limit. Slots older than ``STALE_AFTER`` (a process that died mid-check)
    are ignored.
    """

    STALE_AFTER = timedelta(minutes=2)

    key = models.CharField(max_length=64, unique=True)
    in_flight = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.key[:8]}… ({self.in_flight} in flight)"

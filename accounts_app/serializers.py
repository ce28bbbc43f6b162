"""Input serializers of the auth API, and the plain dicts it answers with."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts_app.models import Account, AccountStatus
from accounts_app.roles import Role, role_of


class SignupSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)

    def validate(self, attrs: dict) -> dict:
        candidate = get_user_model()(username=attrs["username"], email=attrs["email"])
        try:
            validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class PasswordChangeSerializer(serializers.Serializer):
    """``context["user"]``: whose password changes (the rules are checked by the model)."""

    current_password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)
    password = serializers.CharField(
        max_length=256, trim_whitespace=False, write_only=True, help_text="The new password."
    )

    def validate_current_password(self, value: str) -> str:
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError("This is not your current password.")
        return value


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)
    token = serializers.BooleanField(
        default=False, help_text="Return the tokens in the body instead of cookies (scripts)."
    )


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(required=False, max_length=4096)


class ApproveSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class UserListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[*AccountStatus.values, "all"], default="all")


def me_body(user) -> dict:
    """What GET /me answers."""
    account = getattr(user, "account", None)
    return {
        "username": user.get_username(),
        "email": user.email,
        "role": role_of(user),
        "status": account.status if account else AccountStatus.APPROVED,
        "is_service": bool(account and account.is_service),
    }


def account_body(account: Account) -> dict:
    """One row of the admin's account list."""
    return {
        "username": account.user.get_username(),
        "email": account.user.email,
        "status": account.status,
        "role": account.role or None,
        "is_service": account.is_service,
        "requested_at": account.requested_at.isoformat(),
        "approved_by": account.approved_by.get_username() if account.approved_by else None,
        "approved_at": account.approved_at.isoformat() if account.approved_at else None,
    }

"""The login, signup and logout pages: plain forms posted to Django views.

The login page checks the password exactly as the API does (same messages, same lockout),
then opens a Django session (console pages use ``login_required``; the admin) *and* sets the
JWT cookies, so the pages' own API calls authenticate with the cheap access cookie.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as start_session
from django.contrib.auth import logout as end_session
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework.exceptions import Throttled

from accounts_app import throttle, tokens
from accounts_app.authentication import ACCESS_COOKIE, REFRESH_COOKIE
from accounts_app.login import PASSWORD_BACKEND, check_credentials
from accounts_app.models import Account
from accounts_app.serializers import SignupSerializer
from accounts_app.views import SIGNUP_RECEIVED, SignupThrottle
from routing_site.errors import DomainError


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or settings.LOGIN_REDIRECT_URL
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe else settings.LOGIN_REDIRECT_URL


def _field_errors(errors: dict) -> dict[str, list[str]]:
    return {field: [str(msg) for msg in msgs] for field, msgs in errors.items()}


@method_decorator([never_cache, sensitive_post_parameters("password")], name="dispatch")
class LoginPage(View):
    template = "accounts/login.html"

    def get(self, request):
        if request.user.is_authenticated:
            return redirect(_next_url(request))
        return render(request, self.template, {"next": _next_url(request)})

    def post(self, request):
        username = request.POST.get("username", "").strip()[:150]
        password = request.POST.get("password", "")[:256]
        context = {"next": _next_url(request), "username": username}
        if not username or not password:
            context["error"] = "Enter your username and password."
            return render(request, self.template, context, status=400)
        try:
            user = check_credentials(request, username, password)
        except Throttled:
            return throttle.lockout_response(request)
        except DomainError as exc:
            context["error"] = exc.detail
            return render(request, self.template, context, status=exc.status_code)
        start_session(request, user, backend=PASSWORD_BACKEND)
        response = redirect(context["next"])
        tokens.set_auth_cookies(response, request, tokens.issue_pair(user))
        return response


@method_decorator([never_cache, sensitive_post_parameters("password", "password2")], "dispatch")
class SignupPage(View):
    template = "accounts/signup.html"

    def get(self, request):
        return render(request, self.template, {})

    def post(self, request):
        data = {key: request.POST.get(key, "") for key in ("username", "email", "password")}
        context = {"username": data["username"], "email": data["email"]}
        serializer = SignupSerializer(data=data)
        errors = {} if serializer.is_valid() else _field_errors(serializer.errors)
        if data["password"] != request.POST.get("password2", ""):
            errors.setdefault("password2", []).append("The two passwords differ.")
        if errors:
            context["errors"] = errors
            return render(request, self.template, context, status=400)
        if not SignupThrottle().allow_request(request, self):
            context["error"] = "Too many signup requests from this computer; try again later."
            return render(request, self.template, context, status=429)
        Account.objects.request_signup(**serializer.validated_data)
        return render(request, "accounts/signup_done.html", {"detail": SIGNUP_RECEIVED["detail"]})


@method_decorator(never_cache, name="dispatch")
class LogoutPage(View):
    template = "accounts/logout.html"

    def get(self, request):
        if not request.user.is_authenticated:
            return redirect(settings.LOGIN_URL)
        return render(request, self.template, {})

    def post(self, request):
        tokens.end_session(
            request.COOKIES.get(REFRESH_COOKIE, ""), request.COOKIES.get(ACCESS_COOKIE, "")
        )
        end_session(request)
        messages.info(request, "You have been logged out.")
        response = redirect(settings.LOGIN_URL)
        tokens.clear_auth_cookies(response)
        return response

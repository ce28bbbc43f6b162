"""The console's login, signup and logout pages, included at the site root."""

from django.urls import path

from accounts_app import pages

urlpatterns = [
    path("login/", pages.LoginPage.as_view(), name="login"),
    path("signup/", pages.SignupPage.as_view(), name="signup"),
    path("logout/", pages.LogoutPage.as_view(), name="logout"),
]

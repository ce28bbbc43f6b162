"""The auth API, included at /api/v1/auth/ (no trailing slashes, like the rest of the API)."""

from django.urls import path

from accounts_app import views

urlpatterns = [
    path("signup", views.SignupView.as_view(), name="auth-signup"),
    path("login", views.LoginView.as_view(), name="auth-login"),
    path("refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("logout", views.LogoutView.as_view(), name="auth-logout"),
    path("me", views.MeView.as_view(), name="auth-me"),
    path("password", views.PasswordView.as_view(), name="auth-password"),
    path("users", views.UserListView.as_view(), name="auth-users"),
    path("users/<str:username>/approve", views.ApproveView.as_view(), name="auth-user-approve"),
    path("users/<str:username>/reject", views.RejectView.as_view(), name="auth-user-reject"),
]

"""API authentication classes. (Placeholder until accounts land.)"""

from rest_framework.authentication import BaseAuthentication


class CookieJWTAuthentication(BaseAuthentication):
    def authenticate(self, request):
        return None


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        return None

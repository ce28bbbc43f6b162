"""How the OpenAPI schema (/api/v1/schema/) describes our two authentication classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class CookieJWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts_app.authentication.CookieJWTAuthentication"
    name = "jwtCookieAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "routing_access",
            "description": "Set by POST /api/v1/auth/login. Unsafe methods also need the "
            "csrftoken cookie's value in the X-CSRFToken header.",
        }


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "accounts_app.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A service token (rml_…, from manage.py issue_token) or an access "
            'JWT (POST /api/v1/auth/login with {"token": true}).',
        }

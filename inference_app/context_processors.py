"""Template context for every page: the runtime alert banner (console pages and the admin).

The banner shows while the inference runtime is degraded (serving an older version, registry
unreadable) or unavailable (no model), with the runtime's own explanation and latest alerts.
"""

from __future__ import annotations

from django.conf import settings

from inference_app.runtime import runtime

BANNER_ALERTS = 3


def runtime_status(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}  # the login page tells strangers nothing about the service
    if settings.RUNTIME_AUTOLOAD:
        runtime.start()  # no-op once the poller runs; a page may be this process's first request
    health = runtime.health()
    if health["status"] == "ok":
        return {}
    return {
        "runtime_banner": {
            "status": health["status"],
            "level": "error" if health["status"] == "unavailable" else "warning",
            "detail": health["detail"],
            "serving_version": health["serving_version"],
            "alerts": health["alerts"][-BANNER_ALERTS:],
        }
    }

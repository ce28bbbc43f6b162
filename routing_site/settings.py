"""Settings for the Routing ML console.

Everything an operator may change comes from environment variables, read through the small
typed helpers below, which refuse bad values with a message instead of starting half-configured.
The defaults run the whole product from a fresh clone: SQLite under ``var/``, the ORM broker,
the sample plant database as the source, ``models/`` and ``logs/`` beside ``manage.py``.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from routing_site.env import (
    BASE_DIR,
    envbool,
    envint,
    envpath,
    models_dir,
    switch_interval_us,
)
from routing_site.startup import import_drf_without_unused_extras

SETTINGS_READ_AT = time.time()  # imports before this, Django set-up after (serve's start-up line)


def _secret_from_file(path: Path) -> str:
    """Read a generated secret from ``var/``, creating it on first run (never in the repo).

    The file is created with mode 0600 in the same call that creates it (``O_CREAT|O_EXCL``):
    there is no moment where another local user could read it. When two processes start at
    once, the loser of the ``O_EXCL`` race reads the winner's secret.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    for _ in range(50):  # a racing creator may not have written its secret yet
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.02)
    raise ImproperlyConfigured(f"{path} is empty; delete it to have a new secret generated.")


VAR_DIR = envpath("ROUTING_VAR_DIR", BASE_DIR / "var")
MODELS_DIR = models_dir()
LOG_DIR = envpath("ROUTING_LOG_DIR", BASE_DIR / "logs")
ROUTING_SOURCE = os.getenv("ROUTING_SOURCE", f"sqlite:///{(VAR_DIR / 'plant.sqlite').as_posix()}")
# Folders file-based data sources may read (os.pathsep-separated); empty: the default source's
# folder and var/imports/ (registry_app/pipeline/confinement.py)
ROUTING_SOURCE_ROOTS = os.getenv("ROUTING_SOURCE_ROOTS", "")

DEBUG = envbool("DEBUG", "false")
SECRET_KEY = os.getenv("SECRET_KEY") or _secret_from_file(VAR_DIR / "secret_key")
JWT_SIGNING_KEY = os.getenv("JWT_SIGNING_KEY") or _secret_from_file(VAR_DIR / "jwt_signing_key")
# The host names clients use. Unset: loopback only (any host with DEBUG); `manage.py preflight`
# fails when it is '*' (or loopback only) and the server listens on another address.
LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
_default_hosts = "*" if DEBUG else ",".join(LOOPBACK_HOSTS)
ALLOWED_HOSTS = [h.strip() for h in os.getenv("ALLOWED_HOSTS", _default_hosts).split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
SECURE_COOKIES = envbool("SECURE_COOKIES", "false")
SERVE_HOST = os.getenv("ROUTING_HOST", "127.0.0.1")
SERVE_PORT = envint("ROUTING_PORT", "8000", minimum=1)
SERVE_THREADS = envint("ROUTING_THREADS", "8", minimum=1)
SERVE_WORKERS = envint("ROUTING_WORKERS", "1", minimum=1)  # serving processes (Linux: fork)
SERVE_SWITCH_INTERVAL_US = switch_interval_us()  # routing_site/env.py
# similar and time summary answered by waitress's main thread, not handed to a pool thread
SERVE_INLINE = envbool("ROUTING_INLINE", "true")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_q",
    "accounts_app",
    "registry_app",
    "workflow_app",
    "inference_app",
]

MIDDLEWARE = [
    "inference_app.fastpath.ApiFastPathMiddleware",  # hot API calls skip the rest (see there)
    "inference_app.middleware.RequestLogMiddleware",
    "routing_site.limits.BodyLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "routing_site.staticfiles.LazyWhiteNoiseMiddleware",  # WhiteNoise, files listed when asked
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "routing_site.urls"
WSGI_APPLICATION = "routing_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "inference_app.context_processors.runtime_status",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{(VAR_DIR / 'routing.sqlite3').as_posix()}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", "0"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, except that it never creates a missing file (only migrate does) and
    # opens a file without write permission read-only (routing_site/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "routing_site.sqlite"
    # WAL + a busy timeout + immediate transactions: the web server, the task cluster and the
    # trainer write concurrently, and SQLite's default mode answers "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests use a file too (not SQLite's shared in-memory database, whose table locks fail at
    # once instead of waiting): the threads of a live server then see what production sees.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-routing.sqlite3")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.getenv("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# A cache shared by every process on the machine: the task cluster's heartbeat (shown by
# /api/v1/health) and the login throttle must be seen by all web processes.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
        "TIMEOUT": 3600,
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts_app.authentication.CookieJWTAuthentication",
        "accounts_app.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts_app.permissions.IsViewer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "routing_site.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["routing_site.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["routing_site.limits.BoundedJSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Request limits (routing_site/limits.py): a larger body answers 413, deeper JSON 400.
API_MAX_BODY_BYTES = envint("API_MAX_BODY_BYTES", str(1024 * 1024), minimum=1024)
API_MAX_JSON_DEPTH = envint("API_MAX_JSON_DEPTH", "32", minimum=2)
# Bearer-token calls of predict, similar and time summary skip the page middleware and DRF's
# negotiation (inference_app/fastpath.py); false: every request takes the full stack.
API_FAST_PATH = envbool("API_FAST_PATH", "true")

# Content-Security-Policy on every response (django-csp): only this origin, no inline code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # Swagger UI's and the admin's icons are data: URIs
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Routing ML console API",
    "DESCRIPTION": "Routing proposals, similar items, time summaries and the model registry.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "routing_site.openapi.document_errors",
        "inference_app.openapi_model.serving_model",
    ],
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=envint("JWT_ACCESS_MINUTES", "30", minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=envint("JWT_REFRESH_DAYS", "7", minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "UPDATE_LAST_LOGIN": True,
}

# django-q2: timeout strictly below retry (or a long training is delivered twice), a capped
# number of attempts (0 means forever), and no replay of missed nightly slots after downtime.
TRAINING_TIMEOUT_S = envint("TRAINING_TIMEOUT_S", "3600", minimum=60)
Q_CLUSTER = {
    "name": "routing",
    "orm": "default",
    "workers": envint("Q_WORKERS", "1", minimum=1),
    "timeout": TRAINING_TIMEOUT_S,
    "retry": TRAINING_TIMEOUT_S + 600,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 250,
    "ack_failures": True,
    "poll": 1,
    "sync": envbool("Q_SYNC", "false"),
    # a training forks its tables and half its evaluation beside the main thread
    # (registry_app.pipeline.forking); multiprocessing gives a daemonic worker no children.
    # Those children end with their worker (PR_SET_PDEATHSIG), so none is left orphaned.
    "daemonize_workers": False,
}
# The generation of ended sessions (accounts_app.cache) must be seen by every process of every
# host: the file cache on one host, Redis when the scale-out topology has it.
AUTH_SESSIONS_CACHE = "default"
if os.getenv("REDIS_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = os.getenv("REDIS_URL")
    CACHES["shared"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.getenv("REDIS_URL"),
    }
    AUTH_SESSIONS_CACHE = "shared"

# Runtime: how often each inference process checks the registry for a new active version
# or new workflow settings (the 2-second contract of the hot swap).
RUNTIME_POLL_SECONDS = float(os.getenv("RUNTIME_POLL_SECONDS", "0.5"))
# Shared storage (a network file system) may show a version's folder later than its registry row:
# a version that cannot be verified is retried quietly this long before it is refused.
RUNTIME_VERIFY_GRACE_SECONDS = float(os.getenv("RUNTIME_VERIFY_GRACE_SECONDS", "30"))
RUNTIME_AUTOLOAD = envbool("RUNTIME_AUTOLOAD", "true")
# Full SHA-256 re-check of the serving version's files (sizes and mtimes: every poll).
RUNTIME_VERIFY_SECONDS = envint("RUNTIME_VERIFY_SECONDS", "600", minimum=1)
NIGHTLY_TRAINING_CRON = os.getenv("NIGHTLY_TRAINING_CRON", "30 2 * * *")

LOG_LEVEL = os.getenv("LOG_LEVEL", "INFO")
LOG_DIR.mkdir(parents=True, exist_ok=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "routing_site.logging.JsonFormatter"},
        "console": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "console", "level": "WARNING"},
        "app_file": {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": str(LOG_DIR / "routing.log"),
            "maxBytes": 20 * 1024 * 1024,
            "backupCount": 10,
            "formatter": "json",
            "encoding": "utf-8",
            "delay": True,
        },
        "request_file": {  # one line per request: checks its size every 32 lines
            "class": "routing_site.logging.RotatingFileHandler",
            "filename": str(LOG_DIR / "requests.log"),
            "maxBytes": 20 * 1024 * 1024,
            "backupCount": 10,
            "formatter": "json",
            "encoding": "utf-8",
            "delay": True,
        },
    },
    "loggers": {
        "routing": {"handlers": ["console", "app_file"], "level": LOG_LEVEL, "propagate": False},
        "routing.requests": {"handlers": ["request_file"], "level": "INFO", "propagate": False},
        "django-q": {"handlers": ["console", "app_file"], "level": "INFO", "propagate": False},
        "waitress": {"handlers": ["console", "app_file"], "level": "INFO", "propagate": False},
        "django": {"handlers": ["console", "app_file"], "level": "WARNING", "propagate": False},
    },
}

# --- Accounts: password rules, login lockout (django-axes), sessions -------------------------
# Every password check goes through django-axes first; its attempts live in the database, so
# all processes (and machines) share one counter. See accounts_app/throttle.py and
# docs/security.md (how an admin unlocks an account).
INSTALLED_APPS.insert(INSTALLED_APPS.index("django.contrib.auth") + 1, "axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # turns a lockout into a 429 answer
MIDDLEWARE.append("accounts_app.throttle.ReleaseLoginSlotMiddleware")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts_app.login.PasswordBackend",
]
AXES_HANDLER = "accounts_app.throttle.SerialLockoutHandler"
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "5", minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", "15", minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "accounts_app.throttle.client_address"
AXES_LOCKOUT_CALLABLE = "accounts_app.throttle.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
LOGGING["loggers"]["axes"] = {"handlers": ["app_file"], "level": "WARNING", "propagate": False}

# Before any app imports DRF: without the optional packages it would import for nothing
# (routing_site/startup.py).
import_drf_without_unused_extras()

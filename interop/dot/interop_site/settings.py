"""Settings of the DOT interop server, driven by environment variables (see README.md).

| variable                    | default    | meaning                                                   |
|-----------------------------|------------|-----------------------------------------------------------|
| INTEROP_DATA_DIR            | required   | directory of this server's SQLite database                |
| INTEROP_BACKEND             | json       | json: DOT's JSONOAuthLibCore; form: DOT's OAuthLibCore    |
| INTEROP_RESOURCE_STYLE      | drf        | drf: DRF + OAuth2Authentication (401); protected: DOT's   |
|                             |            | ProtectedResourceView family (bare 403)                   |
| INTEROP_TOKEN_SECONDS       | 36000      | OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]            |
| INTEROP_PAGE_SIZE           | 100        | users per page of the list                                |
| INTEROP_SECRET_HASHER       | fast       | fast: PBKDF2-SHA256 at 1,000 iterations; default: Django's |
|                             |            | own default (PBKDF2-SHA256 at 1,000,000: 0.5 s a token)   |
| INTEROP_CONTROL             | 0          | 1: serve the test controls under /__interop/ (views_control) |
"""

import os
from pathlib import Path


def _env(name, default=None, choices=None):
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"{name} must be set (see interop/dot/README.md)")
    if choices is not None and value not in choices:
        raise RuntimeError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def _positive_int(name, default):
    text = _env(name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise RuntimeError(f"{name}={text!r}: expected a positive integer")
    return value


BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(_env("INTEROP_DATA_DIR"))

BACKEND = _env("INTEROP_BACKEND", "json", ("json", "form"))
RESOURCE_STYLE = _env("INTEROP_RESOURCE_STYLE", "drf", ("drf", "protected"))
TOKEN_SECONDS = _positive_int("INTEROP_TOKEN_SECONDS", 36000)
PAGE_SIZE = _positive_int("INTEROP_PAGE_SIZE", 100)
SECRET_HASHER = _env("INTEROP_SECRET_HASHER", "fast", ("fast", "default"))
CONTROL = _env("INTEROP_CONTROL", "0", ("0", "1")) == "1"

# A loopback test server: nothing here protects real data.
SECRET_KEY = "interop-dot-test-server-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "oauth2_provider",
    "partners",
]

# Sessions and auth only serve DOT's own application-management pages (which redirect to a
# login page this project does not have); the API views are CSRF-exempt, as API views are.
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "interop_site.urls"
WSGI_APPLICATION = "interop_site.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
        "OPTIONS": {
            # The server is threaded: writers queue instead of failing with "locked".
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# DOT hashes client secrets with Django's first password hasher (CLIENT_SECRET_HASHER
# "default"). Django 5.2's default, PBKDF2-SHA256 at 1,000,000 iterations, costs about 0.5 s
# of CPU per token request, and every `partner` invocation fetches a token; the harness uses
# the same algorithm at 1,000 iterations unless INTEROP_SECRET_HASHER=default.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
if SECRET_HASHER == "fast":
    PASSWORD_HASHERS.insert(0, "interop_site.hashers.FastPBKDF2PasswordHasher")

OAUTH2_PROVIDER = {
    "SCOPES": {"read": "Reading scope", "write": "Writing scope"},
    "ACCESS_TOKEN_EXPIRE_SECONDS": TOKEN_SECONDS,
    "OAUTH2_BACKEND_CLASS": {
        "json": "oauth2_provider.oauth2_backends.JSONOAuthLibCore",
        "form": "oauth2_provider.oauth2_backends.OAuthLibCore",
    }[BACKEND],
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oauth2_provider.contrib.rest_framework.OAuth2Authentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "oauth2_provider.contrib.rest_framework.TokenHasReadWriteScope",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": PAGE_SIZE,
}

# Request lines and errors on stderr. DOT's DeprecationWarning for JSONOAuthLibCore is a plain
# warnings.warn: Python's default filters hide it; PYTHONWARNINGS=default shows it on stderr.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{levelname} {name}: {message}", "style": "{"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {"oauth2_provider": {"level": os.environ.get("INTEROP_DOT_LOG_LEVEL", "INFO")}},
}

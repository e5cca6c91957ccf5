"""Settings of the pushwire chat example.

Everything that must agree with pushwire's configuration (`pushwire.json`
beside this project) can be set from the environment, so the same project
runs against a hub on another port or with other secrets:

- PUSHWIRE_URL: where browsers reach the hub (its pages load /pushwire.js
  from there and connect to it).
- PUSHWIRE_API_URL: the hub's server API, as `cent` wants it (…/api).
- PUSHWIRE_API_KEY: the hub's `http_api.key`.
- PUSHWIRE_HMAC_SECRET: the hub's `client.token.hmac_secret_key`.
- PUSHWIRE_PROXY_KEY: the `X-Pushwire-Proxy-Key` header the hub adds to its
  proxy calls (`static_headers`); the proxy views refuse calls without it.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Development settings: a fixed key unless DJANGO_SECRET_KEY is set, DEBUG on.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-pushwire-example-only")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

PUSHWIRE_URL = os.environ.get("PUSHWIRE_URL", "http://127.0.0.1:8080").rstrip("/")
PUSHWIRE_API_URL = os.environ.get("PUSHWIRE_API_URL", PUSHWIRE_URL + "/api")
PUSHWIRE_API_KEY = os.environ.get("PUSHWIRE_API_KEY", "django-example-api-key-change-me")
PUSHWIRE_HMAC_SECRET = os.environ.get("PUSHWIRE_HMAC_SECRET", "django-example-hmac-secret-change-me")
PUSHWIRE_PROXY_KEY = os.environ.get("PUSHWIRE_PROXY_KEY", "django-example-proxy-key-change-me")
# Lifetime of a connection token; the page asks /token for a new one before it runs out.
PUSHWIRE_TOKEN_TTL = int(os.environ.get("PUSHWIRE_TOKEN_TTL", "600"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "chatsite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}

AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"chat": {"handlers": ["console"], "level": "INFO"}},
}

"""Production profile: DEBUG off, secrets required, HTTPS-only cookies and HSTS.

`DJANGO_SETTINGS_MODULE=portal.settings_production python manage.py check --deploy` is clean.
"""

import os

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DEBUG", "false")

from .envvars import env_bool, env_int  # noqa: E402
from .settings import *  # noqa: E402,F403
from .settings import STORAGES  # noqa: E402

if DEBUG:  # noqa: F405
    raise ImproperlyConfigured("portal.settings_production must run with DEBUG off")
if SECRET_KEY.startswith("dev-only") or len(SECRET_KEY) < 50:  # noqa: F405
    raise ImproperlyConfigured("SECRET_KEY must be set to a long random value in production")
if EINVOICE_ORG_API_KEY == "einv_org_sandbox_demo_key":  # noqa: F405
    raise ImproperlyConfigured("EINVOICE_ORG_API_KEY must be set in production")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

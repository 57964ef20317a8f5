"""Settings for the embedded defaults (SQLite, filesystem broker, sandbox API).

Every value comes from the environment (or a `.env` file next to manage.py); see
`.env.example` for the full list. `portal.settings_production` hardens this profile.
"""

import base64
import hashlib
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env (written by bin/setup) fills in what the real environment leaves unset.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)


def env_secret(name: str, default: str = "") -> str:
    """Read a secret from NAME or from the file named by NAME_FILE (Docker secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as e:
            raise ImproperlyConfigured(f"{name}_FILE points at an unreadable file: {path}") from e
    return env.str(name, default=default)


DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env_secret("SECRET_KEY", "dev-only-insecure-secret-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute URL of this portal, used in emails (reveal links) and as the webhook endpoint.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "accounts",
    "tenants",
    "invoices",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.StaffTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so that it sees failed logins raised by the views above.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: wait for locks instead of failing,
    # and take the write lock up front so transactions never deadlock on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: after AXES_FAILURE_LIMIT failures for one username from one IP,
# that pair is locked out for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

# TOTP two-factor login for reseller staff; mandatory when this is on.
REQUIRE_STAFF_2FA = env.bool("REQUIRE_STAFF_2FA", default=False)
OTP_TOTP_ISSUER = "Peppol Reseller Portal"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Brussels")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")

# --- e-invoice.be -----------------------------------------------------------------
# The sandbox (python -m sandbox) by default; https://api.e-invoice.be (production) or
# https://api-dev.e-invoice.be (development) for the real service.
EINVOICE_API_BASE_URL = env.str("EINVOICE_API_BASE_URL", default="http://127.0.0.1:8765").rstrip(
    "/"
)
EINVOICE_ORG_API_KEY = env_secret("EINVOICE_ORG_API_KEY", "einv_org_sandbox_demo_key")
EINVOICE_TIMEOUT_SECONDS = env.float("EINVOICE_TIMEOUT_SECONDS", default=10.0)

# The organization key's quota, shared by every process (see tenants/ratelimit.py).
EINVOICE_RATE_PER_MINUTE = env.int("EINVOICE_RATE_PER_MINUTE", default=100)
EINVOICE_RATE_PER_HOUR = env.int("EINVOICE_RATE_PER_HOUR", default=1000)
# redis://… in production; empty → a SQLite file shared by the processes of this host.
RATE_LIMIT_REDIS_URL = env.str("RATE_LIMIT_REDIS_URL", default="")
RATE_LIMIT_SQLITE_PATH = env.str(
    "RATE_LIMIT_SQLITE_PATH", default=str(VAR_DIR / "ratelimit.sqlite3")
)
# >1 runs the same quota faster (benchmarks against a sandbox with the same scale).
RATE_LIMIT_TIME_SCALE = env.float("RATE_LIMIT_TIME_SCALE", default=1.0)
# Calls reach the API a few ms after their grant; keep this much slack on each window.
RATE_LIMIT_MARGIN_SECONDS = env.float("RATE_LIMIT_MARGIN_SECONDS", default=0.25)
RATE_LIMIT_KEY_PREFIX = env.str("RATE_LIMIT_KEY_PREFIX", default="peppol-portal-quota")
# How long a web request may wait for quota before telling the user to retry.
EINVOICE_QUOTA_MAX_WAIT = env.float("EINVOICE_QUOTA_MAX_WAIT", default=5)
EINVOICE_READ_ATTEMPTS = env.int("EINVOICE_READ_ATTEMPTS", default=3)
EINVOICE_RETRY_BACKOFF_SECONDS = env.float("EINVOICE_RETRY_BACKOFF_SECONDS", default=0.5)

# Background jobs: at most this many in the broker at once; the rest wait as rows.
JOBS_MAX_IN_FLIGHT = env.int("JOBS_MAX_IN_FLIGHT", default=4)
# A running job's lease is renewed by its worker; a dead worker's job is taken over after this.
JOBS_LEASE_SECONDS = env.float("JOBS_LEASE_SECONDS", default=30)
JOBS_DISPATCH_TIMEOUT_SECONDS = env.float("JOBS_DISPATCH_TIMEOUT_SECONDS", default=600)
JOBS_RETRY_BASE_SECONDS = env.float("JOBS_RETRY_BASE_SECONDS", default=5)
JOBS_RETRY_MAX_SECONDS = env.float("JOBS_RETRY_MAX_SECONDS", default=600)
JOBS_MAX_RETRIES = env.int("JOBS_MAX_RETRIES", default=8)
KEY_REVEAL_LINK_HOURS = env.float("KEY_REVEAL_LINK_HOURS", default=72)

KEY_ROTATION_DAYS = env.int("KEY_ROTATION_DAYS", default=90)
KEY_ROTATION_GRACE_HOURS = env.float("KEY_ROTATION_GRACE_HOURS", default=24)


# --- Secrets at rest ------------------------------------------------------------------
def _dev_encryption_key() -> str:
    # Only for DEBUG without FIELD_ENCRYPTION_KEYS: derived from SECRET_KEY so a dev
    # database stays readable across restarts. Production refuses to start without keys.
    digest = hashlib.sha256(("field-encryption:" + SECRET_KEY).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


FIELD_ENCRYPTION_KEYS = [k for k in env_secret("FIELD_ENCRYPTION_KEYS", "").split(",") if k.strip()]
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is required when DEBUG is off")
    FIELD_ENCRYPTION_KEYS = [_dev_encryption_key()]

# --- Celery -----------------------------------------------------------------------------
# Default broker needs no server: kombu's filesystem transport in var/broker.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_broker_dir = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem"):
    # kombu's own filesystem transport can read a half-written message file, lose it and
    # stop the worker; ours writes under a hidden name and renames into place.
    CELERY_BROKER_TRANSPORT = "tenants.jobs.broker:Transport"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # kombu polls once a second by default; jobs should not wait that long.
        "polling_interval": 0.2,
    }
else:
    # Redis re-delivers a reserved task after this; keep it above the longest countdown.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Run exactly one beat. Every entry expires so a backlog never piles up.
CELERY_BEAT_SCHEDULE: dict = {
    "jobs-dispatch": {
        "task": "tenants.tasks.dispatch_jobs",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    "jobs-sweep": {
        "task": "tenants.tasks.sweep_jobs",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "keys-plan-rotations": {
        "task": "tenants.tasks.plan_rotations",
        "schedule": 900.0,
        "options": {"expires": 900},
    },
    # Documents left in TRANSIT when webhooks are lost, and inboxes.
    "invoices-poll-documents": {
        "task": "invoices.tasks.poll_documents",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "mirror-reconcile": {
        "task": "tenants.tasks.reconcile_mirror",
        "schedule": crontab(hour=3, minute=17),
        "options": {"expires": 3600},
    },
}
CELERY_TIMEZONE = TIME_ZONE

# --- Logging: secrets are masked on every handler ------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_secrets": {"()": "tenants.logfilter.MaskSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["mask_secrets"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

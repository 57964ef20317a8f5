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

from portal.envvars import (
    env_bool,
    env_db,
    env_email,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# A local .env (written by bin/setup) fills in what the real environment leaves unset.
environ.Env.read_env(env_str("ENV_FILE", str(BASE_DIR / ".env")), overwrite=False)


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_secret("SECRET_KEY", "dev-only-insecure-secret-key-change-me")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute URL of this portal, used in emails (reveal links) and as the webhook endpoint.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

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
    "csp",
    "core",
    "accounts",
    "tenants",
    "invoices",
    "notifications",
    "usage",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
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
    "core.error_pages.ErrorPagesMiddleware",
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
    "default": env_db("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
# A worker runs thousands of short tasks: each process keeps its connection this long
# (checked before reuse) instead of opening one per task. 0 = one per request or task.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
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
    "accounts.backends.UserBackend",
    "django.contrib.auth.backends.ModelBackend",  # sessions begun before UserBackend name it
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Staff sessions end STAFF_SESSION_HOURS after login (accounts/signals.py); customers keep
# Django's sliding cookie of CUSTOMER_SESSION_DAYS.
STAFF_SESSION_HOURS = env_float("STAFF_SESSION_HOURS", 12)
SESSION_COOKIE_AGE = int(env_float("CUSTOMER_SESSION_DAYS", 14) * 86400)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: after AXES_FAILURE_LIMIT failures for one username from one IP, that
# pair is locked out for AXES_COOLOFF_MINUTES; after AXES_IP_FAILURE_LIMIT failures from one
# IP across usernames (a password spray), the IP is (see accounts/throttle.py).
AXES_USER_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_IP_FAILURE_LIMIT = env_int("AXES_IP_FAILURE_LIMIT", 20)
AXES_FAILURE_LIMIT = "accounts.throttle.failure_limit"
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

# TOTP two-factor login for reseller staff; mandatory when this is on.
REQUIRE_STAFF_2FA = env_bool("REQUIRE_STAFF_2FA", False)
OTP_TOTP_ISSUER = "Peppol Reseller Portal"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Brussels")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Outgoing email from one URL: smtp://user:pass@host:587/?tls=True (or smtp+tls://,
# smtp+ssl://). The embedded default writes each email to a file under var/mail/ (the
# demo reads them at /staff/mail/): never to the logs, where reveal links would leak
# (consolemail:// is refused, see portal/envvars.py).
_email = env_email("EMAIL_URL", "filemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = 10
# filemail:///abs/path or filemail://rel/path (from the project folder); empty: var/mail
# (the file backend creates the folder on the first email).
EMAIL_FILE_PATH = str(BASE_DIR / (_email["EMAIL_FILE_PATH"] or VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")

# --- Notifications (notifications/) ----------------------------------------------------
# Outbound webhooks to the reseller's systems: the timeout of one POST, the backoff between
# attempts (doubling from the base, with jitter, up to the maximum) and when to give up.
NOTIFY_WEBHOOK_TIMEOUT_SECONDS = env_float("NOTIFY_WEBHOOK_TIMEOUT_SECONDS", 10)
NOTIFY_WEBHOOK_RETRY_BASE_SECONDS = env_float("NOTIFY_WEBHOOK_RETRY_BASE_SECONDS", 30)
NOTIFY_WEBHOOK_RETRY_MAX_SECONDS = env_float("NOTIFY_WEBHOOK_RETRY_MAX_SECONDS", 3600)
NOTIFY_WEBHOOK_MAX_ATTEMPTS = env_int("NOTIFY_WEBHOOK_MAX_ATTEMPTS", 10)
# The daily digest goes at this hour (TIME_ZONE).
NOTIFY_DIGEST_HOUR = env_int("NOTIFY_DIGEST_HOUR", 7)

# --- e-invoice.be -----------------------------------------------------------------
# The sandbox (python -m sandbox) by default; https://api.e-invoice.be (production) or
# https://api-dev.e-invoice.be (development) for the real service.
EINVOICE_API_BASE_URL = env_str("EINVOICE_API_BASE_URL", "http://127.0.0.1:8765").rstrip("/")
EINVOICE_ORG_API_KEY = env_secret("EINVOICE_ORG_API_KEY", "einv_org_sandbox_demo_key")
EINVOICE_TIMEOUT_SECONDS = env_float("EINVOICE_TIMEOUT_SECONDS", 10.0)

# The organization key's quota, shared by every process (see einvoice/quota.py).
EINVOICE_RATE_PER_MINUTE = env_int("EINVOICE_RATE_PER_MINUTE", 100)
EINVOICE_RATE_PER_HOUR = env_int("EINVOICE_RATE_PER_HOUR", 1000)
# redis://… in production; empty → a SQLite file shared by the processes of this host.
RATE_LIMIT_REDIS_URL = env_str("RATE_LIMIT_REDIS_URL", "")
RATE_LIMIT_SQLITE_PATH = env_str("RATE_LIMIT_SQLITE_PATH", str(VAR_DIR / "ratelimit.sqlite3"))
# >1 runs the same quota faster (benchmarks against a sandbox with the same scale).
RATE_LIMIT_TIME_SCALE = env_float("RATE_LIMIT_TIME_SCALE", 1.0)
# Slack on each window, in the API's seconds (scaled like the windows): calls are counted
# from their answers, so it only covers an API clock that runs a little fast.
RATE_LIMIT_MARGIN_SECONDS = env_float("RATE_LIMIT_MARGIN_SECONDS", 0.25)
RATE_LIMIT_KEY_PREFIX = env_str("RATE_LIMIT_KEY_PREFIX", "peppol-portal-quota")
# How long a web request may wait for quota before telling the user to retry.
EINVOICE_QUOTA_MAX_WAIT = env_float("EINVOICE_QUOTA_MAX_WAIT", 5)
EINVOICE_READ_ATTEMPTS = env_int("EINVOICE_READ_ATTEMPTS", 3)
EINVOICE_RETRY_BACKOFF_SECONDS = env_float("EINVOICE_RETRY_BACKOFF_SECONDS", 0.5)

# The mirror sync takes at most this share of each quota window (a sync of 100 000 tenants
# needs 1 000 calls): the rest stays for onboarding and the screens.
SYNC_QUOTA_SHARE = env_float("SYNC_QUOTA_SHARE", 0.5)

# Background jobs: at most this many in the broker at once; the rest wait as rows.
JOBS_MAX_IN_FLIGHT = env_int("JOBS_MAX_IN_FLIGHT", 4)
# A running job's lease is renewed by its worker; a dead worker's job is taken over after this.
JOBS_LEASE_SECONDS = env_float("JOBS_LEASE_SECONDS", 30)
JOBS_DISPATCH_TIMEOUT_SECONDS = env_float("JOBS_DISPATCH_TIMEOUT_SECONDS", 600)
JOBS_RETRY_BASE_SECONDS = env_float("JOBS_RETRY_BASE_SECONDS", 5)
JOBS_RETRY_MAX_SECONDS = env_float("JOBS_RETRY_MAX_SECONDS", 600)
JOBS_MAX_RETRIES = env_int("JOBS_MAX_RETRIES", 8)
# A run that has not ended after this (a hung step) stops renewing its lease and is handed
# to another worker (never less than the lease).
JOBS_MAX_RUN_SECONDS = env_float("JOBS_MAX_RUN_SECONDS", 900)
KEY_REVEAL_LINK_HOURS = env_float("KEY_REVEAL_LINK_HOURS", 72)
# One-time links by email: an invitation to choose a password, a password reset.
INVITATION_LINK_HOURS = env_float("INVITATION_LINK_HOURS", 72)
PASSWORD_RESET_LINK_HOURS = env_float("PASSWORD_RESET_LINK_HOURS", 2)
PASSWORD_RESET_TIMEOUT = int(PASSWORD_RESET_LINK_HOURS * 3600)

# Peppol preflight and watch (tenants.checks, tenants.watch). Lookups use the tenant API, so
# they need a tenant key the portal holds: this tenant's (by name); empty → the oldest active
# tenant whose current key the portal holds.
PEPPOL_LOOKUP_TENANT = env_str("PEPPOL_LOOKUP_TENANT", "")
# A watch on an ID held elsewhere checks first after this, then doubles the wait up to the
# maximum, and gives up after the limit. All three are divided by RATE_LIMIT_TIME_SCALE.
PEPPOL_WATCH_FIRST_CHECK_SECONDS = env_float("PEPPOL_WATCH_FIRST_CHECK_SECONDS", 900)
PEPPOL_WATCH_MAX_INTERVAL_SECONDS = env_float("PEPPOL_WATCH_MAX_INTERVAL_SECONDS", 86400)
PEPPOL_WATCH_GIVE_UP_DAYS = env_float("PEPPOL_WATCH_GIVE_UP_DAYS", 30)

KEY_ROTATION_DAYS = env_int("KEY_ROTATION_DAYS", 90)
KEY_ROTATION_GRACE_HOURS = env_float("KEY_ROTATION_GRACE_HOURS", 24)

# --- Invoices ---------------------------------------------------------------------------
# A send whose claim is older than this (its worker died) may be claimed again.
INVOICES_SEND_CLAIM_SECONDS = env_float("INVOICES_SEND_CLAIM_SECONDS", 120)
# Documents in transit and inboxes are polled at most this often (webhooks can be lost).
INVOICES_POLL_INTERVAL_SECONDS = env_float("INVOICES_POLL_INTERVAL_SECONDS", 30)
# An inbox sync that has not finished after this is taken over by the next poll.
INVOICES_INBOX_STALE_SECONDS = env_float("INVOICES_INBOX_STALE_SECONDS", 120)
# A tenant whose webhook setup failed is tried again after this.
INVOICES_SETUP_RETRY_SECONDS = env_float("INVOICES_SETUP_RETRY_SECONDS", 60)
# A webhook whose signed timestamp is further than this from our clock is refused.
INVOICES_WEBHOOK_TOLERANCE_SECONDS = env_float("INVOICES_WEBHOOK_TOLERANCE_SECONDS", 300)
# Slack when comparing our clock with e-invoice.be's timestamps on document states.
INVOICES_CLOCK_SKEW_SECONDS = env_float("INVOICES_CLOCK_SKEW_SECONDS", 1.0)
# Outgoing documents carry their PDF (invoices/pdf.py), embedded in the UBL the buyer gets.
INVOICES_ATTACH_PDF = env_bool("INVOICES_ATTACH_PDF", True)


# --- Usage and credit (usage.collect) -------------------------------------------------
# Each tenant's /api/stats and /api/me are read once per period, at a slot of its own spread
# over the period; at most this many tenant API calls a minute (two per tenant) go out.
USAGE_COLLECT_PERIOD_SECONDS = env_float("USAGE_COLLECT_PERIOD_SECONDS", 86400)
USAGE_CALLS_PER_MINUTE = env_int("USAGE_CALLS_PER_MINUTE", 60)
# Days of daily rows kept and charted; a credit alert for a tenant out of credit within N days.
USAGE_HISTORY_DAYS = env_int("USAGE_HISTORY_DAYS", 90)
USAGE_CREDIT_ALERT_DAYS = env_int("USAGE_CREDIT_ALERT_DAYS", 14)
# The rendered usage charts (usage.panels) are cached in each process's memory, in front of
# the database (the dashboard's, usage.RenderedPanel). Their keys are read from the database
# (the newest collection, the number of tenants, the day), so every process shows a new
# collection's figures on its next view and no shared cache server is needed; an entry
# nobody asks for is dropped after the timeout or when full.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "portal",
        "OPTIONS": {"MAX_ENTRIES": 1000},
    }
}


# --- Secrets at rest ------------------------------------------------------------------
def _dev_encryption_key() -> str:
    # Only for DEBUG without FIELD_ENCRYPTION_KEYS: derived from SECRET_KEY so a dev
    # database stays readable across restarts. Production refuses to start without keys.
    digest = hashlib.sha256(("field-encryption:" + SECRET_KEY).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


# The audit chain's HMAC key: a secret outside the database, so whoever can write the
# database cannot re-chain edited rows. Derived from SECRET_KEY unless set.
AUDIT_CHAIN_KEY = (
    env_secret("AUDIT_CHAIN_KEY", "")
    or hashlib.sha256(("audit-chain:" + SECRET_KEY).encode()).hexdigest()
)
# Signed checkpoints of the chain head, one JSON line per append, outside the database:
# verify_audit_log compares them with the table (a truncated or rewritten tail shows).
AUDIT_CHECKPOINT_FILE = env_str("AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit-checkpoints.jsonl"))

FIELD_ENCRYPTION_KEYS = [k for k in env_secret("FIELD_ENCRYPTION_KEYS", "").split(",") if k.strip()]
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is required when DEBUG is off")
    FIELD_ENCRYPTION_KEYS = [_dev_encryption_key()]

# --- Celery -----------------------------------------------------------------------------
# Default broker needs no server: kombu's filesystem transport in var/broker.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_broker_dir = Path(env_str("CELERY_BROKER_DIR", str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem"):
    # kombu's own filesystem transport can read a half-written message file, lose it and
    # stop the worker; ours writes under a hidden name and renames into place.
    CELERY_BROKER_TRANSPORT = "jobs.broker:Transport"
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
# Celery's Django fixup closes every database connection after each task unless this is set
# (then only every 2 × this many tasks): a new PostgreSQL connection, and a new server process
# with cold caches, for every job step. portal.celery keeps Django's own policy instead
# (CONN_MAX_AGE, health checks) around each task, as Django does around each request.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
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
    # Jobs without API calls (notifications, webhook deliveries, a batch's invitations):
    # due retries, lost messages, dead runs. Then the daily notification digest.
    "jobs-sweep-local": {
        "task": "core.tasks.sweep_local_jobs",
        "schedule": 10.0,
        "options": {"expires": 10},
    },
    "notifications-credit": {
        "task": "notifications.tasks.check_credit",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    "notifications-digest": {
        "task": "notifications.tasks.send_digests",
        "schedule": crontab(hour=NOTIFY_DIGEST_HOUR, minute=0),
        "options": {"expires": 3600},
    },
    "notifications-digest-resume": {
        "task": "notifications.tasks.resume_digests",
        "schedule": 300.0,
        "options": {"expires": 300},
    },
    # Each tenant's usage and credit, at its slot of the day (usage.collect).
    "usage-collect": {
        "task": "usage.tasks.collect_due",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "mirror-reconcile": {
        "task": "tenants.tasks.reconcile_mirror",
        "schedule": crontab(hour=3, minute=17),
        "options": {"expires": 3600},
    },
    "mirror-reconcile-resume": {
        "task": "tenants.tasks.resume_reconcile",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
}
CELERY_TIMEZONE = TIME_ZONE

# --- Content-Security-Policy (django-csp) ----------------------------------------------
# Only our own static scripts and styles run: no inline code, no eval (htmx's indicator
# style is ours too, see the htmx-config meta tag in base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Logging: secrets are masked on every handler ------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_secrets": {"()": "core.logfilter.MaskSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["mask_secrets"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Without its own console handler: the root's prints each django.* record once.
        "django": {"handlers": [], "level": LOG_LEVEL},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

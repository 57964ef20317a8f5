"""Shared fixtures: named personas, the sandbox, and a headless Chromium.

Personas (healthchecks style): Alice is a reseller admin, Otto an operator, and Carol a
customer user of the tenant "acme". Bob is a customer of another tenant, "globex".
"""

import os
import re
import uuid
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import settings as hypothesis_settings

from accounts.models import Role, User
from core import checkpoint, triggers
from einvoice import quota as ratelimit
from tenants.models import Tenant

# Playwright's sync API runs an event loop in the test thread; Django's ORM must still work.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Worker processes the tests start write no audit checkpoints into the project's var/.
os.environ.setdefault("AUDIT_CHECKPOINT_FILE", "")

pytest_plugins = ["sandbox.pytest_plugin"]

# Property tests (fuzzed forms, Schemathesis, EN 16931 rules) try the same examples on every run,
# so a CI run judges the code, not the luck of the draw. `HYPOTHESIS_PROFILE=explore bin/test
# tests/test_fuzz_inputs.py` draws fresh random inputs on each run: run it a few times after
# changing a form or a filter, and keep what it finds as an explicit example.
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

PASSWORD = "correct horse battery staple"  # noqa: S105 - test persona password
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def after_commit_tasks(callbacks: list) -> list:
    """The on-commit callbacks that start work (the audit log's checkpoint writes left out)."""
    return [c for c in callbacks if getattr(c, "func", None) is not checkpoint.write]


def make_tenant(name: str, description: str, cbe: str) -> Tenant:
    """A mirrored Belgian tenant: VAT number and Peppol ID follow from its CBE number."""
    return Tenant.objects.create(
        remote_id=f"tenant_{name}",
        name=name,
        description=description,
        company_number=cbe,
        company_tax_id=f"BE{cbe}",
        peppol_id=f"0208:{cbe}",
    )


@pytest.fixture
def acme(db) -> Tenant:
    return make_tenant("acme", "Acme BV", "0403170701")


@pytest.fixture
def globex(db) -> Tenant:
    return make_tenant("globex", "Globex NV", "0417497106")


def make_user(username: str, role: str, tenant: Tenant | None = None) -> User:
    return User.objects.create_user(
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
        role=role,
        tenant=tenant,
    )


@pytest.fixture
def alice(db) -> User:
    return make_user("alice", Role.ADMIN)


@pytest.fixture
def otto(db) -> User:
    return make_user("otto", Role.OPERATOR)


@pytest.fixture
def carol(acme) -> User:
    return make_user("carol", Role.CUSTOMER, acme)


@pytest.fixture
def bob(globex) -> User:
    return make_user("bob", Role.CUSTOMER, globex)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    # A file, not :memory:, for SQLite: the live server's threads then get connections of
    # their own instead of sharing (and interleaving transactions on) the test's one.
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def audit_triggers_let_test_flush_through():
    """Between transactional tests pytest-django empties every table, with DELETE on SQLite
    (PostgreSQL's TRUNCATE passes row triggers by): drop the audit log's append-only triggers
    first; the post_migrate signal that flush sends puts them back."""
    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    DatabaseOperations = type(connection.ops)
    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = original(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        return [f"DROP TRIGGER IF EXISTS {name}" for name in triggers.SQLITE_TRIGGERS] + statements

    with mock.patch.object(DatabaseOperations, "sql_flush", sql_flush):
        yield


@pytest.fixture(autouse=True)
def own_audit_checkpoints(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "audit-checkpoints.jsonl")


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: what a page cached (usage.panels' charts) was
    keyed by rows that the previous test's rollback removed, and may be keyed alike again."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: code run outside a request (a form, a
    validator) reads the thread's active language, which a previous test may have left."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Real hashing dominates persona setup; the tests are not about hash strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def own_quota(settings, tmp_path):
    """Each test gets its own API quota store: test runs on one machine share var/."""
    settings.RATE_LIMIT_SQLITE_PATH = str(tmp_path / "quota.sqlite3")
    settings.RATE_LIMIT_KEY_PREFIX = f"test-quota-{uuid.uuid4().hex}"
    settings.EINVOICE_RETRY_BACKOFF_SECONDS = 0
    yield
    ratelimit.reset()


@pytest.fixture
def portal_on_sandbox(sandbox, settings):
    """Point the portal's API clients at this test's (freshly reset) sandbox."""
    settings.EINVOICE_API_BASE_URL = sandbox.url
    settings.EINVOICE_ORG_API_KEY = sandbox.org_key
    return sandbox


# --- Browser journeys ---------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (bin/test does)")
    from playwright.sync_api import expect, sync_playwright

    # Waits end as soon as the page is ready; the long ceiling only matters on a loaded machine.
    expect.set_options(timeout=20_000)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


@pytest.fixture
def screenshot(page, request):
    """screenshot("step") writes artifacts/screenshots/<test>-<step>.png (gitignored)."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(step: str) -> Path:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
        path = folder / f"{name}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def login(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    # Enter submits the login form itself (with JS off the language switcher has a button too).
    page.press("input[name=password]", "Enter")
    # Done once the browser has left the login page: a click or a language switch made while
    # the login answer is still on its way would land on the login page instead.
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def log_out(page) -> None:
    """Log out as a person does: open the account menu in the top bar, click "Log out"."""
    page.click("details.account-menu > summary")
    page.click("details.account-menu >> text=Log out")
    page.wait_for_url("**/accounts/login/**")


@pytest.fixture(autouse=True)
def password_resets_sent_inline():
    """The worker's part of "Forgot password?" runs at once, as an eager worker would."""
    from accounts import tasks

    with mock.patch.object(
        tasks.send_password_reset, "delay", side_effect=tasks.send_password_reset
    ) as queued:
        yield queued


@pytest.fixture(autouse=True)
def no_local_job_messages():
    """Local jobs (jobs.local: events, webhook deliveries, a batch's invitations) are rows
    the tests drive themselves; no test sends their messages to the project's broker."""
    from notifications import tasks
    from tenants import tasks as tenant_tasks

    with (
        mock.patch.object(tasks.run_event, "delay"),
        mock.patch.object(tasks.run_delivery, "delay"),
        mock.patch.object(tenant_tasks.run_handover, "delay"),
    ):
        yield

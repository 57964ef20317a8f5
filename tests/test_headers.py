"""Headers, sessions, throttling and error pages (issue 11 items 7 and 10)."""

import logging
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.conftest import PASSWORD, login

ROOT = Path(__file__).resolve().parent.parent


def test_it_sends_a_content_security_policy_without_inline_code(client):
    policy = client.get(reverse("login"))["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy


def test_it_ends_staff_sessions_after_staff_session_hours(client, alice, carol, settings):
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert 0 < client.session.get_expiry_age() <= settings.STAFF_SESSION_HOURS * 3600
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": "carol", "password": PASSWORD})
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert settings.SESSION_COOKIE_AGE > settings.STAFF_SESSION_HOURS * 3600


def test_it_locks_an_ip_that_sprays_passwords_across_usernames(client, otto, settings):
    # Each username fails fewer times than its own limit; the IP's own limit still holds.
    for i in range(settings.AXES_IP_FAILURE_LIMIT):
        r = client.post(reverse("login"), {"username": f"user{i}", "password": "wrong"})
    assert r.status_code == 429
    r = client.post(reverse("login"), {"username": "otto", "password": PASSWORD})
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_still_lets_other_ips_in_after_a_spray(client, otto, settings):
    for i in range(settings.AXES_IP_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": f"user{i}", "password": "wrong"})
    r = client.post(
        reverse("login"), {"username": "otto", "password": PASSWORD}, REMOTE_ADDR="10.0.0.7"
    )
    assert r.status_code == 302


@pytest.mark.parametrize("debug", [True, False])
def test_it_shows_our_404_page_for_a_missing_id_in_debug_too(client, alice, settings, debug):
    settings.DEBUG = debug
    client.force_login(alice)
    r = client.get(reverse("tenants:tenant_detail", args=[999999]))
    assert r.status_code == 404
    assert b"There is nothing here" in r.content
    assert b"URLconf" not in r.content


def test_it_logs_a_403_once_without_a_traceback(client, carol, caplog):
    client.force_login(carol)
    with caplog.at_level(logging.WARNING):
        r = client.get(reverse("tenants:dashboard"))
    assert r.status_code == 403
    forbidden = [rec for rec in caplog.records if "Forbidden" in rec.getMessage()]
    assert len(forbidden) == 1
    assert forbidden[0].levelno == logging.WARNING and forbidden[0].exc_info is None


def test_it_links_a_favicon_that_exists(client, alice):
    client.force_login(alice)
    assert (
        b'rel="icon" href="/static/favicon.svg"' in client.get(reverse("tenants:dashboard")).content
    )
    assert finders.find("favicon.svg")


def test_it_documents_the_session_and_throttling_settings():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    for name in ("STAFF_SESSION_HOURS", "CUSTOMER_SESSION_DAYS", "AXES_IP_FAILURE_LIMIT"):
        assert f"`{name}`" in readme and f"\n{name}=" in example, name
    assert "`PORT`" in readme and "`SANDBOX_PORT`" in readme


# --- In the browser: no CSP violation, no htmx error, on the main pages ----------------------
def console_problems(page) -> list[str]:
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" or "oobErrorNoTarget" in m.text else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


STAFF_PAGES = ["/staff/", "/staff/tenants/", "/staff/onboard/", "/staff/onboard/csv/",
               "/staff/jobs/", "/staff/sync/", "/staff/audit/", "/staff/tenants/new/"]  # fmt: skip


@pytest.mark.browser
def test_it_runs_the_staff_pages_under_the_policy_without_a_console_error(page, alice, acme):
    problems = console_problems(page)
    login(page, "alice")
    page.wait_for_url("**/staff/")
    for path in STAFF_PAGES:
        page.goto(path)
        page.wait_for_load_state("networkidle")
    # The language switcher submits itself (an inline onchange would be refused).
    with page.expect_navigation():
        page.select_option("#language", "fr")
    assert page.get_attribute("html", "lang") == "fr"
    # A live filter (htmx) still answers.
    page.goto("/staff/tenants/")
    with page.expect_response(
        lambda r: "/staff/tenants/" in r.url and r.request.headers.get("hx-request")
    ):
        page.fill("input[name=q]", "acme")
    assert problems == []


@pytest.mark.browser
def test_it_adds_and_removes_invoice_lines_without_a_console_error(page, carol):
    problems = console_problems(page)
    login(page, "carol")
    page.wait_for_url("**/invoices/")
    page.goto("/invoices/new/invoice/")
    page.fill("input[name='lines-0-quantity']", "2")
    page.fill("input[name='lines-0-unit_price']", "10")
    for count in (2, 3):
        page.click("#add-line")
        page.wait_for_selector(f"#editor-rows tr.line >> nth={count - 1}")
        page.fill(f"input[name='lines-{count - 1}-quantity']", "1")
        page.fill(f"input[name='lines-{count - 1}-unit_price']", "5")
    page.click("button[value='remove_line-2']")
    page.wait_for_function("() => document.querySelectorAll('#editor-rows tr.line').length === 2")
    page.locator("[data-total='lines']").filter(has_text="25.00").wait_for()
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#line-amount-1").strip() == "5.00"
    assert problems == []

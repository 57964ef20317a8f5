"""Browser journeys: an invitee chooses a password; someone who forgot theirs resets it."""

import re

import pytest
from django.core import mail

from accounts import invitations
from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEW_PASSWORD = "a fresh and long pass phrase"  # noqa: S105 - test password


def emailed_path() -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body).group(1)


def test_it_accepts_an_invitation_in_a_browser(page, screenshot, alice, acme):
    from playwright.sync_api import expect

    invitations.invite(acme, "dora@example.com", "en", by=alice)
    page.goto(emailed_path())
    expect(page.locator("h1")).to_have_text("Welcome")
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    screenshot("invitation")
    page.get_by_role("button", name="Set password and log in").click()
    page.wait_for_url("**/invoices/**")
    expect(page.locator(".who")).to_contain_text("acme")


def test_it_resets_a_forgotten_password_in_a_browser(page, screenshot, carol):
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot password?").click()
    page.fill("input[name=email]", carol.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("h1")).to_have_text("Check your email")
    page.goto(emailed_path())
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("h1")).to_have_text("Password set")
    screenshot("reset-done")
    login(page, "carol", NEW_PASSWORD)
    page.wait_for_url("**/invoices/**")

"""Browser journey: each role logs in and lands on its home page."""

import pytest

from tests.conftest import log_out, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("persona", "path", "heading"),
    [
        ("alice", "/staff/", "Dashboard"),
        ("otto", "/staff/", "Dashboard"),
        ("carol", "/invoices/", "Documents"),
    ],
)
def test_it_lands_each_role_on_its_home(page, screenshot, request, persona, path, heading):
    request.getfixturevalue(persona)
    login(page, persona)
    page.wait_for_url(f"**{path}")
    assert page.locator("h1").first.inner_text().startswith(heading)
    screenshot("home")
    log_out(page)
    page.wait_for_url("**/accounts/login/")

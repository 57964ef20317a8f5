"""Markup that assistive technology relies on and axe cannot judge alone (issue 17): the
current page in the navigation, help and error texts linked to their inputs, the live
checks' errors linked as they appear."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.conftest import login

NAV = re.compile(r'<nav aria-label="Main">(.*?)</nav>', re.S)


def nav_of(response) -> str:
    return NAV.search(response.content.decode())[1]


def test_it_marks_the_current_page_and_section_in_the_navigation(client, alice, acme):
    client.force_login(alice)
    nav = nav_of(client.get(reverse("tenants:tenant_list")))
    assert f'<a href="{reverse("tenants:tenant_list")}" aria-current="page">' in nav
    assert nav.count("aria-current") == 1
    nav = nav_of(client.get(reverse("tenants:tenant_detail", args=[acme.pk])))
    assert f'<a href="{reverse("tenants:tenant_list")}" aria-current="true">' in nav
    assert 'aria-current="page"' not in nav
    nav = nav_of(client.get(reverse("tenants:dashboard")))
    assert nav.count("aria-current") == 1  # the dashboard only, not every /staff/ page


def test_it_gives_help_and_errors_the_ids_their_inputs_point_at(client, alice):
    client.force_login(alice)
    page = client.post(
        reverse("tenants:tenant_create"),
        {"description": "Acme BV", "company_number": "0403.170.702"},
    ).content
    page = page.decode()
    for described in re.findall(r'aria-describedby="([^"]+)"', page):
        for target in described.split():
            assert f'id="{target}"' in page, f"aria-describedby names a missing id: {target}"
    assert 'aria-describedby="id_company_number_helptext id_company_number_error"' in page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_links_a_live_error_to_its_input_as_it_appears(page, api, alice):
    login(page, "alice")
    page.wait_for_url("**/staff/")
    page.goto("/staff/tenants/new/")
    page.fill("#id_description", "Acme BV")
    page.fill("#id_company_number", "0403.170.702")
    page.press("#id_company_number", "Tab")
    page.locator("#id_company_number_error .error").wait_for()
    number = page.locator("#id_company_number")
    # The input is marked on htmx:afterSettle, a moment after the swap: expect() waits.
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(number).to_have_attribute(
        "aria-describedby", "id_company_number_helptext id_company_number_error"
    )
    page.fill("#id_company_number", "0403.170.701")
    page.press("#id_company_number", "Tab")
    page.locator("#id_company_number_error").wait_for(state="detached")
    expect(number).not_to_have_attribute("aria-invalid", re.compile(".*"))
    expect(number).to_have_attribute("aria-describedby", "id_company_number_helptext")

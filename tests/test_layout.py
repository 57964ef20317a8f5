"""Layout with long tokens, in French, at 390 px and 1366 px (issue 11 item 11).

A 100-character tenant name, a long Peppol ID and audit times must wrap inside their column
(or scroll inside their table's box), never widen the page past the header bar; the French
header wraps inside its bar (no item past its edge). Screenshots land in artifacts/screenshots/.
"""

import pytest

from core import audit
from tenants.models import Tenant
from tests.conftest import login

LONG_NAME = "Etablissements-Généraux-de-Boulangerie-et-Pâtisserie-Artisanale-du-Brabant-Wallon-et-Environs-SRL"

MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const bar = document.querySelector(".topbar");
  const wide = [...document.querySelectorAll("body *")].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.right > width + 1 && !el.closest(".table-wrap");
  });
  return {
    width, scroll: document.documentElement.scrollWidth,
    barScroll: bar.scrollWidth, barWidth: bar.clientWidth,
    wide: wide.slice(0, 3).map((el) => el.outerHTML.slice(0, 120)),
  };
}"""


@pytest.fixture
def long_tenant(alice) -> Tenant:
    tenant = Tenant.objects.create(
        name=LONG_NAME[:100],
        description=LONG_NAME,
        remote_id="tnt_" + "x" * 40,
        peppol_id="0208:" + "9" * 50,
        company_tax_id="BE0706165839",
    )
    for i in range(3):
        audit.record(
            "tenant.update", tenant=tenant, user=alice, target="0208:" + "9" * 50,
            changes={"description": [LONG_NAME, LONG_NAME[::-1]], "n": [i, i + 1]},
        )  # fmt: skip
    return tenant


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1366])
def test_it_keeps_long_tokens_inside_the_page_in_french(
    page, screenshot, alice, long_tenant, width
):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, "alice")
    page.wait_for_url("**/staff/")
    with page.expect_navigation():
        page.select_option("#language", "fr")
    pages = {
        "dashboard": "/staff/",
        "tenants": "/staff/tenants/",
        "tenant": f"/staff/tenants/{long_tenant.pk}/",
        "audit": "/staff/audit/",
        "jobs": "/staff/jobs/",
    }
    for name, path in pages.items():
        page.goto(path)
        assert page.get_attribute("html", "lang") == "fr"
        m = page.evaluate(MEASURE)
        screenshot(f"{width}-{name}")
        assert m["scroll"] <= m["width"], (name, m)
        assert m["barScroll"] <= m["barWidth"], (name, m)


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["nl", "fr"])
@pytest.mark.parametrize("persona", ["alice", "carol"])
def test_it_keeps_the_top_bar_on_one_row_at_1366_px(page, request, screenshot, persona, lang):
    """Staff and customers alike: the translated bar used to take a second row (twice as tall)."""
    request.getfixturevalue(persona)
    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, persona)
    with page.expect_navigation():
        page.select_option("#language", lang)
    one_row = page.locator(".brand").bounding_box()["height"] + 30
    assert page.locator(".topbar").bounding_box()["height"] < one_row
    # The account's links are one click away, in the menu under the user's name.
    page.click("details.account-menu > summary")
    expect = {"nl": "Afmelden", "fr": "Se déconnecter"}[lang]
    assert page.get_by_role("button", name=expect).is_visible()
    screenshot(f"{persona}-{lang}-account-menu")
    page.keyboard.press("Escape")
    assert not page.get_by_role("button", name=expect).is_visible()

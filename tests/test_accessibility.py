"""Accessibility journeys (issue 17): axe-core on every staff and customer page at 1280 px,
320 px and 200 % zoom, with no sideways scroll; the screenshots land in artifacts/a11y/.

One browser, one set of data, each page visited once per window size. The data is made the
way people make it (through the views), so the pages show real content: a tenant with keys,
a customer login and a rotation, an onboarding job, a checked CSV batch, a drift report, the
audit trail, a sent invoice and a draft.
"""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Error as PlaywrightError

from invoices.models import Document
from tenants.models import ApiKey, Tenant
from tenants.models.jobs import BulkOnboarding, OnboardingJob, ReconcileReport
from tests.a11y import VIEWPORTS, audit
from tests.conftest import ARTIFACTS, PASSWORD, login, make_tenant
from tests.invoices.conftest import BUYER, SELLER, editor_post, line, on_sandbox
from tests.tenants.jobs.conftest import customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS / "a11y"
TASKS = ("dispatch_jobs", "run_onboarding", "run_rotation", "reconcile_mirror")


@pytest.fixture
def no_broker():
    """Jobs are started but not sent to the project's broker: their pages show them queued."""
    from tenants import tasks

    patches = [mock.patch.object(getattr(tasks, n), "delay") for n in TASKS]
    for p in patches:
        p.start()
    yield
    for p in patches:
        p.stop()


def _staff_data(admin: Client, acme: Tenant) -> dict[str, str]:
    """Pages with content: keys, a customer login, a rotation, a job, a CSV batch, a drift."""
    admin.post(reverse("tenants:key_create", args=[acme.pk]), {"name": "production"})
    key = ApiKey.objects.filter(tenant=acme).latest("pk")
    admin.post(
        reverse("tenants:user_create", args=[acme.pk]),
        {"username": "dora", "email": "dora@example.com", "password1": PASSWORD + "!"}
        | {"password2": PASSWORD + "!"},
    )
    admin.post(reverse("tenants:rotate_now", args=[acme.pk]))
    data = customer(1)
    admin.post(reverse("tenants:onboard"), {k: data[k] for k in ("description", "company_number")})
    job = OnboardingJob.objects.latest("pk")
    good = customer(2)
    csv = (
        "company_name,name,country,company_number,vat_number,peppol_id\n"
        f"Good BV,good-bv,BE,{good['company_number']},{good['company_tax_id']},\n"
        "Typo BV,typo-bv,BE,0403170702,,\n"
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin.post(
        reverse("tenants:bulk_upload"),
        {"file": SimpleUploadedFile("customers.csv", csv.encode(), "text/csv")},
    )
    batch = BulkOnboarding.objects.latest("pk")
    ghost = make_tenant("ghost", "Ghost BV", "0417497106")  # only in the portal: a drift row
    admin.post(reverse("tenants:sync_run"))
    from tenants import reconcile

    reconcile.run(ReconcileReport.objects.latest("pk").pk)
    # A bulk action's dry run (one tenant skipped, with its reason) and one that ran.
    preview = admin.post(
        reverse("tenants:bulk_preview"), {"action": "register", "tenant": [acme.pk, ghost.pk]}
    )
    ran = admin.post(
        reverse("tenants:bulk_preview"),
        {"action": "policy", "tenant": [acme.pk]} | {"rotation_days": "30"},
    )
    admin.post(ran["Location"] + "run/")
    return {
        "key": str(key.pk),
        "job": str(job.pk),
        "batch": str(batch.pk),
        "bulk_preview": preview["Location"],
        "bulk_ran": ran["Location"],
    }


def _customer_data(carol: Client) -> dict[str, str]:
    new = reverse("invoices:new_invoice")
    carol.post(new, editor_post([line()], action="save", invoice_id="INV-A11Y-1"))
    carol.post(new, editor_post([line()], action="send", invoice_id="INV-A11Y-2"))
    return {
        "draft": str(Document.objects.get(invoice_id="INV-A11Y-1").pk),
        "sent": str(Document.objects.get(invoice_id="INV-A11Y-2").pk),
    }


def staff_pages(acme: Tenant, ids: dict[str, str]) -> list[tuple[str, str]]:
    t = acme.pk
    return [
        ("dashboard", "/staff/"),
        ("tenant-list", "/staff/tenants/?q=a"),
        ("tenant-new", "/staff/tenants/new/"),
        ("tenant-detail", f"/staff/tenants/{t}/"),
        ("tenant-edit", f"/staff/tenants/{t}/edit/"),
        ("tenant-delete", f"/staff/tenants/{t}/delete/"),
        ("key-new", f"/staff/tenants/{t}/keys/new/"),
        ("key-reveal", f"/staff/keys/{ids['key']}/reveal/"),
        ("key-edit", f"/staff/keys/{ids['key']}/edit/"),
        ("key-revoke", f"/staff/keys/{ids['key']}/revoke/"),
        ("peppol-register", f"/staff/tenants/{t}/peppol/register/"),
        ("peppol-unregister", f"/staff/tenants/{t}/peppol/unregister/"),
        ("user-new", f"/staff/tenants/{t}/users/new/"),
        ("tenant-rotation", f"/staff/tenants/{t}/rotation/"),
        ("rotations", "/staff/rotations/"),
        ("onboard", "/staff/onboard/"),
        ("job", f"/staff/jobs/{ids['job']}/"),
        ("jobs", "/staff/jobs/"),
        ("csv-upload", "/staff/onboard/csv/"),
        ("csv-batch", f"/staff/onboard/csv/{ids['batch']}/"),
        ("csv-history", "/staff/onboard/csv/history/"),
        ("csv-corrections", f"/staff/onboard/csv/{ids['batch']}/corrections/?form=1"),
        ("bulk-preview", ids["bulk_preview"]),
        ("bulk-ran", ids["bulk_ran"]),
        ("bulk-actions", "/staff/tenants/bulk/history/"),
        ("sync", "/staff/sync/"),
        ("audit", "/staff/audit/"),
        ("staff-documents", f"/invoices/tenant/{t}/"),
        ("staff-document", f"/invoices/tenant/{t}/{ids['sent']}/"),
        ("staff-document-view", f"/invoices/tenant/{t}/{ids['sent']}/document/"),
        ("notifications", "/staff/notifications/"),
        ("webhook-endpoints", "/staff/notifications/webhooks/"),
        ("webhook-deliveries", "/staff/notifications/deliveries/"),
        ("password", "/accounts/password/"),
        ("password-done", "/accounts/password/done/"),
        ("2fa-setup", "/accounts/two-factor/setup/"),
        ("2fa-verify", "/accounts/two-factor/verify/"),
        ("404", "/no-such-page/"),
    ]


def customer_pages(ids: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("documents", "/invoices/"),
        ("inbox", "/invoices/inbox/"),
        ("new-invoice", "/invoices/new/invoice/"),
        ("new-credit-note", "/invoices/new/credit-note/"),
        ("draft", f"/invoices/{ids['draft']}/"),
        ("sent", f"/invoices/{ids['sent']}/"),
        ("document-view", f"/invoices/{ids['sent']}/document/"),
        ("draft-document-view", f"/invoices/{ids['draft']}/document/"),
        ("archive", "/invoices/archive/"),
        ("archive-error", "/invoices/archive/?date_from=2026-11-30&date_to=2026-11-01&format=csv"),
        ("notifications", "/notifications/"),
        ("key-reveal-gone", "/keys/reveal/no-such-token/"),
        ("403", "/staff/"),
    ]


def _visit(page, name: str, url: str, size: str, findings: list) -> None:
    try:
        page.goto(url)
    except PlaywrightError:  # a poll of the previous page may abort the first navigation
        page.goto(url)
    try:
        findings += audit(page, f"{size} {name}")
    except PlaywrightError as e:
        raise AssertionError(f"{size} {name} ({url}) went to {page.url} during the audit") from e
    page.screenshot(path=str(SHOTS / f"{size}-{name}.png"), full_page=True)


def _anonymous(context, size: str, findings: list) -> None:
    page = context.new_page()
    _visit(page, "login", "/accounts/login/", size, findings)
    # The login form with its errors, then the lock-out page (a throwaway username).
    page.fill("input[name=username]", "mallory")
    page.fill("input[name=password]", "wrong")
    page.press("input[name=password]", "Enter")
    page.wait_for_load_state()
    findings += audit(page, f"{size} login-error")
    for _ in range(6):
        if "Too many failed logins" in page.inner_text("h1"):
            break
        page.fill("input[name=username]", "mallory")
        page.fill("input[name=password]", "wrong")
        page.press("input[name=password]", "Enter")
        page.wait_for_load_state()
    findings += audit(page, f"{size} locked-out")
    page.screenshot(path=str(SHOTS / f"{size}-locked-out.png"), full_page=True)
    # The 500 page is served by Django's handler without a request context: render it as is.
    html = render_to_string("500.html")
    page.route(
        "**/server-error-page/", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    _visit(page, "500", "/server-error-page/", size, findings)


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_it_passes_axe_on_every_page(
    browser, live_server, portal_on_sandbox, no_broker, alice, carol, acme, globex, size
):
    on_sandbox(portal_on_sandbox, acme, SELLER)
    on_sandbox(portal_on_sandbox, globex, BUYER)
    admin, shopper = Client(), Client()
    admin.force_login(alice)
    shopper.force_login(carol)
    ids = _staff_data(admin, acme) | _customer_data(shopper)
    SHOTS.mkdir(parents=True, exist_ok=True)

    findings: list = []
    for persona, pages in (
        (None, []),
        ("alice", staff_pages(acme, ids)),
        ("carol", customer_pages(ids)),
    ):
        context = browser.new_context(base_url=live_server.url, **VIEWPORTS[size])
        context.set_default_timeout(20_000)
        try:
            if persona is None:
                _anonymous(context, size, findings)
                continue
            page = context.new_page()
            login(page, persona)
            page.wait_for_url(re.compile(r".*/(staff|invoices)/$"))
            for name, url in pages:
                _visit(page, name, url, size, findings)
        finally:
            context.close()
    assert not findings, f"{len(findings)} findings:\n" + "\n".join(map(str, findings))

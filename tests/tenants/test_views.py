"""The staff screens against the sandbox: what staff see and what each action leaves behind."""

import csv
import io
import json
import logging
import re

import httpx
import pytest
from django.db import connection
from django.urls import reverse

from accounts.models import User
from core import audit
from core.models import AuditEntry
from einvoice import admin as admin_api
from einvoice import http
from tenants import keys, mirror, peppol
from tenants.models import ApiKey, PeppolRegistration, Tenant
from tests.conftest import PASSWORD
from tests.tenants.conftest import remote, requests_to

BAKKERIJ = {
    "name": "bakkerij-van-damme",
    "description": "Bakkerij Van Damme BV",
    "country": "",
    "company_number": "0706165839",
    "company_tax_id": "BE0706165839",
    "peppol_id": "0208:0706165839",
}


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def as_otto(client, otto):
    client.force_login(otto)
    return client


@pytest.fixture
def bakkerij(api, alice):
    return mirror.create_tenant(BAKKERIJ, alice)


def _errors(response, field):
    return [str(e) for e in response.context["form"].errors.get(field, [])]


# --- permissions ----------------------------------------------------------------------
ADMIN_ONLY = [
    ("tenants:tenant_delete", "tenant"),
    ("tenants:peppol_unregister", "tenant"),
    ("tenants:user_create", "tenant"),
    ("tenants:api_key_reveal", "key"),
    ("tenants:key_revoke", "key"),
]


@pytest.mark.parametrize(("url_name", "obj"), ADMIN_ONLY)
def test_operators_cannot_reveal_revoke_delete_or_add_logins(as_otto, acme, url_name, obj):
    key = ApiKey.objects.create(tenant=acme, remote_id="key_1", name="k", is_current=True)
    pk = acme.pk if obj == "tenant" else key.pk
    assert as_otto.get(reverse(url_name, args=[pk])).status_code == 403
    assert as_otto.post(reverse(url_name, args=[pk])).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "/staff/",
        "/staff/tenants/",
        "/staff/tenants/new/",
        "/staff/audit/",
        "/staff/audit/export.csv",
    ],
)
def test_customers_get_403_on_staff_pages(client, carol, url):
    client.force_login(carol)
    assert client.get(url).status_code == 403


def test_customers_get_403_on_a_tenant_page_even_their_own(client, carol, acme):
    client.force_login(carol)
    assert client.get(reverse("tenants:tenant_detail", args=[acme.pk])).status_code == 403
    assert client.post(reverse("tenants:tenant_refresh", args=[acme.pk])).status_code == 403


def test_operators_see_no_admin_buttons(as_otto, acme):
    ApiKey.objects.create(
        tenant=acme, remote_id="key_1", name="k", is_current=True, encrypted_value="x"
    )
    page = as_otto.get(reverse("tenants:tenant_detail", args=[acme.pk])).content.decode()
    assert "Revoke" not in page and "Reveal once" not in page and ">Delete<" not in page


# --- dashboard and list ---------------------------------------------------------------
def test_dashboard_counts_link_to_the_filtered_list(as_alice, acme, globex):
    PeppolRegistration.objects.create(tenant=acme, registered=True, peppol_id=acme.peppol_id)
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(days=120)
    ApiKey.objects.create(tenant=globex, remote_id="k1", name="k", is_current=True, created_at=old)
    Tenant.objects.create(remote_id="t_del", name="gone", is_deleted=True)
    response = as_alice.get(reverse("tenants:dashboard"))
    stats = {str(label): (n, url) for label, n, url in response.context["stats"]}
    needs = {str(label): (n, url) for label, n, url in response.context["needs"]}
    assert stats["Tenants"] == (2, "/staff/tenants/")
    assert stats["Registered on Peppol"] == (1, "/staff/tenants/?peppol=registered")
    assert needs["Keys overdue for rotation"] == (1, "/staff/tenants/?due=on")
    listed = as_alice.get(needs["Keys overdue for rotation"][1])
    assert [t.name for t in listed.context["page"].object_list] == ["globex"]
    assert as_alice.get(stats["Registered on Peppol"][1]).context["page"].count == 1


def test_dashboard_counts_failed_jobs_and_links_to_them(as_alice, acme):
    from tenants.models import KeyRotation, OnboardingJob

    OnboardingJob.objects.create(name="a", state="failed")
    OnboardingJob.objects.create(name="b", state="succeeded")
    KeyRotation.objects.create(tenant=acme, state="failed")
    response = as_alice.get(reverse("tenants:dashboard"))
    assert response.context["failed_jobs"] == 2
    assert response.context["failed_jobs_url"] == reverse("tenants:jobs") + "?state=failed"
    assert 'href="/staff/jobs/?state=failed"' in response.content.decode()


def test_the_list_searches_name_vat_cbe_and_peppol_id(as_alice, acme, globex):
    def names(**params):
        response = as_alice.get(reverse("tenants:tenant_list"), params)
        return [t.name for t in response.context["page"].object_list]

    assert names(q="glob") == ["globex"]
    assert names(q="BE0403170701") == ["acme"]
    assert names(q="0417.497.106") == ["globex"]
    assert names(q="0208:0403170701") == ["acme"]
    assert names(sort="-name") == ["globex", "acme"]
    Tenant.objects.filter(pk=acme.pk).update(test_mode=True)
    assert names(test_mode="test") == ["acme"]
    Tenant.objects.filter(pk=globex.pk).update(is_deleted=True)
    assert names() == ["acme"] and names(deleted="only") == ["globex"]


def test_htmx_filtering_returns_only_the_results(as_alice, acme):
    response = as_alice.get(
        reverse("tenants:tenant_list"),
        {"q": "acme"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="tenant-results",
    )
    body = response.content.decode()
    assert "acme" in body and "<html" not in body


def test_it_shows_the_filters_chosen_in_the_language_of_the_reader(as_alice, acme, globex):
    # The filter form and the bulk bar are cached fragments: per filter and language.
    url = reverse("tenants:tenant_list")
    assert '<option value="-name" selected>' not in as_alice.get(url).content.decode()
    chosen = as_alice.get(url, {"sort": "-name"}).content.decode()
    assert '<option value="-name" selected>Name Z–A</option>' in chosen
    assert '<option value="-name" selected>' not in as_alice.get(url).content.decode()
    as_alice.cookies["django_language"] = "nl"
    dutch = as_alice.get(url).content.decode()
    assert "Kies een actie…" in dutch and "Choose an action…" not in dutch
    assert 'aria-label="acme kiezen"' in dutch


def test_it_shows_each_tenants_peppol_registration_in_its_row(as_alice, acme, globex):
    PeppolRegistration.objects.create(tenant=acme, registered=True, peppol_id=acme.peppol_id)
    PeppolRegistration.objects.create(tenant=globex, state="held_elsewhere")
    Tenant.objects.create(remote_id="t_new", name="newco")
    body = as_alice.get(reverse("tenants:tenant_list")).content.decode()
    rows = {
        name: body.split(f">{name}</a>", 1)[1].split("</tr>", 1)[0]
        for name in ("acme", "globex", "newco")
    }
    assert '<span class="badge registered">registered</span>' in rows["acme"]
    assert '<span class="badge held_elsewhere">held elsewhere (watching)</span>' in rows["globex"]
    assert '<span class="badge">not registered</span>' in rows["newco"]


def test_a_refused_bulk_choice_lists_the_rows_again_with_its_error(as_alice, acme, globex):
    response = as_alice.post(reverse("tenants:bulk_preview"), {"action": "register"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Choose at least one tenant" in body
    assert f'<a href="{reverse("tenants:tenant_detail", args=[acme.pk])}">acme</a>' in body
    assert 'aria-label="0 documents in the last 30 days"' in body  # the sparkline column
    assert (
        "Choose at least one tenant"
        not in as_alice.get(reverse("tenants:tenant_list")).content.decode()
    )


def _seed(n: int, start: int = 0) -> None:
    tenants = Tenant.objects.bulk_create(
        [
            Tenant(remote_id=f"t{i}", name=f"tenant-{i:05d}", peppol_id=f"0208:{i:010d}")
            for i in range(start, start + n)
        ]
    )
    ApiKey.objects.bulk_create(
        [
            ApiKey(tenant=t, remote_id=f"k{t.remote_id}-{j}", name="k", is_current=j == 0)
            for t in tenants
            for j in range(3)
        ]
    )
    PeppolRegistration.objects.bulk_create(
        [PeppolRegistration(tenant=t, registered=True) for t in tenants[::2]]
    )


@pytest.mark.parametrize(
    "params", [{}, {"q": "tenant", "sort": "key_age"}, {"due": "on", "peppol": "registered"}]
)
def test_the_list_query_count_does_not_grow_with_rows(
    as_alice, django_assert_max_num_queries, params
):
    _seed(55)  # more than a page: a list on one page needs no count (core.paging)
    # On SQLite a search first asks the trigram table how narrow it is (core.trigram).
    budget = 7 if "q" in params and connection.vendor == "sqlite" else 6
    with django_assert_max_num_queries(budget) as few:
        as_alice.get(reverse("tenants:tenant_list"), params)
    _seed(120, start=55)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = as_alice.get(reverse("tenants:tenant_list"), {**params, "page": 2})
    assert response.status_code == 200


# --- create / edit / delete -----------------------------------------------------------
def test_it_creates_a_tenant_with_suggested_name_and_peppol_id(as_alice, api):
    data = {**BAKKERIJ, "name": "", "peppol_id": ""}
    response = as_alice.post(reverse("tenants:tenant_create"), data)
    tenant = Tenant.objects.get()
    assert response["Location"] == reverse("tenants:tenant_detail", args=[tenant.pk])
    assert (tenant.name, tenant.peppol_id) == ("bakkerij-van-damme-bv", "0208:0706165839")
    assert remote(api, f"/api/admin/tenants/{tenant.remote_id}")["peppol_ids"] == [
        "0208:0706165839"
    ]
    entry = AuditEntry.objects.get(action="tenant.create")
    assert (entry.actor, entry.ip, entry.outcome) == ("alice", "127.0.0.1", "success")


def test_our_checks_put_errors_on_the_field_and_send_nothing(as_alice, api):
    data = {
        **BAKKERIJ,
        "company_number": "0706165830",
        "company_tax_id": "0706165839",
        "name": "Bad Name",
    }
    response = as_alice.post(reverse("tenants:tenant_create"), data)
    assert response.status_code == 200
    assert "Belgian enterprise number" in _errors(response, "company_number")[0]
    assert "country code" in _errors(response, "company_tax_id")[0]
    assert "lowercase" in _errors(response, "name")[0]
    assert requests_to(api, "POST", "/api/admin/tenants") == []
    assert not Tenant.objects.exists()


def test_a_taken_name_shows_on_the_name_field_with_a_suggestion(as_alice, api):
    api.create_tenant_with_key("bakkerij-van-damme")
    response = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)
    (message,) = _errors(response, "name")
    assert "already used" in message and "bakkerij-van-damme-2" in message
    assert not Tenant.objects.exists()
    assert AuditEntry.objects.get().outcome == "error"


@pytest.fixture
def mock_api(settings, monkeypatch, own_quota):
    """The Admin API replaced by a handler (for answers the sandbox never gives)."""
    settings.EINVOICE_API_BASE_URL = "https://api-dev.e-invoice.be"
    answers = {}
    transport = httpx.MockTransport(lambda request: answers["handler"](request))
    monkeypatch.setattr(admin_api, "_transport", transport)
    monkeypatch.setattr(http, "_clients", {})
    return answers


def test_a_422_lands_on_the_field_it_names(as_alice, mock_api):
    detail = [
        {
            "loc": ["body", "company_tax_id"],
            "msg": "VAT number unknown to VIES",
            "type": "value_error",
        }
    ]
    mock_api["handler"] = lambda r: httpx.Response(422, json={"detail": detail})
    response = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)
    assert _errors(response, "company_tax_id") == ["VAT number unknown to VIES"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            httpx.Response(401, json={"detail": "Invalid authentication credentials"}),
            "organization key",
        ),
        (httpx.Response(503), "had an error"),
        (httpx.Response(429, headers={"Retry-After": "42"}), "42 seconds"),
    ],
)
def test_other_api_errors_explain_what_to_do(as_alice, mock_api, answer, message):
    mock_api["handler"] = lambda r: answer
    response = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)
    assert message in " ".join(response.context["form"].non_field_errors())


def test_an_unreachable_api_says_the_change_may_have_happened(as_alice, api):
    api.set_faults(rules=[{"method": "POST", "path": "/api/admin/tenants", "action": "drop"}])
    response = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)
    assert "may or may not have been made" in " ".join(response.context["form"].non_field_errors())


def test_edit_shows_changes_and_audits_before_after(as_alice, api, bakkerij):
    data = {**BAKKERIJ, "description": "Bakkerij Van Damme", "test_mode": ""}
    response = as_alice.post(reverse("tenants:tenant_edit", args=[bakkerij.pk]), data)
    assert response.status_code == 302
    assert (
        remote(api, f"/api/admin/tenants/{bakkerij.remote_id}")["description"]
        == "Bakkerij Van Damme"
    )
    assert AuditEntry.objects.get(action="tenant.update").changes == {
        "description": ["Bakkerij Van Damme BV", "Bakkerij Van Damme"]
    }


def test_a_9925_peppol_id_for_a_belgian_company_gets_a_warning_once(as_alice, api):
    data = {**BAKKERIJ, "peppol_id": "9925:BE0706165839"}
    response = as_alice.post(reverse("tenants:tenant_create"), data, follow=True)
    page = response.content.decode()
    # On the Peppol panel, where it matters; not a second time as a flash message above.
    assert page.count("Use 0208:0706165839 unless the customer asked for 9925") == 1
    assert not [m for m in response.context["messages"] if "9925" in str(m)]


def test_a_cbe_shaped_number_is_checked_even_without_vat_or_country(as_alice, api):
    data = {"description": "Acme BV", "company_number": "0403.170.702", "country": ""}
    response = as_alice.post(reverse("tenants:tenant_create"), data)
    assert "Belgian enterprise number" in _errors(response, "company_number")[0]
    assert requests_to(api, "POST", "/api/admin/tenants") == []


def test_a_name_the_mirror_knows_is_refused_before_any_call(as_alice, api, alice):
    mirror.create_tenant({**BAKKERIJ, "name": "bakkerij-van-damme"}, alice)
    sent = len(requests_to(api, "POST", "/api/admin/tenants"))
    data = {**BAKKERIJ, "name": "bakkerij.van.damme", "description": "Other"}
    response = as_alice.post(reverse("tenants:tenant_create"), data)
    (message,) = _errors(response, "name")
    assert "bakkerij-van-damme" in message and "bakkerij.van.damme-2" in message
    assert len(requests_to(api, "POST", "/api/admin/tenants")) == sent  # nothing sent
    assert not AuditEntry.objects.filter(outcome="error").exists()  # no doomed attempt


def test_a_deleted_tenants_name_is_refused_and_the_message_says_why(as_alice, acme):
    Tenant.objects.filter(pk=acme.pk).update(is_deleted=True)
    response = as_alice.post(reverse("tenants:tenant_create"), {"name": "acme"})
    assert "deleted tenant acme" in _errors(response, "name")[0]


def test_editing_keeps_the_tenants_own_name_even_one_our_rule_would_refuse(
    as_alice, mock_api, acme
):
    Tenant.objects.filter(pk=acme.pk).update(name="Legacy_Co.")
    sent = []

    def handler(request):
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"id": acme.remote_id, **sent[-1]})

    mock_api["handler"] = handler
    data = {
        **BAKKERIJ,
        "name": "Legacy_Co.",
        "company_number": "0403170701",
        "company_tax_id": "BE0403170701",
        "peppol_id": "0208:0403170701",
    }
    response = as_alice.post(reverse("tenants:tenant_edit", args=[acme.pk]), data)
    assert response.status_code == 302
    assert sent[0]["name"] == "Legacy_Co."


def test_the_same_company_twice_gets_a_warning_on_the_tenant_page(as_alice, api, alice):
    mirror.create_tenant(BAKKERIJ, alice)
    data = {**BAKKERIJ, "name": "bakkerij-bis", "description": "Bakkerij bis"}
    response = as_alice.post(reverse("tenants:tenant_create"), data, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any("bakkerij-van-damme has the same company number 0706165839" in m for m in shown)


def test_a_registered_tenant_cannot_be_switched_to_test_mode(as_alice, api, bakkerij):
    api.register(bakkerij.remote_id, "0208:0706165839")
    as_alice.post(reverse("tenants:peppol_status", args=[bakkerij.pk]))
    data = {**BAKKERIJ, "test_mode": "on"}
    response = as_alice.post(reverse("tenants:tenant_edit", args=[bakkerij.pk]), data)
    assert "Unregister it first" in _errors(response, "test_mode")[0]
    assert requests_to(api, "PUT", "/api/admin/tenants") == []
    assert remote(api, f"/api/admin/tenants/{bakkerij.remote_id}")["test_mode"] is False


def test_a_registered_tenants_peppol_id_cannot_change_under_its_registration(
    as_alice, api, bakkerij
):
    peppol.register_peppol(bakkerij, "job:test")
    data = {**BAKKERIJ, "peppol_id": "9925:BE0706165839"}
    response = as_alice.post(reverse("tenants:tenant_edit", args=[bakkerij.pk]), data)
    assert "registered on Peppol as 0208:0706165839" in _errors(response, "peppol_id")[0]
    assert requests_to(api, "PUT", "/api/admin/tenants") == []
    # Other changes still go through.
    ok = as_alice.post(
        reverse("tenants:tenant_edit", args=[bakkerij.pk]), {**BAKKERIJ, "description": "B"}
    )
    assert ok.status_code == 302


def test_forms_leave_checking_to_the_server_in_the_portals_language(as_alice, bakkerij):
    # Browser pop-ups would speak the browser's language and sit apart from our errors.
    for url in [
        reverse("tenants:tenant_create"),
        reverse("tenants:user_create", args=[bakkerij.pk]),
        reverse("tenants:peppol_register", args=[bakkerij.pk]),
        reverse("tenants:tenant_detail", args=[bakkerij.pk]),
    ]:
        page = as_alice.get(url).content.decode()
        forms_with_fields = [f for f in page.split("<form")[1:] if '<input type="text"' in f]
        assert forms_with_fields and all(
            " novalidate" in f.split(">")[0] for f in forms_with_fields
        ), url
    help_text = as_alice.get(reverse("tenants:user_create", args=[bakkerij.pk])).content.decode()
    assert "at least" in help_text  # the password rules, up front


def test_a_registered_tenant_in_test_mode_can_still_be_unregistered(as_alice, api, bakkerij):
    # Set elsewhere (another tool, an older portal): the page must not hide the way out.
    PeppolRegistration.objects.create(tenant=bakkerij, registered=True, peppol_id="0208:1")
    Tenant.objects.filter(pk=bakkerij.pk).update(test_mode=True)
    page = as_alice.get(reverse("tenants:tenant_detail", args=[bakkerij.pk])).content.decode()
    assert reverse("tenants:peppol_unregister", args=[bakkerij.pk]) in page
    assert "still registered on Peppol" in page
    assert "Registration is not available" not in page


def test_live_checks_put_each_error_next_to_its_field(as_alice, acme):
    response = as_alice.get(
        reverse("tenants:tenant_suggest"),
        {
            "description": "Acme",
            "name": "acme",
            "company_number": "0403.170.702",
            "company_tax_id": "BE0403170701",
            "peppol_id": "",
        },
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    slots = dict(re.findall(r'<div class="live-errors" id="live-(\w+)"[^>]*>(.*?)</div>', body))
    assert "taken by the tenant acme" in slots["name"]
    assert "Belgian enterprise number" in slots["company_number"]
    assert slots["peppol_id"] == "" and slots["country"] == ""  # cleared when fine
    assert 'hx-swap-oob="true"' in body
    # Editing acme itself: its own name is not "taken".
    own = as_alice.get(
        reverse("tenants:tenant_suggest"),
        {"name": "acme", "tenant": acme.pk},
        HTTP_HX_REQUEST="true",
    )
    assert "taken" not in own.content.decode()


def test_the_live_checks_do_not_put_the_csrf_token_in_a_url(as_alice):
    page = as_alice.get(reverse("tenants:tenant_create")).content.decode()
    assert 'hx-params="not csrfmiddlewaretoken"' in page


def test_live_suggestions(as_alice):
    response = as_alice.get(
        reverse("tenants:tenant_suggest"),
        {
            "description": "Dijle Software BV",
            "company_number": "1998121608",
            "name": "",
            "peppol_id": "",
        },
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert "dijle-software-bv" in body and "0208:1998121608" in body


def test_delete_asks_first_then_deletes_everywhere(as_alice, api, bakkerij):
    url = reverse("tenants:tenant_delete", args=[bakkerij.pk])
    assert "stays taken" in as_alice.get(url).content.decode()
    assert Tenant.objects.get(pk=bakkerij.pk).is_deleted is False
    as_alice.post(url)
    assert Tenant.objects.get(pk=bakkerij.pk).is_deleted
    assert remote(api, f"/api/admin/tenants/{bakkerij.remote_id}")["is_deleted"]
    assert as_alice.get(reverse("tenants:tenant_edit", args=[bakkerij.pk])).status_code == 404


def test_delete_revokes_the_keys_and_deactivates_the_customer_logins(
    as_alice, client, api, bakkerij
):
    key, _value = keys.create_key(bakkerij, "production", "", "job:test")
    User.objects.create_user("vandamme", password=PASSWORD, role="customer", tenant=bakkerij)
    url = reverse("tenants:tenant_delete", args=[bakkerij.pk])
    assert "vandamme is deactivated" in as_alice.get(url).content.decode()
    as_alice.post(url)
    key.refresh_from_db()
    assert key.is_revoked and not key.is_held and not key.is_current
    assert not User.objects.get(username="vandamme").is_active
    entry = AuditEntry.objects.get(action="tenant.delete")
    assert entry.changes["keys_revoked"] == [None, 1]
    assert entry.changes["logins_deactivated"] == [None, 1]
    client.logout()
    client.post(reverse("login"), {"username": "vandamme", "password": PASSWORD})
    assert client.get(reverse("invoices:documents")).status_code == 302  # back to log in


# --- keys -----------------------------------------------------------------------------
def test_a_new_key_is_revealed_once_to_an_admin(as_alice, api, bakkerij):
    response = as_alice.post(
        reverse("tenants:key_create", args=[bakkerij.pk]), {"name": "production"}
    )
    key = ApiKey.objects.get()
    reveal_url = reverse("tenants:api_key_reveal", args=[key.pk])
    assert response["Location"] == reveal_url
    value = key.reveal_value()

    page = as_alice.get(reveal_url)
    assert value not in page.content.decode() and "Show the key now" in page.content.decode()
    shown = as_alice.post(reveal_url)
    assert value in shown.content.decode()
    assert shown["Cache-Control"] == "no-store"
    assert 'data-copy-target="key-value"' in shown.content.decode()
    again = as_alice.post(reveal_url)
    assert value not in again.content.decode() and "cannot be shown again" in again.content.decode()
    detail = as_alice.get(reverse("tenants:tenant_detail", args=[bakkerij.pk])).content.decode()
    assert value not in detail and key.fingerprint in detail
    assert AuditEntry.objects.filter(action="key.reveal").count() == 1


def test_the_reveal_page_says_the_key_was_created_and_explains_a_second_try_once(
    as_alice, api, bakkerij
):
    response = as_alice.post(
        reverse("tenants:key_create", args=[bakkerij.pk]), {"name": "production"}, follow=True
    )
    assert "Key production created" in response.content.decode()
    url = reverse("tenants:api_key_reveal", args=[ApiKey.objects.get().pk])
    as_alice.post(url)
    again = as_alice.post(url, follow=True).content.decode()
    assert again.count("cannot be shown again") == 1  # the page says it, not also a flash


def test_revoking_the_last_key_warns_on_the_tenant_page(as_alice, api, bakkerij):
    key, _value = keys.create_key(bakkerij, "production", "", "job:test")
    detail = reverse("tenants:tenant_detail", args=[bakkerij.pk])
    assert "no current key" not in as_alice.get(detail).content.decode()
    as_alice.post(reverse("tenants:key_revoke", args=[key.pk]))
    assert "no current key" in as_alice.get(detail).content.decode()


def test_an_operator_creates_a_key_that_an_admin_reveals_later(client, otto, alice, api, bakkerij):
    client.force_login(otto)
    response = client.post(
        reverse("tenants:key_create", args=[bakkerij.pk]), {"name": "prod"}, follow=True
    )
    assert "A reseller admin can reveal it once" in response.content.decode()
    key = ApiKey.objects.get()
    assert key.reveal_value() not in response.content.decode()
    client.force_login(alice)
    assert (
        key.reveal_value()
        in client.post(reverse("tenants:api_key_reveal", args=[key.pk])).content.decode()
    )


def test_rename_and_revoke(as_alice, api, bakkerij):
    key, _value = keys.create_key(bakkerij, "production", "", "job:test")
    as_alice.post(reverse("tenants:key_edit", args=[key.pk]), {"name": "erp", "description": "SAP"})
    there = remote(api, f"/api/admin/tenants/{bakkerij.remote_id}/api-keys")["api_keys"][0]
    assert (there["name"], there["description"]) == ("erp", "SAP")
    revoke_url = reverse("tenants:key_revoke", args=[key.pk])
    assert "only usable key" in as_alice.get(revoke_url).content.decode()
    as_alice.post(revoke_url)
    key.refresh_from_db()
    assert key.is_revoked and not key.is_held
    assert remote(api, f"/api/admin/tenants/{bakkerij.remote_id}/api-keys")["api_keys"][0][
        "is_deleted"
    ]


# --- Peppol ---------------------------------------------------------------------------
def test_register_with_kbo_update_the_card_and_unregister(as_alice, api, bakkerij):
    response = as_alice.post(
        reverse("tenants:peppol_register", args=[bakkerij.pk]), {"company_name": ""}
    )
    assert response.status_code == 302
    reg = PeppolRegistration.objects.get(tenant=bakkerij)
    assert reg.registered and reg.company_name == "Bakkerij Van Damme BV"

    panel = as_alice.post(
        reverse("tenants:peppol_card", args=[bakkerij.pk]),
        {"company_name": "Van Damme & Zonen"},
        HTTP_HX_REQUEST="true",
    )
    assert (
        "Van Damme &amp; Zonen" in panel.content.decode() and "<html" not in panel.content.decode()
    )
    assert (
        remote(api, f"/api/admin/tenants/{bakkerij.remote_id}/peppol/status")["company_name"]
        == "Van Damme & Zonen"
    )
    # The page's activity list follows (out of band): the update is there at once.
    oob = panel.content.decode().split('id="recent-activity" hx-swap-oob="true"')[1]
    assert "peppol.business_card" in oob

    as_alice.post(reverse("tenants:peppol_unregister", args=[bakkerij.pk]))
    assert not PeppolRegistration.objects.get(tenant=bakkerij).registered
    assert not remote(api, f"/api/admin/tenants/{bakkerij.remote_id}/peppol/status")["registered"]


def test_a_peppol_id_registered_elsewhere_says_so_on_the_field(as_alice, api, alice):
    tenant = mirror.create_tenant(
        {
            "name": "openpeppol",
            "company_number": "0848934496",
            "peppol_id": "0208:0848934496",
            "country": "BE",
        },
        alice,
    )
    response = as_alice.post(
        reverse("tenants:peppol_register", args=[tenant.pk]), {"company_name": ""}
    )
    (message,) = _errors(response, "peppol_id")
    assert "already registered" in message and "deregister" in message


def test_a_kbo_miss_lands_on_the_company_name_field(as_alice, api, alice):
    tenant = mirror.create_tenant(
        {
            "name": "acme",
            "company_number": "0403170701",
            "peppol_id": "0208:0403170701",
            "country": "BE",
        },
        alice,
    )
    response = as_alice.post(
        reverse("tenants:peppol_register", args=[tenant.pk]), {"company_name": ""}
    )
    assert "KBO" in _errors(response, "company_name")[0]
    ok = as_alice.post(
        reverse("tenants:peppol_register", args=[tenant.pk]), {"company_name": "Acme BV"}
    )
    assert ok.status_code == 302


def test_a_peppol_id_held_by_one_of_our_tenants_names_that_tenant(as_alice, api, alice):
    first = mirror.create_tenant(BAKKERIJ, alice)
    peppol.register_peppol(first, alice)
    second = mirror.create_tenant(
        {**BAKKERIJ, "name": "bakkerij-bis", "description": "Bakkerij bis"}, alice
    )
    response = as_alice.post(
        reverse("tenants:peppol_register", args=[second.pk]), {"company_name": ""}
    )
    (message,) = _errors(response, "peppol_id")
    assert "by your tenant bakkerij-van-damme" in message


def test_a_non_kbo_peppol_id_needs_a_company_name_before_any_call(as_alice, api, alice):
    tenant = mirror.create_tenant({**BAKKERIJ, "peppol_id": "9925:BE0706165839"}, alice)
    url = reverse("tenants:peppol_register", args=[tenant.pk])
    page = as_alice.get(url).content.decode()
    assert "edit the tenant to change it" in page and "disabled" in page
    assert "Leave empty" not in page  # that advice is for 0208 IDs only
    response = as_alice.post(url, {"company_name": ""})
    assert "9925:BE0706165839" in _errors(response, "company_name")[0]
    assert requests_to(api, "POST", f"/api/admin/tenants/{tenant.remote_id}/peppol") == []
    ok = as_alice.post(url, {"company_name": "Bakkerij Van Damme BV"})
    assert ok.status_code == 302 and PeppolRegistration.objects.get(tenant=tenant).registered


def test_a_test_mode_tenant_explains_instead_of_offering_a_button(as_alice, api, alice):
    tenant = mirror.create_tenant({**BAKKERIJ, "test_mode": True}, alice)
    page = as_alice.get(reverse("tenants:tenant_detail", args=[tenant.pk])).content.decode()
    assert "not available: this tenant is in test mode" in page
    assert "clear “Test mode”" in page
    assert reverse("tenants:peppol_register", args=[tenant.pk]) not in page
    response = as_alice.post(reverse("tenants:peppol_register", args=[tenant.pk]), {})
    assert "test mode" in " ".join(response.context["form"].non_field_errors())
    assert requests_to(api, "POST", f"/api/admin/tenants/{tenant.remote_id}/peppol") == []


def test_check_status_refreshes_the_panel(as_alice, api, bakkerij):
    api.register(bakkerij.remote_id, "0208:0706165839")  # registered outside the portal
    panel = as_alice.post(
        reverse("tenants:peppol_status", args=[bakkerij.pk]), HTTP_HX_REQUEST="true"
    )
    assert "registered" in panel.content.decode()
    assert PeppolRegistration.objects.get(tenant=bakkerij).registered
    assert AuditEntry.objects.filter(action="peppol.status").exists()


# --- customer logins ------------------------------------------------------------------
def test_an_admin_creates_a_customer_login_that_works(as_alice, client, api, bakkerij):
    url = reverse("tenants:user_create", args=[bakkerij.pk])
    weak = as_alice.post(
        url, {"username": "vandamme", "email": "a@b.be", "password1": "123", "password2": "123"}
    )
    assert _errors(weak, "password1")
    as_alice.post(
        url,
        {"username": "vandamme", "email": "a@b.be", "password1": PASSWORD, "password2": PASSWORD},
    )
    user = User.objects.get(username="vandamme")
    assert (user.role, user.tenant_id) == ("customer", bakkerij.pk)
    client.logout()
    client.post(reverse("login"), {"username": "vandamme", "password": PASSWORD})
    assert client.get(reverse("invoices:documents")).status_code == 200
    assert "password" not in str(AuditEntry.objects.get(action="user.create").changes)


# --- audit log ------------------------------------------------------------------------
def test_the_audit_page_filters_and_exports_csv(as_alice, alice, acme, globex):
    audit.record("tenant.update", tenant=acme, user=alice, changes={"description": ("a", "b")})
    audit.record(
        "key.create",
        tenant=globex,
        actor_label="job:rotation#3",
        error="=HYPERLINK(1)",
        outcome="error",
    )
    page = as_alice.get(reverse("tenants:audit_list"), {"actor": "job"})
    assert [e.action for e in page.context["page"].object_list] == ["key.create"]
    page = as_alice.get(
        reverse("tenants:audit_list"), {"tenant": "acme", "action": "tenant.update"}
    )
    assert [e.tenant.name for e in page.context["page"].object_list] == ["acme"]

    export = as_alice.get(reverse("tenants:audit_export"), {"outcome": "error"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [(r["actor"], r["tenant"]) for r in rows] == [("job:rotation#3", "globex")]
    assert rows[0]["error"] == "'=HYPERLINK(1)"  # no formula for a spreadsheet to run
    assert AuditEntry.objects.filter(action="audit.export", actor="alice").exists()
    assert audit.verify_chain().ok


def test_the_audit_page_filters_by_date(as_alice, alice):
    from datetime import timedelta

    from django.utils import timezone

    audit.record("tenant.update", user=alice)
    today = timezone.localdate()

    def count(**params):
        return as_alice.get(reverse("tenants:audit_list"), params).context["page"].count

    assert count(date_from=today.isoformat(), date_to=today.isoformat()) == 1
    assert count(date_from=(today + timedelta(days=1)).isoformat()) == 0
    assert count(date_to=(today - timedelta(days=1)).isoformat()) == 0
    assert count(date_from="not a date") == 1  # bad input: a field error, not a 500


# --- the whole journey through the screens, with a canary ----------------------------
def test_no_key_value_leaks_through_logs_pages_or_audit(as_alice, api, caplog):
    caplog.set_level(logging.DEBUG)
    pages = []

    def get(url, **kw):
        response = as_alice.get(url, **kw)
        pages.append(response.content.decode())
        return response

    def post(url, data=None, **kw):
        response = as_alice.post(url, data or {}, **kw)
        pages.append(response.content.decode())
        return response

    post(reverse("tenants:tenant_create"), BAKKERIJ)
    tenant = Tenant.objects.get()
    detail = reverse("tenants:tenant_detail", args=[tenant.pk])
    post(reverse("tenants:key_create", args=[tenant.pk]), {"name": "production"})
    key = ApiKey.objects.get()
    canary = key.reveal_value()
    reveal = as_alice.post(
        reverse("tenants:api_key_reveal", args=[key.pk])
    )  # the one allowed place
    assert canary in reveal.content.decode()
    post(reverse("tenants:tenant_edit", args=[tenant.pk]), {**BAKKERIJ, "description": "x"})
    post(reverse("tenants:peppol_register", args=[tenant.pk]), {"company_name": ""})
    post(reverse("tenants:tenant_refresh", args=[tenant.pk]))
    get(detail)
    get(reverse("tenants:tenant_list"))
    get(reverse("tenants:dashboard"))
    get(reverse("tenants:audit_list"))
    export = as_alice.get(reverse("tenants:audit_export"))
    pages.append(b"".join(export.streaming_content).decode())
    post(reverse("tenants:key_revoke", args=[key.pk]))
    get(reverse("tenants:api_key_reveal", args=[key.pk]))

    logs = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    audit_rows = "".join(e.canonical() for e in AuditEntry.objects.all())
    for haystack in [logs, audit_rows, *pages]:
        assert canary not in haystack and api.org_key not in haystack
    assert "admin-api POST /api/admin/tenants -> 201" in logs
    assert audit.verify_chain().ok


def test_one_bad_filter_keeps_the_others_on_screen_and_in_the_export(as_alice, alice, otto):
    audit.record("tenant.update", user=alice)
    audit.record("tenant.update", user=otto)
    params = {"actor": "otto", "date_from": "2026-13-45"}
    page = as_alice.get(reverse("tenants:audit_list"), params)
    assert page.context["form"].errors["date_from"]
    assert [e.actor for e in page.context["page"].object_list] == ["otto"]
    export = as_alice.get(reverse("tenants:audit_export"), params)
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [r["actor"] for r in rows] == ["otto"]
    # The export's own entry says which filters applied, without the empty ones.
    assert AuditEntry.objects.get(action="audit.export").target == "actor=otto"


def test_the_export_shows_the_same_local_time_as_the_screen(as_alice, alice, settings):
    from django.utils import timezone

    entry = audit.record("tenant.update", user=alice)
    export = as_alice.get(reverse("tenants:audit_export"), {"action": "tenant.update"})
    (row,) = csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    local = timezone.localtime(entry.created_at)
    assert row["time"].startswith(local.strftime("%Y-%m-%dT%H:%M:%S"))
    assert row["time"].endswith(local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:])
    page = as_alice.get(reverse("tenants:audit_list")).content.decode()
    assert local.strftime("%H:%M:%S") in page


def test_a_bad_value_in_one_list_filter_keeps_the_others(as_alice, acme, globex):
    response = as_alice.get(reverse("tenants:tenant_list"), {"q": "glob", "peppol": "bogus"})
    assert [t.name for t in response.context["page"].object_list] == ["globex"]

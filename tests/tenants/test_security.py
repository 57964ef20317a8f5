"""Security of the staff screens, URL by URL: who may open them, that only a POST with its
CSRF token changes anything, that the one-time reveal stays one-time, and a canary: a key
value followed through a whole journey never shows up where it should not."""

import io
import logging
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, reverse

from core import audit
from core.models import AuditEntry
from tenants import keys, mirror
from tenants import urls as tenant_urls
from tenants.models import ApiKey, PeppolRegistration, Tenant
from tests.conftest import PASSWORD
from tests.tenants.conftest import requests_to

BAKKERIJ = {
    "name": "bakkerij-van-damme",
    "description": "Bakkerij Van Damme BV",
    "company_number": "0706165839",
    "company_tax_id": "BE0706165839",
    "peppol_id": "0208:0706165839",
}

# The mirror's screens (the job screens, tenant_urls.job_patterns, have their own tests).
STAFF_URLS = [p for p in tenant_urls.tenant_patterns if isinstance(p, URLPattern)]
# Views that change something on any request they accept: POST only.
POST_ONLY = {
    "tenant_refresh",
    "peppol_status",
    "peppol_card",
    "peppol_watch",
    "peppol_watch_cancel",
}


def _url(pattern: URLPattern, tenant: Tenant, key: ApiKey) -> str:
    if "<int:pk>" not in str(pattern.pattern):
        return reverse(f"tenants:{pattern.name}")
    pk = key.pk if str(pattern.pattern).startswith("keys/") else tenant.pk
    return reverse(f"tenants:{pattern.name}", args=[pk])


@pytest.fixture
def held_key(acme) -> ApiKey:
    key = ApiKey(tenant=acme, remote_id="key_acme_1", name="production", is_current=True)
    key.set_value("einv_live_security_canary_0000")
    key.save()
    return key


def test_the_list_of_urls_is_complete():
    # A new screen shows up here, and so in every check below.
    assert len(STAFF_URLS) >= 19
    assert {"api_key_reveal", "tenant_delete", "audit_export"} <= {p.name for p in STAFF_URLS}


# One test per check, looping over the URLs (a user per parametrized case costs a
# password hash each: the loop keeps the suite fast). Failures name the URL.
def test_every_staff_url_sends_anonymous_visitors_to_log_in(client, acme, held_key):
    for pattern in STAFF_URLS:
        url = _url(pattern, acme, held_key)
        for response in (client.get(url), client.post(url)):
            assert response.status_code == 302, pattern.name
            assert response["Location"].startswith(reverse("login")), pattern.name


def test_every_staff_url_refuses_customers(client, carol, held_key):
    client.force_login(carol)
    for pattern in STAFF_URLS:
        url = _url(pattern, carol.tenant, held_key)
        assert client.get(url).status_code == 403, pattern.name
        assert client.post(url).status_code == 403, pattern.name


def test_every_object_url_answers_404_for_a_missing_id(client, alice):
    client.force_login(alice)
    for pattern in STAFF_URLS:
        if "<int:pk>" not in str(pattern.pattern):
            continue
        url = reverse(f"tenants:{pattern.name}", args=[999_999])
        expected_get = 405 if pattern.name in POST_ONLY else 404
        assert client.get(url).status_code == expected_get, pattern.name
        assert client.post(url).status_code == 404, pattern.name


@pytest.mark.parametrize("name", sorted(POST_ONLY))
def test_state_changing_urls_refuse_get(client, alice, acme, name):
    client.force_login(alice)
    assert client.get(reverse(f"tenants:{name}", args=[acme.pk])).status_code == 405


def test_looking_at_every_page_changes_nothing(client, alice, api):
    client.force_login(alice)
    tenant = mirror.create_tenant(BAKKERIJ, alice)
    key, _value = keys.create_key(tenant, "production", "", alice)
    before = AuditEntry.objects.count()
    writes_before = len([r for r in api.requests() if r["method"] != "GET"])
    for pattern in STAFF_URLS:
        if pattern.name in ("audit_export", "audit_checkpoint"):
            continue  # reads, but audited on purpose (who exported or took a checkpoint)
        response = client.get(_url(pattern, tenant, key))
        assert response.status_code in (200, 405), pattern.name
    key.refresh_from_db()
    tenant.refresh_from_db()
    assert key.revealed_at is None and not key.is_revoked and not tenant.is_deleted
    assert AuditEntry.objects.count() == before
    assert len([r for r in api.requests() if r["method"] != "GET"]) == writes_before


def test_every_post_needs_the_csrf_token(alice, acme, held_key):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    for pattern in STAFF_URLS:
        response = strict.post(_url(pattern, acme, held_key), {"name": "x", "company_name": "x"})
        assert response.status_code == 403, pattern.name
    held_key.refresh_from_db()
    assert held_key.revealed_at is None and not held_key.is_revoked
    assert not Tenant.objects.get(pk=acme.pk).is_deleted
    assert not AuditEntry.objects.exists()


# --- the one-time reveal --------------------------------------------------------------
def test_the_reveal_page_is_never_kept_by_a_browser_or_proxy(client, alice, held_key):
    client.force_login(alice)
    url = reverse("tenants:api_key_reveal", args=[held_key.pk])
    for response in (client.get(url), client.post(url), client.post(url)):
        assert response["Cache-Control"] == "no-store"


def test_a_second_tab_or_a_resent_post_never_sees_the_value(alice, held_key):
    first, second = Client(), Client()
    first.force_login(alice)
    second.force_login(alice)
    url = reverse("tenants:api_key_reveal", args=[held_key.pk])
    value = held_key.reveal_value()
    both = [second.get(url), first.post(url), second.post(url), first.post(url)]
    assert [value in r.content.decode() for r in both] == [False, True, False, False]
    assert AuditEntry.objects.filter(action="key.reveal").count() == 1


def test_only_the_reveal_template_renders_a_key_value():
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "templates"
    texts = {p.relative_to(templates).as_posix(): p.read_text() for p in templates.rglob("*.html")}
    assert not [n for n, t in texts.items() if "reveal_value" in t or "encrypted_value" in t]
    # `value` is the plaintext's name in the reveal view's context, and nowhere else here.
    staff = {n: t for n, t in texts.items() if n.startswith("tenants/") and "/jobs/" not in n}
    assert [n for n, t in staff.items() if "{{ value" in t] == ["tenants/key_reveal.html"]


def test_a_template_cannot_decrypt_a_key_or_use_up_its_reveal(held_key):
    from django.template import engines

    template = engines["django"].from_string("[{{ key.reveal_value }}][{{ key.claim_reveal }}]")
    assert template.render({"key": held_key}) == "[][]"
    held_key.refresh_from_db()
    assert held_key.revealed_at is None


# --- the canary -----------------------------------------------------------------------
def test_a_key_value_never_leaks_through_a_whole_journey(client, alice, otto, api, caplog):
    """Admin and operator go through every screen, htmx partials and Django's admin
    included; the key value and the org key appear only on the one reveal."""
    caplog.set_level(logging.DEBUG)
    superuser = get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    pages: list[str] = []

    def keep(response) -> None:
        if hasattr(response, "streaming_content"):
            body = b"".join(response.streaming_content)
            if body.startswith(b"PK"):  # an XLSX: its sheets are XML files inside a ZIP
                with zipfile.ZipFile(io.BytesIO(body)) as xlsx:
                    pages.extend(xlsx.read(name).decode() for name in xlsx.namelist())
            else:
                pages.append(body.decode())
        else:
            pages.append(response.content.decode())
            for message in response.context["messages"] if response.context else []:
                pages.append(str(message))

    client.force_login(alice)
    keep(client.post(reverse("tenants:tenant_create"), BAKKERIJ, follow=True))
    tenant = Tenant.objects.get()
    keep(client.post(reverse("tenants:key_create", args=[tenant.pk]), {"name": "p"}, follow=True))
    key = ApiKey.objects.get()
    canary, ciphertext = key.reveal_value(), key.encrypted_value
    reveal = reverse("tenants:api_key_reveal", args=[key.pk])
    assert canary in client.post(reveal).content.decode()  # the one allowed place
    keep(client.post(reveal))  # the resent POST
    keep(client.post(reverse("tenants:peppol_register", args=[tenant.pk]), {}, follow=True))
    keep(
        client.post(
            reverse("tenants:peppol_card", args=[tenant.pk]),
            {"company_name": "Van Damme"},
            HTTP_HX_REQUEST="true",
        )
    )
    keep(client.post(reverse("tenants:peppol_status", args=[tenant.pk]), HTTP_HX_REQUEST="true"))
    keep(client.get(reverse("tenants:tenant_suggest"), {**BAKKERIJ, "tenant": tenant.pk}))
    keep(
        client.get(
            reverse("tenants:tenant_list"),
            {"q": "bakkerij"},
            HTTP_HX_REQUEST="true",
            HTTP_HX_TARGET="tenant-results",
        )
    )
    keep(client.post(reverse("tenants:tenant_refresh", args=[tenant.pk]), follow=True))
    keep(client.post(reverse("tenants:key_edit", args=[key.pk]), {"name": "erp"}, follow=True))
    for pattern in STAFF_URLS:
        keep(client.get(_url(pattern, tenant, key)))
    keep(client.get(reverse("tenants:audit_export")))

    client.force_login(otto)
    keep(client.post(reverse("tenants:key_create", args=[tenant.pk]), {"name": "o"}, follow=True))
    for name in ("dashboard", "tenant_list", "audit_list"):
        keep(client.get(reverse(f"tenants:{name}")))
    keep(client.get(reverse("tenants:tenant_detail", args=[tenant.pk])))

    client.force_login(superuser)
    keep(client.get("/django-admin/tenants/apikey/"))
    keep(client.get(f"/django-admin/tenants/apikey/{key.pk}/change/"))
    keep(client.get("/django-admin/tenants/auditentry/"))

    client.force_login(alice)
    keep(client.post(reverse("tenants:tenant_delete", args=[tenant.pk]), follow=True))

    logs = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    audit_rows = "".join(e.canonical() for e in AuditEntry.objects.all())
    assert len(pages) > 40 and "Van Damme" in "".join(pages)  # the journey really happened
    for haystack in [logs, audit_rows, *pages]:
        assert canary not in haystack
        assert ciphertext not in haystack
        assert api.org_key not in haystack
    assert PeppolRegistration.objects.get(tenant=tenant).registered is False  # unregistered
    assert audit.verify_chain().ok
    assert requests_to(api, "DELETE", f"/api/admin/tenants/{tenant.remote_id}")

"""Why a Peppol registration is in its state is stored as a code with parameters: found while
one colleague read Dutch, it reads in English for the English one, and the other way round."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.models import Role
from tenants import checks, peppol
from tenants.models import PeppolRegistration, PeppolState
from tests.conftest import make_user

HOLDER = {"name": "Other BV", "access_point": "ap.example", "smp_host": "smp.example"}
SAID = {
    "en": "Held by Other BV with the access point ap.example (SMP smp.example), registered "
    "since an unknown date",
    "nl": "In handen van Other BV bij het access point ap.example (SMP smp.example), "
    "geregistreerd sinds",
}


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def held(acme, otto) -> PeppolRegistration:
    with translation.override("nl"):
        return peppol.set_state(
            acme, PeppolState.HELD_ELSEWHERE, otto, reason=checks.holder_text(HOLDER), holder=HOLDER
        )


def test_it_stores_the_reason_as_a_code(held):
    assert held.state_reason_code == checks.HELD_BY
    assert held.state_reason_params == HOLDER
    assert held.state_reason.startswith("In handen van")  # as the one who acted read it


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_it_shows_the_reason_in_the_readers_language(client, acme, held, lang):
    reader = make_user(f"reader-{lang}", Role.OPERATOR)
    client.force_login(reader)
    client.cookies["django_language"] = lang
    assert SAID[lang] in _text(client.get(reverse("tenants:tenant_detail", args=[acme.pk])))


def test_it_still_shows_a_reason_stored_before_codes(client, acme, otto):
    PeppolRegistration.objects.create(
        tenant=acme, state=PeppolState.FAILED, state_reason="Oude reden, zoals geschreven."
    )
    client.force_login(otto)
    assert "Oude reden, zoals geschreven." in _text(
        client.get(reverse("tenants:tenant_detail", args=[acme.pk]))
    )


def test_it_clears_the_code_with_a_reason_that_has_none(acme, otto, held):
    reg = peppol.set_state(acme, PeppolState.FAILED, otto, reason="HTTP 500 from the API")
    reg.refresh_from_db()
    assert (reg.state_reason_code, reg.state_reason_params) == ("", {})
    assert reg.state_reason_text == "HTTP 500 from the API"

"""The timeline is stored as codes with parameters and worded in the reader's language: Carol
reads "Verzonden via Peppol." in Dutch on a document whose events were written in English."""

import importlib
import re

import pytest
from django.urls import reverse

from invoices import states, timeline
from invoices.models import Document, DocumentEvent, State

Source = DocumentEvent.Source


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def text_of_id(html: str, ident: str) -> str:
    start = html.index(f'id="{ident}"')
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[start : html.index("</ol>", start)]))


def in_language(client, lang: str) -> None:
    client.post(reverse("set_language"), {"language": lang, "next": "/"})


@pytest.fixture
def sent(acme) -> Document:
    document = Document.objects.create(tenant=acme, invoice_id="INV-T1", remote_id="doc-t1")
    states.note(document, code=timeline.CREATED_REMOTE, source=Source.PORTAL)
    document.state = State.TRANSIT
    document.save()
    states.note(document, code=timeline.SENT, source=Source.PORTAL)
    states.note(
        document,
        code=timeline.DELIVERY_FAILED,
        params={"reason": "0208:1 is not registered"},
        source=Source.WEBHOOK,
    )
    return document


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("nl", ["Als concept aangemaakt bij e-invoice.be.", "Verzonden via Peppol.", "Levering mislukt: 0208:1 is not registered"]),
        ("fr", ["Créé comme brouillon chez e-invoice.be.", "Envoyé via Peppol.", "Échec de la livraison : 0208:1 is not registered"]),
        ("en", ["Created at e-invoice.be as a draft.", "Sent via Peppol.", "Delivery failed: 0208:1 is not registered"]),
    ],
)  # fmt: skip
def test_it_shows_the_timeline_in_the_readers_language(client, carol, sent, lang, expected):
    client.force_login(carol)
    in_language(client, lang)
    page = client.get(reverse("invoices:detail", args=[sent.pk])).content.decode()
    shown = text_of_id(page, "timeline")
    for line in expected:
        assert line in shown


def test_it_stores_codes_not_words(sent):
    events = list(sent.events.values_list("code", "message"))
    assert events == [
        (timeline.CREATED_REMOTE, ""),
        (timeline.SENT, ""),
        (timeline.DELIVERY_FAILED, ""),
    ]


def test_it_keeps_a_text_it_has_no_code_for(acme):
    document = Document.objects.create(tenant=acme, invoice_id="INV-T2")
    states.note(document, "e-invoice.be is not answering.", source=Source.PORTAL)
    assert document.events.get().text == "e-invoice.be is not answering."


def test_the_migration_maps_known_texts_in_any_language_and_keeps_the_rest(acme):
    document = Document.objects.create(
        tenant=acme, invoice_id="INV-T3", state=State.FAILED, failure_reason="Receiver unknown"
    )
    stored = {
        "Sent via Peppol.": (timeline.SENT, {}),
        "Verzonden via Peppol.": (timeline.SENT, {}),
        "Livré à l’acheteur.": (timeline.DELIVERED, {}),
        "Ontvangen van Dijle Software BV.": (timeline.RECEIVED, {"sender": "Dijle Software BV"}),
        "Receiver unknown": (timeline.DELIVERY_FAILED, {"reason": "Receiver unknown"}),
        "Something we never wrote": ("", {}),
    }
    for message in stored:
        state = State.FAILED if message == "Receiver unknown" else ""
        DocumentEvent.objects.create(
            document=document, source=Source.PORTAL, message=message, state=state
        )
    migration = importlib.import_module("invoices.migrations.0008_event_code")
    from django.apps import apps

    migration.codes_for_known_texts(apps, None)
    for event in document.events.all():
        assert (event.code, event.params) == stored[event.message], event.message
    assert document.events.get(message="Something we never wrote").text == (
        "Something we never wrote"
    )

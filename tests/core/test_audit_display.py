"""The audit log worded in the reader's language: actions, field names and values (#15).

Entries keep machine values (the chain and the exports stay the same for everyone); the
pages word them for whoever reads. Personas: alice (reseller admin) reads in English and
in Dutch.
"""

import re
from pathlib import Path

from django.urls import reverse
from django.utils import translation

from core import audit, audit_display
from tenants.models import BulkKind, PeppolState

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "core", "einvoice", "invoices", "jobs", "notifications", "tenants", "usage"]
# The first argument of audit.record(...) / audit.audited(...), a literal or an f-string.
CALL = re.compile(r"audit\.(?:record|audited)\(\s*(f?)\"([^\"]+)\"")
# Actions named by a class attribute and recorded as `self.action`.
ATTRIBUTE = re.compile(r"^\s+action = \"([a-z_]+\.[a-z_]+)\"", re.M)
EXPANSIONS = {
    "{action.kind}": [k.value for k in BulkKind],
    "{job.action}": ["invite", "key_link"],
    # accounts.password_views: the views' `action` attribute.
    "{self.action}": ["user.invitation_accept", "user.password_reset"],
}


def recorded_actions() -> set[str]:
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            found |= set(ATTRIBUTE.findall(source))
            for is_f, text in CALL.findall(source):
                if not is_f:
                    found.add(text)
                    continue
                for hole, values in EXPANSIONS.items():
                    if hole in text:
                        found |= {text.replace(hole, v) for v in values}
                        break
                else:
                    raise AssertionError(f"{path}: an action {text!r} this test cannot expand")
    return found


def test_it_words_every_action_the_code_records():
    actions = recorded_actions()
    assert len(actions) > 30
    missing = sorted(actions - set(audit_display.ACTIONS))
    assert not missing, f"actions without a wording in core/audit_display.py: {missing}"


def test_it_words_actions_fields_and_values_in_the_readers_language():
    stored = {"is_current": [None, True], "state": ["checking", "registered"], "x_new": [1, 2]}
    with translation.override("nl"):
        assert audit_display.action_label("key.create") == "API-sleutel aangemaakt"
        worded = {c.field: c for c in audit_display.changes(stored)}
        assert (worded["is_current"].label, worded["is_current"].after) == ("huidige sleutel", "ja")
        assert worded["is_current"].before == "∅"
        assert worded["state"].after == str(dict(PeppolState.choices)["registered"])
        # A field or action with no wording yet is shown as stored, never dropped.
        assert (worded["x_new"].label, worded["x_new"].after) == ("x_new", "2")
        assert audit_display.action_label("something.new") == "something.new"
    with translation.override("fr"):
        # One act, not the dashboard's count of tenants ("Inscrits sur Peppol").
        assert audit_display.action_label("peppol.register") == "Inscrit sur Peppol"
    with translation.override("en"):
        assert audit_display.action_label("key.create") == "API key created"


def test_it_shows_one_entry_in_each_readers_language(client, alice, acme):
    audit.record("key.create", tenant=acme, user=alice, changes={"is_current": [None, True]})
    client.force_login(alice)
    url = reverse("tenants:audit_list")

    english = client.get(url).content.decode()
    assert "API key created" in english and "current key</b>: ∅ → yes" in english

    client.post(reverse("set_language"), {"language": "nl", "next": url})
    dutch = client.get(url).content.decode()
    assert "API-sleutel aangemaakt" in dutch and "huidige sleutel</b>: ∅ → ja" in dutch
    # The filter offers the worded action and keeps the code as its value.
    assert '<option value="key.create">API-sleutel aangemaakt</option>' in dutch
    filtered = client.get(url, {"action": "key.create"})
    assert filtered.status_code == 200 and "API-sleutel aangemaakt" in filtered.content.decode()

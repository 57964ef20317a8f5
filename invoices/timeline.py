"""What a line of a document's timeline says: stored as a code with parameters, worded in the
reader's language when it is shown (a Dutch customer reads Dutch, the French one French).

`DocumentEvent.code` names one of `TEXTS`; `params` fill its placeholders. A line without a
code (older rows the migration could not map, errors worded by e-invoice.be) shows its
`message` as stored. The wordings are core.texts' (as "timeline.<code>"), the one mechanism
for stored texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from core import texts

CREATED_REMOTE = "created_remote"
REPLACED_REMOTE = "replaced_remote"
SENT = "sent"
DELIVERED = "delivered"
DELIVERY_FAILED = "delivery_failed"
SENT_AGAIN = "sent_again"
SENDS_AGAIN = "sends_again"
RECEIVED = "received"
DRAFT_SAVED = "draft_saved"
DRAFT_EDITED = "draft_edited"
FILE_ATTACHED = "file_attached"
FILE_REMOVED = "file_removed"
UPLOADED = "uploaded"

TEXTS = {
    CREATED_REMOTE: _("Created at e-invoice.be as a draft."),
    REPLACED_REMOTE: _("Replaced at e-invoice.be by the edited version."),
    SENT: _("Sent via Peppol."),
    DELIVERED: _("Delivered to the buyer."),
    DELIVERY_FAILED: _("Delivery failed."),
    SENT_AGAIN: _("Sent again as a new document."),
    SENDS_AGAIN: _("Sends again a document whose delivery failed."),
    RECEIVED: _("Received from %(sender)s."),
    DRAFT_SAVED: _("Draft saved."),
    DRAFT_EDITED: _("Draft edited."),
    FILE_ATTACHED: _("File %(name)s attached."),
    FILE_REMOVED: _("File %(name)s removed."),
    UPLOADED: _("Created from the uploaded file %(name)s."),
}
# A failure with the network's reason: the reason is e-invoice.be's own words, kept as given.
FAILED_BECAUSE = _("Delivery failed: %(reason)s")


def _delivery_failed(params: Mapping[str, Any]) -> str:
    if params.get("reason"):
        return str(FAILED_BECAUSE) % {"reason": params["reason"]}
    return str(TEXTS[DELIVERY_FAILED])


for _code, _wording in TEXTS.items():
    texts.define(f"timeline.{_code}", _delivery_failed if _code == DELIVERY_FAILED else _wording)


def render(code: str, params: dict[str, Any] | None, message: str = "") -> str:
    """The line in the active language; the stored message when the code is unknown."""
    return texts.word(f"timeline.{code}", params, message)


# The texts stored before codes existed, in every language the portal spoke then, mapped to
# their code (used by the data migration; a text not found here stays as it is).
def legacy_codes() -> dict[str, str]:
    return {
        "Created at e-invoice.be as a draft.": CREATED_REMOTE,
        "Als concept aangemaakt bij e-invoice.be.": CREATED_REMOTE,
        "Créé comme brouillon chez e-invoice.be.": CREATED_REMOTE,
        "Sent via Peppol.": SENT,
        "Verzonden via Peppol.": SENT,
        "Envoyé via Peppol.": SENT,
        "Delivered to the buyer.": DELIVERED,
        "Geleverd aan de koper.": DELIVERED,
        "Livré à l’acheteur.": DELIVERED,
        "Delivery failed.": DELIVERY_FAILED,
        "Levering mislukt.": DELIVERY_FAILED,
        "Échec de la livraison.": DELIVERY_FAILED,
        "Sent again as a new document.": SENT_AGAIN,
        "Opnieuw verzonden als een nieuw document.": SENT_AGAIN,
        "Renvoyé comme un nouveau document.": SENT_AGAIN,
        "Sends again a document whose delivery failed.": SENDS_AGAIN,
        "Verzendt opnieuw een document waarvan de levering mislukte.": SENDS_AGAIN,
        "Renvoie un document dont la livraison a échoué.": SENDS_AGAIN,
    }


# "Received from X." in the three languages: the sender becomes the parameter.
RECEIVED_PATTERNS = (
    r"^Received from (?P<sender>.*)\.$",
    r"^Ontvangen van (?P<sender>.*)\.$",
    r"^Reçu de (?P<sender>.*)\.$",
)

"""The events people can be told about: a code, a label, who may get it, and by default how.

Staff choose per event: immediately, in the daily digest, or not at all (their settings
page). Customers get the events about their own tenant's documents and may turn each off.
A reseller's webhook endpoint subscribes to any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Mode(models.TextChoices):
    IMMEDIATE = "immediate", _("Immediately")
    DIGEST = "digest", _("In the daily digest")
    OFF = "off", _("Not by email")


@dataclass(frozen=True)
class Kind:
    code: str
    label: object  # a lazy translation
    staff: str  # the staff default (a Mode)
    customer: str | None = None  # None: customers never get it; else their default


KINDS = [
    Kind("job.failed", _("A background job failed"), Mode.IMMEDIATE),
    Kind("batch.finished", _("A CSV onboarding batch finished"), Mode.IMMEDIATE),
    Kind("document.failed", _("A document could not be delivered"), Mode.DIGEST, Mode.IMMEDIATE),
    Kind("document.received", _("A document was received"), Mode.OFF, Mode.IMMEDIATE),
    Kind("key.due", _("A key is due for rotation"), Mode.DIGEST),
    Kind("key.rotated", _("A key was rotated"), Mode.DIGEST),
    Kind("peppol.registered", _("A Peppol registration is done"), Mode.DIGEST),
    Kind("peppol.held_elsewhere", _("A Peppol ID is held by another access point"), Mode.IMMEDIATE),
    Kind("peppol.released", _("A Peppol registration was released"), Mode.IMMEDIATE),
    Kind("credit.low", _("A tenant's credit is running low"), Mode.IMMEDIATE),
]
BY_CODE = {k.code: k for k in KINDS}
# Only for webhooks: the "Send test" button.
TEST = "webhook.test"
CODES = [k.code for k in KINDS]
CUSTOMER_KINDS = [k for k in KINDS if k.customer is not None]


def label(code: str) -> str:
    if code == TEST:
        return str(_("Test event"))
    kind = BY_CODE.get(code)
    return str(kind.label) if kind else code

"""The local mirror of a tenant's invoices and credit notes, and the webhook bookkeeping.

The mirror lets the document list work when the API is slow or down. A document's state only
moves forward (see `invoices.states`); every change leaves a `DocumentEvent` for the timeline.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import crypto
from invoices import timeline
from tenants.models import Tenant


class DocumentType(models.TextChoices):
    INVOICE = "INVOICE", _("Invoice")
    CREDIT_NOTE = "CREDIT_NOTE", _("Credit note")


class Direction(models.TextChoices):
    OUTBOUND = "OUTBOUND", _("Sent")
    INBOUND = "INBOUND", _("Received")


class State(models.TextChoices):
    DRAFT = "DRAFT", _("Draft")
    TRANSIT = "TRANSIT", _("In transit")
    SENT = "SENT", _("Sent")
    FAILED = "FAILED", _("Failed")
    RECEIVED = "RECEIVED", _("Received")


# The parties' fields of a document, named as the API's JSON keys (and the editor's inputs).
PARTY_FIELDS = (
    "vendor_name",
    "vendor_tax_id",
    "vendor_company_id",
    "vendor_address",
    "vendor_email",
    "customer_name",
    "customer_tax_id",
    "customer_address",
    "customer_email",
    "customer_peppol_id",
)


class Document(models.Model):
    class Origin(models.TextChoices):
        EDITOR = "editor", _("Made in the portal")
        UBL = "ubl", _("Uploaded UBL file")
        PDF = "pdf", _("Uploaded PDF file")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="documents")
    direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.OUTBOUND
    )
    document_type = models.CharField(
        _("document type"),
        max_length=16,
        choices=DocumentType.choices,
        default=DocumentType.INVOICE,
    )
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.DRAFT)
    # Where an outbound document's content comes from (received ones: the editor default).
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.EDITOR)
    # Empty until the API has created the document (or while a create is unconfirmed).
    remote_id = models.CharField(max_length=64, blank=True, default="")
    # Set before the create call: a lost answer is then adopted by number, never duplicated.
    create_attempted_at = models.DateTimeField(null=True, blank=True)
    # The content last given to the create call (sha256 of its JSON): a remote draft whose
    # digest differs from the document's content now is stale and is replaced before a send.
    # "?" = unknown (a draft created before digests were kept, then edited).
    remote_digest = models.CharField(max_length=64, blank=True)
    # A draft as the customer typed it (editor fields and rows, as text), to open it again
    # exactly so; the columns and lines below hold what of it could be read.
    draft_input = models.JSONField(default=dict, blank=True)
    # False for a draft saved before everything was filled in (or while something is wrong):
    # it has no lines stored yet and cannot be sent before it is completed in the editor.
    is_complete = models.BooleanField(default=True)

    invoice_id = models.CharField(_("number"), max_length=64)
    invoice_date = models.DateField(_("date"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    purchase_order = models.CharField(_("purchase order"), max_length=100, blank=True)
    note = models.TextField(_("note"), blank=True)
    payment_term = models.CharField(_("payment terms"), max_length=200, blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)

    vendor_name = models.CharField(_("seller"), max_length=200, blank=True)
    vendor_tax_id = models.CharField(_("seller VAT number"), max_length=32, blank=True)
    vendor_company_id = models.CharField(_("seller company number"), max_length=32, blank=True)
    vendor_address = models.TextField(_("seller address"), blank=True)
    vendor_email = models.CharField(_("seller email"), max_length=254, blank=True)
    customer_name = models.CharField(_("buyer"), max_length=200, blank=True, db_index=True)
    customer_tax_id = models.CharField(_("buyer VAT number"), max_length=32, blank=True)
    customer_company_id = models.CharField(_("buyer company number"), max_length=32, blank=True)
    customer_address = models.TextField(_("buyer address"), blank=True)
    customer_email = models.CharField(_("buyer email"), max_length=254, blank=True)
    customer_peppol_id = models.CharField(_("buyer Peppol ID"), max_length=64, blank=True)

    # A credit note corrects one of the tenant's sent invoices.
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        # RESTRICT: an invoice with credit notes cannot be deleted alone, but a tenant can.
        on_delete=models.RESTRICT,
        related_name="credit_notes",
        verbose_name=_("corrected invoice"),
    )
    billing_reference = models.CharField(_("corrected invoice number"), max_length=64, blank=True)
    # "Send again" of a FAILED document: a new document, same number and content (FAILED is
    # final at e-invoice.be: a non-draft cannot be sent again).
    replaces = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="replaced_by",
        verbose_name=_("replaces"),
    )

    line_total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0.00"))
    allowance_total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0.00"))
    charge_total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0.00"))
    subtotal = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0.00"))
    total_tax = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0.00"))
    total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0.00"))
    # [{"category": "S", "rate": "21.00", "taxable": "100.00", "tax": "21.00"}, ...]
    tax_breakdown = models.JSONField(default=list, blank=True)

    # When the current state was reached, by the clock of whoever reported it. An event
    # older than this never changes the state (out-of-order webhooks, stale polls).
    state_changed_at = models.DateTimeField(default=timezone.now)
    failure_reason = models.TextField(blank=True)
    # A send in progress: claimed with a conditional UPDATE so that it runs once.
    sending_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    # The timeline at e-invoice.be as last read, and when (before the read): the detail page
    # reads it again only after a webhook or a poll changed or checked the document.
    remote_timeline = models.JSONField(default=list, blank=True)
    remote_timeline_at = models.DateTimeField(null=True, blank=True)
    # When the poller checks a document in TRANSIT next (backs off the longer it lasts).
    next_poll_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Refused before any API call: one number per tenant for what it sends (a
            # replacement of a failed document keeps the number; each is replaced once).
            models.UniqueConstraint(
                fields=["tenant", "invoice_id"],
                condition=Q(direction="OUTBOUND", replaces__isnull=True),
                name="one_outbound_number_per_tenant",
            ),
            models.UniqueConstraint(
                fields=["tenant", "remote_id"],
                condition=~Q(remote_id=""),
                name="one_mirror_per_remote_document",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "direction", "state"]),
            models.Index(fields=["tenant", "invoice_date"]),
            models.Index(fields=["state", "next_poll_at"]),
            # The documents list's order (core.paging seeks along it).
            models.Index(
                fields=["tenant", "direction", "-created_at", "-id"], name="document_list"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_document_type_display()} {self.invoice_id}"

    @property
    def is_credit_note(self) -> bool:
        return self.document_type == DocumentType.CREDIT_NOTE

    @property
    def can_delete(self) -> bool:
        return self.direction == Direction.OUTBOUND and self.state == State.DRAFT

    @property
    def can_send(self) -> bool:
        return self.direction == Direction.OUTBOUND and self.state == State.DRAFT

    @property
    def can_edit(self) -> bool:
        """A draft opens in the editor again, as often as the customer likes (not while a send
        of it is under way). An uploaded file is sent as it is: it has no editor."""
        return self.can_send and self.sending_since is None and self.origin == self.Origin.EDITOR

    @property
    def can_credit(self) -> bool:
        """A credit note can name it: an invoice this tenant sent (or is sending)."""
        return (
            self.direction == Direction.OUTBOUND
            and self.document_type == DocumentType.INVOICE
            and self.state in (State.TRANSIT, State.SENT)
        )

    @property
    def transit_seconds(self) -> float:
        return (timezone.now() - self.state_changed_at).total_seconds()

    @property
    def poll_seconds(self) -> int:
        """How often an open page asks for this document's state: often while the network
        usually answers, then less (its retries can take up to 24 h)."""
        return 3 if self.transit_seconds < 120 else 30

    @property
    def replacement(self) -> Document | None:
        """The document that sent this failed one again, if any."""
        try:
            return self.replaced_by
        except Document.DoesNotExist:
            return None

    @property
    def can_resend(self) -> bool:
        return (
            self.direction == Direction.OUTBOUND
            and self.state == State.FAILED
            and self.replacement is None
        )


class DocumentRow(models.Model):
    """What a line and an allowance/charge have in common: a place, an amount, a VAT rate."""

    position = models.PositiveIntegerField()
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    tax_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=2)

    class Meta:
        abstract = True
        ordering = ["position"]


class DocumentLine(DocumentRow):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(_("description"), max_length=500, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=16, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=3, default="C62")
    unit_price = models.DecimalField(_("unit price"), max_digits=16, decimal_places=4)

    def __str__(self) -> str:
        return f"{self.position}. {self.description}"


class AllowanceCharge(DocumentRow):
    class Kind(models.TextChoices):
        ALLOWANCE = "allowance", _("Allowance (discount)")
        CHARGE = "charge", _("Charge (surcharge)")

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="allowances_charges"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class DocumentEvent(models.Model):
    """One line of a document's local timeline."""

    class Source(models.TextChoices):
        PORTAL = "portal", _("Portal")
        WEBHOOK = "webhook", _("Notification")
        POLL = "poll", _("Status check")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=8, choices=Source.choices)
    state = models.CharField(max_length=8, choices=State.choices, blank=True)
    # What happened, as a code of `invoices.timeline` with its parameters: worded in the
    # reader's language when shown. `message`: free text (e-invoice.be's own words, an error),
    # shown as stored when there is no code.
    code = models.CharField(max_length=32, blank=True)
    params = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Another document the line is about (a failed one and the one that sent it again).
    link = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.state} {self.text}"

    @property
    def text(self) -> str:
        """The line in the active language."""
        return timeline.render(self.code, self.params, self.message)


class Mailbox(models.Model):
    """Per tenant: its webhook at the API (registered lazily) and when its inbox was pulled."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="mailbox")
    # The secret part of our webhook URL; chosen before registering so a retry reuses it.
    webhook_token = models.CharField(max_length=64, unique=True)
    webhook_remote_id = models.CharField(max_length=64, blank=True)
    # Where the API posts: re-registered when PORTAL_BASE_URL changes.
    webhook_url = models.CharField(max_length=500, blank=True)
    # MultiFernet ciphertext of the signing secret the API returned.
    webhook_secret_encrypted = crypto.EncryptedTextField(blank=True, editable=False)
    webhook_registered_at = models.DateTimeField(null=True, blank=True)
    webhook_attempted_at = models.DateTimeField(null=True, blank=True)
    webhook_error = models.TextField(blank=True)
    inbox_synced_at = models.DateTimeField(null=True, blank=True)
    # The seller details the API holds for this tenant (GET /api/me), to prefill new documents.
    seller_profile = models.JSONField(default=dict, blank=True)
    profile_synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"mailbox of {self.tenant}"

    @property
    def has_webhook(self) -> bool:
        return bool(self.webhook_remote_id and self.webhook_secret_encrypted)

    def set_secret(self, value: str) -> None:
        self.webhook_secret_encrypted = crypto.encrypt(value)

    def reveal_secret(self) -> str:
        """Decrypt; only where a signature is checked."""
        return crypto.decrypt(self.webhook_secret_encrypted)


class WebhookEvent(models.Model):
    """Every accepted delivery, by event id: a replay hits the unique constraint and does nothing."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=100)
    event_type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    document_remote_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "event_id"], name="one_delivery_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class Attachment(models.Model):
    """A file that travels with a document (a PDF copy, a timesheet).

    The customer's files are kept here until the document is created at e-invoice.be, which
    embeds them in its UBL (`invoices.attachments`); a received document's files are listed
    from e-invoice.be and their content is read there on the first download, then kept.
    """

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="attachments")
    # The API's id of a received file (empty for the customer's own files).
    remote_id = models.CharField(max_length=64, blank=True)
    file_name = models.CharField(_("file name"), max_length=200)
    file_type = models.CharField(_("file type"), max_length=100)
    file_size = models.PositiveIntegerField(_("size"), default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    content = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "remote_id"],
                condition=~Q(remote_id=""),
                name="one_mirror_per_remote_attachment",
            )
        ]

    def __str__(self) -> str:
        return self.file_name

    @property
    def has_content(self) -> bool:
        return self.content is not None

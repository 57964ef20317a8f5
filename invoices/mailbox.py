"""A tenant's mailbox row: the webhook the API delivers to (registered once the portal holds
the tenant's key, adopted by URL after a lost answer, moved when PORTAL_BASE_URL changes) and
the seller profile read once.

No screen registers it: a GET must not write remotely. The poll task (every minute, on beat)
sets up every tenant whose key the portal holds and whose mailbox is not set up yet or points
at an old URL (setup_due), so a new key, a lost answer or a moved portal are repaired there."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from einvoice.errors import ApiError
from einvoice.tenant import TenantApi
from invoices.models import Mailbox
from tenants.models import ApiKey, Tenant

log = logging.getLogger(__name__)

PROFILE_FIELDS = (
    "company_name",
    "company_number",
    "company_tax_id",
    "company_address",
    "company_zip",
    "company_city",
    "company_country",
    "company_email",
)


def mailbox_for(tenant: Tenant) -> Mailbox:
    mailbox = Mailbox.objects.filter(tenant=tenant).first()
    if mailbox is None:
        try:
            with transaction.atomic():
                mailbox = Mailbox.objects.create(
                    tenant=tenant, webhook_token=secrets.token_urlsafe(32)
                )
        except IntegrityError:
            mailbox = Mailbox.objects.get(tenant=tenant)
    return mailbox


def webhook_url(mailbox: Mailbox) -> str:
    path = reverse("invoices:webhook", kwargs={"token": mailbox.webhook_token})
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def _register_webhook(api: TenantApi, mailbox: Mailbox, url: str) -> None:
    """Point the mailbox at the API's webhook for `url`: found by URL, else created."""
    hooks = api.list_webhooks()
    hook = next((w for w in hooks if w.url == url), None)
    if hook is None:
        hook = api.create_webhook(url)
    stale = mailbox.webhook_remote_id if mailbox.webhook_remote_id != hook.id else ""
    mailbox.webhook_remote_id = hook.id
    mailbox.webhook_url = url
    mailbox.set_secret(hook.secret)
    mailbox.webhook_registered_at = timezone.now()
    if stale and any(w.id == stale for w in hooks):
        # The portal moved (PORTAL_BASE_URL changed): stop deliveries to the old URL.
        try:
            api.delete_webhook(stale)
        except ApiError as exc:
            log.info("old webhook %s of tenant %s kept: %s", stale, mailbox.tenant_id, exc)


def _read_profile(api: TenantApi, mailbox: Mailbox) -> None:
    me = api.me()
    mailbox.seller_profile = {
        k: getattr(me, k, None) for k in PROFILE_FIELDS if getattr(me, k, None)
    }
    mailbox.profile_synced_at = timezone.now()


def _claim_setup(mailbox: Mailbox) -> bool:
    """At most one attempt per INVOICES_SETUP_RETRY_SECONDS, across processes."""
    now = timezone.now()
    retry = now - timedelta(seconds=settings.INVOICES_SETUP_RETRY_SECONDS)
    claimed = (
        Mailbox.objects.filter(pk=mailbox.pk)
        .filter(Q(webhook_attempted_at__isnull=True) | Q(webhook_attempted_at__lt=retry))
        .update(webhook_attempted_at=now)
    )
    if claimed:
        mailbox.webhook_attempted_at = now  # kept by the save that follows: the retry throttle
    return bool(claimed)


def setup_due(limit: int = 50) -> int:
    """Set up (ensure_setup) the tenants that hold a key and have no working mailbox yet;
    returns how many were tried. A failure waits INVOICES_SETUP_RETRY_SECONDS."""
    base = settings.PORTAL_BASE_URL.rstrip("/") + "/"
    retry = timezone.now() - timedelta(seconds=settings.INVOICES_SETUP_RETRY_SECONDS)
    held = ApiKey.objects.current().exclude(encrypted_value="").values("tenant_id")
    unfinished = (
        Q(mailbox__isnull=True)
        | Q(mailbox__webhook_remote_id="")
        | ~Q(mailbox__webhook_url__startswith=base)
        | Q(mailbox__profile_synced_at__isnull=True)
    )
    throttle = Q(mailbox__isnull=True) | Q(mailbox__webhook_attempted_at__isnull=True)
    throttle |= Q(mailbox__webhook_attempted_at__lt=retry)
    due = Tenant.objects.filter(is_deleted=False, pk__in=held).filter(unfinished, throttle)
    tried = 0
    for tenant in due.order_by("pk")[:limit]:
        ensure_setup(tenant)
        tried += 1
    return tried


def ensure_setup(tenant: Tenant) -> Mailbox:
    """Register our webhook and read the seller profile (from the poll task, never a GET).

    The webhook URL is chosen before the call, so a retry after a lost answer finds the
    webhook by URL and adopts its secret instead of registering a second one. Failures are
    recorded and retried at most every INVOICES_SETUP_RETRY_SECONDS; polling covers meanwhile.
    """
    mailbox = mailbox_for(tenant)
    url = webhook_url(mailbox)
    if mailbox.has_webhook and mailbox.webhook_url == url and mailbox.profile_synced_at:
        return mailbox
    if not _claim_setup(mailbox):
        return mailbox
    api = TenantApi(tenant)
    try:
        if not mailbox.has_webhook or mailbox.webhook_url != url:
            _register_webhook(api, mailbox, url)
        if not mailbox.profile_synced_at:
            _read_profile(api, mailbox)
        mailbox.webhook_error = ""
    except ApiError as exc:
        mailbox.webhook_error = str(exc)[:1000]
        log.info("setup of tenant %s postponed: %s", tenant.pk, exc)
    mailbox.save()
    return mailbox

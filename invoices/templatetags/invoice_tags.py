"""Small template helpers of the invoice screens."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()


@register.filter
def get(mapping, key):
    """{{ mapping|get:key }}: a dict lookup with a variable key (None when absent)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def amount(value) -> str:
    """1234.5 → "1,234.50": two decimals and thousands separators, for money columns."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return ""
    if not number.is_finite():
        return ""
    return f"{number.quantize(Decimal('0.01')):,.2f}"


@register.filter
def rate(value) -> str:
    """21.00 → "21", 5.50 → "5.5": a VAT rate without trailing zeros."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return str(value or "")
    if not number.is_finite():
        return ""
    text = format(number.normalize(), "f")
    return text


TIMELINE_EVENTS = {
    "email_received": _("Received by email"),
    "email_processed": _("Email processed"),
    "document_created": _("Created"),
    "send_attempted": _("Sending via Peppol"),
    "send_failed": _("Delivery failed"),
    "send_success": _("Delivered"),
    "receive_success": _("Received via Peppol"),
    "mlr_received": _("Message level response received"),
    "imr_received": _("Invoice response received"),
}


@register.filter
def event_label(event_type) -> str:
    """A timeline event type of the API in words."""
    return str(TIMELINE_EVENTS.get(str(event_type), event_type))

"""Small template helpers of the invoice screens."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
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


def _issue_html(issues, where: str) -> str:
    parts = []
    for m in issues or []:
        warning = (
            format_html('<span class="badge warn">{}</span> ', _("Warning"))
            if m.severity == "warning"
            else ""
        )
        detail = format_html(' <small class="muted">{}</small>', m.detail) if m.detail else ""
        parts.append(
            format_html(
                '<p class="error issue {}" data-issue="{}">{}{}{}</p>',
                m.severity,
                where,
                warning,
                m.text,
                detail,
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 - every part built with format_html


@register.simple_tag(takes_context=True)
def field(context, bound, issues=None) -> str:
    """A labelled input with its own errors and the API's issues for it (rendered in Python:
    the editor has twenty of these and templates made them its slowest part)."""
    show_errors = context.get("show_errors")
    errors = bound.errors if show_errors else []
    name = bound.html_name
    required = mark_safe(' <span aria-hidden="true">*</span>') if bound.field.required else ""
    help_text = (
        format_html('<small class="help">{}</small>', bound.help_text) if bound.help_text else ""
    )
    error_html = format_html_join(
        "", '<p class="error" data-error="{}">{}</p>', ((name, e) for e in errors)
    )
    return format_html(
        '<div class="field{}" id="field-{}">\n  <label for="{}">{}{}</label>\n  {}\n  {}{}{}\n</div>',
        " has-error" if errors or issues else "",
        name,
        bound.id_for_label,
        bound.label,
        required,
        bound,
        help_text,
        error_html,
        _issue_html(issues, name),
    )

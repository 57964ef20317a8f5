"""Template helpers of the readable document (invoices/document.html)."""

from django import template

from invoices.rendering import money_text

register = template.Library()


@register.filter
def money(value, currency: str = "EUR") -> str:
    """{{ amount|money:"EUR" }} → "€ 1.234,50" in Dutch, "1 234,50 €" in French."""
    return money_text(value, currency)

"""The main navigation's links, written by a tag rather than a template included per link:
the top bar is on every page, and its six includes cost more than the rest of it."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context: template.Context, name: str, label: str, section: bool = False) -> SafeString:
    """One link of the main navigation: aria-current="page" on the page itself, "true" on
    the pages under it (`section`)."""
    href = reverse(name)
    path = context["request"].path
    if path == href:
        current = mark_safe(' aria-current="page"')
    elif section and href in path:
        current = mark_safe(' aria-current="true"')
    else:
        current = ""
    return format_html('<li><a href="{}"{}>{}</a></li>', href, current, label)

"""The logging filter masks keys wherever they turn up in a record."""

import logging

import pytest

from core.logfilter import MaskSecretsFilter, mask_secrets

KEY = "einv_live_canary_9f8e7d6c5b4a"


@pytest.mark.parametrize(
    "text",
    [
        f"created key {KEY}",
        "Authorization: Bearer sk-something-not-einv-shaped",
        "{'authorization': 'Bearer abc.def'}",
        '{"Authorization": "Basic dXNlcjpwYXNz"}',
        "X-API-Key: secretvalue123",
        '{"api_key": "secretvalue123"}',
    ],
)
def test_it_masks_keys_and_credentials_headers(text):
    masked = mask_secrets(text)
    assert "[redacted]" in masked
    for secret in [KEY, "sk-something", "abc.def", "dXNlcjpwYXNz", "secretvalue123"]:
        assert secret not in masked


def test_it_leaves_ordinary_text_alone():
    text = "GET /api/admin/tenants/tenant_abc/api-keys -> 200 in 12 ms"
    assert mask_secrets(text) == text


def _emit(logger_name: str, *args, exc_info=None) -> logging.LogRecord:
    record = logging.getLogger(logger_name).makeRecord(
        logger_name, logging.ERROR, __file__, 1, args[0], args[1:], exc_info
    )
    MaskSecretsFilter().filter(record)
    return record


def test_it_masks_format_arguments_and_tracebacks():
    try:
        raise RuntimeError(f"boom with {KEY}")
    except RuntimeError:
        import sys

        record = _emit("celery.worker", "task failed for %s", KEY, exc_info=sys.exc_info())
    formatted = logging.Formatter().format(record)
    assert KEY not in formatted
    assert "task failed for [redacted]" in formatted
    assert "RuntimeError: boom with [redacted]" in formatted


def test_the_filter_is_on_every_configured_handler(settings):
    for handler in settings.LOGGING["handlers"].values():
        assert "mask_secrets" in handler["filters"]

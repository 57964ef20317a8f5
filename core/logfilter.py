"""A logging filter that masks API keys and Authorization headers in every record."""

import logging
import re

# einv_ keys (tenant and organization), and whatever follows "Bearer".
SECRET_PATTERNS = [
    re.compile(r"einv_[A-Za-z0-9_\-]{4,}"),
    re.compile(r"(?i)(bearer\s+)[^\s'\",}]+"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}]+"),
    # Header or JSON field named like an API key: X-API-Key: …, "api_key": "…".
    re.compile(r"(?i)(x?-?api[_-]?key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
]
MASK = "[redacted]"


def mask_secrets(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        else:
            text = pattern.sub(MASK, text)
    return text


class MaskSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            return True
        masked = mask_secrets(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True

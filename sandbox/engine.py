"""Access to the EN 16931 checks (sandbox/en16931/), imported lazily.

The interface: ``validate_document(payload) -> list[issue]``, ``compute_totals(payload) -> dict``
and ``to_ubl(payload, document_id) -> str``. Issues are normalised here to the spec's
ValidationIssue shape, so the SDK can always parse them.
"""

from __future__ import annotations

import importlib
from decimal import Decimal
from types import ModuleType
from typing import Any

_module: ModuleType | None = None


def module() -> ModuleType:
    """sandbox.en16931, imported on first use (it is large; control calls never need it)."""
    global _module
    if _module is None:
        _module = importlib.import_module("sandbox.en16931")
    return _module


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def validate(payload: dict[str, Any]) -> list[dict[str, Any]]:
    issues = []
    for raw in module().validate_document(payload):
        issue_type = raw.get("type") if raw.get("type") in ("error", "warning") else "error"
        issues.append(
            {
                "message": str(raw.get("message") or ""),
                "type": issue_type,
                "location": _text(raw.get("location")),
                "rule_id": _text(raw.get("rule_id")),
                "flag": _text(raw.get("flag")) or ("fatal" if issue_type == "error" else "warning"),
                "test": _text(raw.get("test")),
                "schematron": _text(raw.get("schematron")) or "EN16931",
            }
        )
    return issues


def errors_only(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [issue for issue in issues if issue["type"] == "error"]


def compute_totals(payload: dict[str, Any]) -> dict[str, Any]:
    return dict(module().compute_totals(payload))


def to_ubl(payload: dict[str, Any], document_id: str) -> str:
    return str(module().to_ubl(payload, document_id))


def as_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except ArithmeticError:
        return None

"""What e-invoice.be's OpenAPI file (sandbox/data/) fixes per operation, read once from the file.

Today: which 422 shape an operation documents. ``ErrorResponse`` is ``{"detail": "<string>"}``;
``HTTPValidationError`` is FastAPI's list of ``{"loc", "msg", "type"}``. Routes outside the file
(the Admin API, /_sandbox) keep the list shape, as the Admin API guide shows it.
"""

from __future__ import annotations

from functools import cache

from sandbox.schemas import spec

ERROR_RESPONSE = "ErrorResponse"
VALIDATION_LIST = "HTTPValidationError"


@cache
def _shapes() -> dict[tuple[str, str], str]:
    shapes = {}
    for path, operations in spec()["paths"].items():
        for method, operation in operations.items():
            content = operation.get("responses", {}).get("422", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref:
                shapes[(method.upper(), path)] = ref.rsplit("/", 1)[-1]
    return shapes


def validation_shape(method: str, route_path: str) -> str:
    """The 422 body shape the file documents for this route (FastAPI's list if it is silent)."""
    return _shapes().get((method.upper(), route_path), VALIDATION_LIST)

"""Error bodies exactly as the guides document them.

The Admin API guide documents validation errors in FastAPI's (pydantic v1) shape:
``{"detail": [{"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"}]}``.
Pydantic v2 words and types errors differently, so they are translated back here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox import contract

AUTH_FAILED = "Invalid authentication credentials"


class ApiError(Exception):
    """An error answered as ``{"detail": ..., **extra}``."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers


def unauthorized() -> ApiError:
    return ApiError(401, AUTH_FAILED, headers={"WWW-Authenticate": "Bearer"})


def field_error(loc: Sequence[str | int], msg: str, type_: str = "value_error") -> ApiError:
    """A hand-made 422 in the same shape as the automatic ones."""
    return ApiError(422, "", extra={"detail": [{"loc": list(loc), "msg": msg, "type": type_}]})


_SIMPLE = {
    "missing": ("field required", "value_error.missing"),
    "string_type": ("str type expected", "type_error.str"),
    "int_type": ("value is not a valid integer", "type_error.integer"),
    "int_parsing": ("value is not a valid integer", "type_error.integer"),
    "int_from_float": ("value is not a valid integer", "type_error.integer"),
    "float_type": ("value is not a valid float", "type_error.float"),
    "float_parsing": ("value is not a valid float", "type_error.float"),
    "bool_type": ("value could not be parsed to a boolean", "type_error.bool"),
    "bool_parsing": ("value could not be parsed to a boolean", "type_error.bool"),
    "list_type": ("value is not a valid list", "type_error.list"),
    "dict_type": ("value is not a valid dict", "type_error.dict"),
    "model_type": ("value is not a valid dict", "type_error.dict"),
    "model_attributes_type": ("value is not a valid dict", "type_error.dict"),
    "none_required": ("value is not None", "type_error.none.allowed"),
    "date_type": ("invalid date format", "value_error.date"),
    "date_parsing": ("invalid date format", "value_error.date"),
    "date_from_datetime_parsing": ("invalid date format", "value_error.date"),
    "date_from_datetime_inexact": ("invalid date format", "value_error.date"),
    "datetime_type": ("invalid datetime format", "value_error.datetime"),
    "datetime_parsing": ("invalid datetime format", "value_error.datetime"),
    "datetime_from_date_parsing": ("invalid datetime format", "value_error.datetime"),
    "url_type": ("invalid or missing URL scheme", "value_error.url.scheme"),
    "url_parsing": ("invalid or missing URL scheme", "value_error.url.scheme"),
    "url_scheme": ("URL scheme not permitted", "value_error.url.scheme"),
}

# Length errors: (bound, ctx key, unit, v1 type).
_LENGTHS: dict[str, tuple[str, str, str, str]] = {
    "too_short": ("at least", "min_length", "items", "value_error.list.min_items"),
    "too_long": ("at most", "max_length", "items", "value_error.list.max_items"),
    "string_too_short": ("at least", "min_length", "characters", "value_error.any_str.min_length"),
    "string_too_long": ("at most", "max_length", "characters", "value_error.any_str.max_length"),
}


def _v1(error: dict[str, Any]) -> dict[str, Any]:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    loc = list(error.get("loc", ()))
    if kind in _SIMPLE:
        msg, v1_type = _SIMPLE[kind]
    elif kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", ""))
        msg = "value is not a valid enumeration member"
        if len(expected) < 300:  # the unit-code list has ~900 members: not worth echoing
            msg += f"; permitted: {expected}"
        v1_type = "type_error.enum"
    elif kind in _LENGTHS:
        bound, key, unit, v1_type = _LENGTHS[kind]
        msg = f"ensure this value has {bound} {ctx.get(key)} {unit}"
    elif kind == "string_pattern_mismatch":
        msg, v1_type = (
            f'string does not match regex "{ctx.get("pattern")}"',
            "value_error.str.regex",
        )
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {
            "greater_than_equal": ("greater than or equal to", "not_ge"),
            "greater_than": ("greater than", "not_gt"),
            "less_than_equal": ("less than or equal to", "not_le"),
            "less_than": ("less than", "not_lt"),
        }[kind]
        bound = next(iter(ctx.values()), "")
        msg, v1_type = f"ensure this value is {words[0]} {bound}", f"value_error.number.{words[1]}"
    elif kind == "json_invalid":
        msg, v1_type = str(ctx.get("error", "JSON decode error")), "value_error.jsondecode"
    elif kind == "value_error":
        msg = str(error.get("msg", "")).removeprefix("Value error, ")
        v1_type = "value_error"
    else:
        # Custom errors (PydanticCustomError) already carry a v1-style type and message.
        msg, v1_type = str(error.get("msg", "")), kind
    return {"loc": loc, "msg": msg, "type": v1_type}


def v1_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [_v1(dict(e)) for e in errors]


def summary(errors: Sequence[dict[str, Any]]) -> str:
    """Validation errors as one line of text: the ErrorResponse form of a 422."""
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "Validation error: " + "; ".join(parts)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """422 in the shape the OpenAPI file documents for the operation (see sandbox/contract.py)."""
    assert isinstance(exc, RequestValidationError)
    errors = v1_errors(exc.errors())
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    lists_always = request.app.state.sandbox.config.validation_lists
    if (
        not lists_always
        and contract.validation_shape(request.method, path) == contract.ERROR_RESPONSE
    ):
        return JSONResponse(status_code=422, content={"detail": summary(errors)})
    return JSONResponse(status_code=422, content={"detail": errors})


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    content: dict[str, Any] = {"detail": exc.detail, **exc.extra}
    return JSONResponse(status_code=exc.status_code, content=content, headers=exc.headers)


# FastAPI's own 400s for a body it cannot parse at all; the file documents no 400 on those
# operations, only a 422, so they are answered as one (in the shape the operation documents).
_UNPARSEABLE = ("There was an error parsing the body", "Invalid multipart data.")


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail in _UNPARSEABLE:
        error = {"loc": ["body"], "msg": str(exc.detail), "type": "value_error.jsondecode"}
        return await validation_error_handler(request, RequestValidationError([error]))
    return JSONResponse(
        status_code=exc.status_code,
        content={"detail": exc.detail},
        headers=getattr(exc, "headers", None),
    )

"""Texts that are stored and read later, by someone who may read another language.

A sentence worded when it was written stays in the writer's language: a CSV row checked by a
Dutch colleague would show Dutch errors to the English one. So such a text is kept as a code
with its parameters and worded when it is read, in the reader's language.

`define()` names a wording (a gettext_lazy template, or a function of the parameters for a
wording with defaults of its own); `Coded(code, **params)` is the text in the active language
that remembers its code and parameters, so it can be shown now and stored (`stored()`) for
later; `render()` words a stored text in the active language. A text stored before codes
existed is a plain string and is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.utils.functional import Promise

# A wording: a lazy template with %(name)s placeholders, or a function of the parameters.
Wording = Promise | Callable[[Mapping[str, Any]], str]
_WORDINGS: dict[str, Wording] = {}


def define(code: str, wording: Wording) -> str:
    """Register `code`'s wording (once: two wordings for one code would make stored texts
    ambiguous); returns the code, for a module constant."""
    known = _WORDINGS.setdefault(code, wording)
    if known is not wording:
        raise ValueError(f"text code {code!r} is defined twice")
    return code


def word(code: str, params: Mapping[str, Any] | None = None, fallback: str = "") -> str:
    """`code` worded in the active language; `fallback` when the code is not known (any more)
    or its parameters do not fit the wording."""
    wording = _WORDINGS.get(code)
    if wording is None:
        return fallback
    params = params or {}
    if not isinstance(wording, Promise):
        return wording(params)
    text = str(wording)
    try:
        return text % params if "%(" in text else text
    except (KeyError, TypeError, ValueError):
        return fallback or text


class Coded(str):
    """A text in the active language that keeps its code and parameters (JSON values)."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, **params: Any) -> Coded:
        if code not in _WORDINGS:
            raise KeyError(f"unknown text code {code!r}")
        text = super().__new__(cls, word(code, params))
        text.code, text.params = code, params
        return text

    def __reduce__(self) -> tuple:
        # Copies (forms deep-copy their errors) and pickles keep the words as they are.
        return _restore, (str.__str__(self), self.code, self.params)

    def stored(self) -> dict[str, Any]:
        """What a JSON field keeps: the code and parameters, and the words as written (shown
        if the code is ever retired)."""
        return {"code": self.code, "params": self.params, "text": str.__str__(self)}


def _restore(text: str, code: str, params: dict[str, Any]) -> Coded:
    restored = str.__new__(Coded, text)
    restored.code, restored.params = code, params
    return restored


def stored(text: str) -> dict[str, Any] | str:
    """What to keep of a text: its code and parameters when it has them, else the words."""
    return text.stored() if isinstance(text, Coded) else str(text)


def render(value: Mapping[str, Any] | str) -> str:
    """A stored text in the active language: a {"code", "params", "text"} mapping, or a plain
    string (stored before codes existed, or never coded), shown as it is."""
    if isinstance(value, Mapping):
        return word(str(value.get("code") or ""), value.get("params"), str(value.get("text") or ""))
    return str(value)


def of_error(error: BaseException | str) -> str:
    """An error's text, as a Coded one when the error was raised with a Coded message."""
    if isinstance(error, BaseException):
        first = error.args[0] if len(error.args) == 1 else None
        return first if isinstance(first, Coded) else str(error)
    return error

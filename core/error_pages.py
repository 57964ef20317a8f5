"""Our 404 and 403 pages, in DEBUG too, and one log line for each instead of a traceback.

With DEBUG on (the embedded default) Django answers a view's Http404 with its debug page,
which lists every URL pattern; and a PermissionDenied is logged with its full traceback,
although it is an answer, not a fault. Unmatched URLs still get Django's debug 404 in DEBUG.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults


class ErrorPagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Django's handler logs each 4xx answer once ("Forbidden: /path"), without a traceback.
        if isinstance(exception, Http404):
            return defaults.page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return defaults.permission_denied(request, exception)
        return None

"""The tenant API (invoice-api-guide.txt + tenant-api-openapi.json), one router per concern."""

from __future__ import annotations

from fastapi import APIRouter

from sandbox.tenant_api import attachments, document, listings, lookup, me, uploads, validate

router = APIRouter()
for _module in (validate, lookup, me, uploads, document, attachments, listings):
    router.include_router(_module.router)
files_router = APIRouter()
for _module in (document, attachments):
    files_router.include_router(_module.files_router)

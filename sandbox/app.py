"""The FastAPI application: Admin API + tenant API + /_sandbox control endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox import admin_api, control, tenant_api, webhooks
from sandbox.config import Settings
from sandbox.core import Sandbox
from sandbox.errors import ApiError, api_error_handler, http_error_handler, validation_error_handler
from sandbox.middleware import SandboxMiddleware
from sandbox.persistence import StateFile


def create_app(settings: Settings | None = None) -> FastAPI:
    sandbox = Sandbox(settings or Settings.from_env())
    state_file = None
    if sandbox.config.state_file:
        state_file = StateFile(sandbox.config.state_file, sandbox.store)
        state_file.load()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state_file is not None:
            state_file.start()
        yield
        sandbox.shutdown()
        if state_file is not None:
            state_file.stop()

    app = FastAPI(
        title="e-invoice.be sandbox",
        description="In-memory emulator of the e-invoice.be Admin API and tenant API",
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.include_router(admin_api.router)
    app.include_router(tenant_api.router)
    app.include_router(tenant_api.files_router)
    app.include_router(webhooks.router)
    app.include_router(control.router)
    app.add_middleware(SandboxMiddleware, sandbox=sandbox)
    return app

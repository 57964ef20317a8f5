"""Webhooks: CRUD, history, test, and signed delivery with retries.

Signature: ``X-Signature: sha256=<hex>``, HMAC-SHA256 keyed with the webhook secret over the
exact request body, which is e-invoice.be's documented ``json.dumps(event, sort_keys=True)``
(default separators ``", "`` and ``": "``, non-ASCII as ``\\uXXXX``), UTF-8, where
``event = {"id", "timestamp", "type", "data"}``. The ``webhook_compact_json`` setting keeps the
sandbox's old compact separators. Redirects are not followed (3xx = failure).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends

from sandbox.core import Sandbox, get_sandbox, require_tenant
from sandbox.errors import ApiError
from sandbox.schemas import WEBHOOK_EVENTS, WebhookCreate, WebhookTestRequest, WebhookUpdate
from sandbox.state import Tenant, Webhook, iso, new_id, now_utc

router = APIRouter(prefix="/api/webhooks")

TenantDep = Annotated[Tenant, Depends(require_tenant)]
SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]

WEBHOOK_NOT_FOUND = "Webhook not found"


def serialize(event: dict[str, Any], compact: bool = False) -> bytes:
    """The exact bytes that are POSTed and signed."""
    if compact:
        return json.dumps(event, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return json.dumps(event, sort_keys=True).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def make_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": new_id("evt"), "timestamp": iso(now_utc()), "type": event_type, "data": data}


def emit(sandbox: Sandbox, tenant_id: str, event_type: str, data: dict[str, Any]) -> None:
    """Queue ``event_type`` for every enabled webhook of the tenant subscribed to it."""
    store = sandbox.store
    with store.lock:
        targets = [
            w
            for w in store.webhooks.values()
            if w.tenant_id == tenant_id and w.enabled and event_type in w.events
        ]
        generation = store.generation
        for webhook in targets:
            event = make_event(event_type, data)
            delivery = _new_delivery(webhook, event)
            sandbox.deliveries.call_later(
                0, _attempt, sandbox, generation, webhook.id, delivery["id"], 1
            )


def _new_delivery(webhook: Webhook, event: dict[str, Any], test: bool = False) -> dict[str, Any]:
    delivery: dict[str, Any] = {
        "id": new_id("whd"),
        "event_id": event["id"],
        "event_type": event["type"],
        "created_at": iso(now_utc()),
        "status": "pending",
        "attempts": 0,
        "last_status_code": None,
        "last_error": None,
        "test": test,
        "attempt_log": [],
        "payload": event,
    }
    webhook.history.append(delivery)
    return delivery


def _post(
    url: str, secret: str, event: dict[str, Any], timeout: float, compact: bool = False
) -> dict[str, Any]:
    body = serialize(event, compact)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "e-invoice-sandbox-webhooks/1.0",
        "X-Signature": sign(secret, body),
    }
    started = time.monotonic()
    result: dict[str, Any] = {"timestamp": iso(now_utc()), "status_code": None, "error": None}
    try:
        with httpx.Client(follow_redirects=False, timeout=timeout) as client:
            response = client.post(url, content=body, headers=headers)
        result["status_code"] = response.status_code
        if not 200 <= response.status_code < 300:
            result["error"] = f"HTTP {response.status_code}" + (
                " (redirects are not followed)" if 300 <= response.status_code < 400 else ""
            )
    except httpx.HTTPError as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    result["success"] = result["error"] is None
    return result


def _record_attempt(delivery: dict[str, Any], attempt: int, result: dict[str, Any]) -> None:
    """Log one attempt's result on the delivery (the caller holds the store lock)."""
    delivery["attempts"] = attempt
    delivery["attempt_log"].append({"attempt": attempt, **result})
    delivery["last_status_code"] = result["status_code"]
    delivery["last_error"] = result["error"]


def _attempt(
    sandbox: Sandbox, generation: int, webhook_id: str, delivery_id: str, attempt: int
) -> None:
    store = sandbox.store
    with store.lock:
        webhook = store.webhooks.get(webhook_id)
        if store.generation != generation or webhook is None:
            return
        delivery = next((d for d in webhook.history if d["id"] == delivery_id), None)
        if delivery is None:
            return
        url, secret, event = webhook.url, webhook.secret, delivery["payload"]
        delays = list(sandbox.config.webhook_retry_delays)
        timeout, compact = sandbox.config.webhook_timeout, sandbox.config.webhook_compact_json
    result = _post(url, secret, event, timeout, compact)  # outside the lock: it may take seconds
    with store.lock:
        if store.generation != generation:
            return
        _record_attempt(delivery, attempt, result)
        if result["success"]:
            delivery["status"] = "delivered"
        elif attempt <= len(delays):
            delivery["status"] = "retrying"
            sandbox.deliveries.call_later(
                delays[attempt - 1],
                _attempt,
                sandbox,
                generation,
                webhook_id,
                delivery_id,
                attempt + 1,
            )
        else:
            delivery["status"] = "failed"


def _webhook(sandbox: Sandbox, tenant: Tenant, webhook_id: str) -> Webhook:
    webhook = sandbox.store.webhooks.get(webhook_id)
    if webhook is None or webhook.tenant_id != tenant.id:
        raise ApiError(404, WEBHOOK_NOT_FOUND)
    return webhook


@router.get("/")
def list_webhooks(tenant: TenantDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with sandbox.store.lock:
        hooks = [w for w in sandbox.store.webhooks.values() if w.tenant_id == tenant.id]
        return [w.as_api() for w in sorted(hooks, key=lambda w: w.seq)]


@router.post("/", status_code=201)
def create_webhook(body: WebhookCreate, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    store = sandbox.store
    with store.lock:
        webhook = Webhook(
            id=new_id("wh"),
            tenant_id=tenant.id,
            url=str(body.url),
            events=list(dict.fromkeys(body.events)),
            enabled=body.enabled,
            secret=f"whsec_{secrets.token_hex(24)}",
            created_at=now_utc(),
            seq=store.next_seq(),
        )
        store.webhooks[webhook.id] = webhook
        return webhook.as_api()


@router.get("/{webhook_id}")
def get_webhook(webhook_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        return _webhook(sandbox, tenant, webhook_id).as_api()


@router.put("/{webhook_id}")
def update_webhook(
    webhook_id: str, body: WebhookUpdate, tenant: TenantDep, sandbox: SandboxDep
) -> dict[str, Any]:
    with sandbox.store.lock:
        webhook = _webhook(sandbox, tenant, webhook_id)
        if body.url is not None:
            webhook.url = str(body.url)
        if body.events is not None:
            webhook.events = list(dict.fromkeys(body.events))
        if body.enabled is not None:
            webhook.enabled = body.enabled
        return webhook.as_api()


@router.delete("/{webhook_id}")
def delete_webhook(webhook_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, bool]:
    with sandbox.store.lock:
        webhook = _webhook(sandbox, tenant, webhook_id)
        del sandbox.store.webhooks[webhook.id]
        return {"is_deleted": True}


@router.get("/{webhook_id}/history")
def webhook_history(
    webhook_id: str, tenant: TenantDep, sandbox: SandboxDep
) -> dict[str, list[dict[str, Any]]]:
    """Deliveries, newest first. The file documents no 404 here: an unknown id has no history."""
    with sandbox.store.lock:
        webhook = sandbox.store.webhooks.get(webhook_id)
        if webhook is None or webhook.tenant_id != tenant.id:
            return {"history": []}
        return {"history": json.loads(json.dumps(list(reversed(webhook.history))))}


@router.post("/{webhook_id}/test")
def test_webhook(
    webhook_id: str, body: WebhookTestRequest, tenant: TenantDep, sandbox: SandboxDep
) -> dict[str, Any]:
    """One delivery attempt, made while the caller waits (no retries)."""
    store = sandbox.store
    with store.lock:
        webhook = _webhook(sandbox, tenant, webhook_id)
        if body.event_type not in WEBHOOK_EVENTS:
            raise ApiError(
                422,
                f"Invalid event_type {body.event_type!r}; valid: {', '.join(WEBHOOK_EVENTS)}",
            )
        if body.event_type not in webhook.events:
            raise ApiError(422, f"Webhook is not subscribed to {body.event_type}")
        event = make_event(body.event_type, body.data)
        delivery = _new_delivery(webhook, event, test=True)
        url, secret, timeout = webhook.url, webhook.secret, sandbox.config.webhook_timeout
        compact = sandbox.config.webhook_compact_json
    result = _post(url, secret, event, timeout, compact)
    with store.lock:
        _record_attempt(delivery, 1, result)
        delivery["status"] = "delivered" if result["success"] else "failed"
    return {
        "success": result["success"],
        "message": "Test event delivered"
        if result["success"]
        else f"Test event delivery failed: {result['error']}",
        "webhook_delivery_result": {"event_id": event["id"], **result},
    }

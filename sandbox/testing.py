"""Starting and driving a sandbox process from tests and benchmarks (no pytest needed).

with SandboxProcess(env={"SANDBOX_SEND_DELAY": "0.2"}) as handle:
    tenant, key = handle.create_tenant_with_key("acme-bv", peppol_ids=["0208:0706165839"])
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from sandbox.config import DEFAULT_ORG_KEY

REPO_ROOT = Path(__file__).resolve().parent.parent


# Settings that choose between plausible behaviours of the real service (set_behaviour).
BEHAVIOURS = frozenset(
    {
        "retry_after",
        "latest_key",
        "test_mode_default",
        "test_mode_exit",
        "peppol_ids",
        "unregistered_can_send",
        "tenant_rate_per_minute",
        "tenant_rate_per_hour",
    }
)


class SandboxError(RuntimeError):
    pass


class SandboxHandle:
    """A running sandbox: its base URL, the organization key and the control endpoints."""

    def __init__(self, url: str, org_key: str = DEFAULT_ORG_KEY, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.org_key = org_key
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def __repr__(self) -> str:
        return f"SandboxHandle(url={self.url!r})"

    def close(self) -> None:
        self._http.close()

    # --- control endpoints ---------------------------------------------------------------------

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, f"/_sandbox{path}", **kwargs)
        if response.status_code >= 400:
            raise SandboxError(f"{method} /_sandbox{path}: {response.status_code} {response.text}")
        return response.json()

    def health(self) -> bool:
        try:
            return self._http.get("/_sandbox/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def reset(self) -> None:
        """Forget all data, faults, rate-limit history and config changes."""
        self._control("POST", "/reset")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the fault set, e.g. ``set_faults(rules=[{"method": "POST", "path":
        "/api/admin/tenants", "status": 503, "times": 2}])`` (see sandbox/README.md)."""
        return self._control("POST", "/faults", json=faults)

    def clear_faults(self) -> None:
        self._control("DELETE", "/faults")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change any run-time setting (sandbox/README.md lists them) until the next reset."""
        return self._control("POST", "/config", json=changes)

    def set_behaviour(self, **choices: Any) -> dict[str, Any]:
        """Pick one of the plausible behaviours where e-invoice.be's guides are silent, until the
        next reset: ``retry_after`` ("always"/"sometimes"/"never"), ``latest_key``
        ("active"/"created"), ``test_mode_default`` (bool), ``test_mode_exit``
        ("update"/"ignore"/"refuse"), ``peppol_ids`` ("at_most_one"/"exactly_one"),
        ``unregistered_can_send`` (bool), ``tenant_rate_per_minute``/``tenant_rate_per_hour``."""
        unknown = set(choices) - BEHAVIOURS
        if unknown:
            raise SandboxError(f"not a behaviour setting: {', '.join(sorted(unknown))}")
        return self.configure(**choices)

    def set_test_mode(self, tenant_id: str, test_mode: bool) -> dict[str, Any]:
        """Switch a tenant's test mode as e-invoice.be's support would (whatever test_mode_exit)."""
        return self._control(
            "POST", f"/tenants/{tenant_id}/test-mode", json={"test_mode": test_mode}
        )

    def add_usage(
        self,
        tenant_id: str,
        days: list[dict[str, Any]] = (),
        *,
        plan: str | None = None,
        credit_balance: int | None = None,
    ) -> dict[str, Any]:
        """Past actions ([{"day": "2026-01-31", "sent": 3, "received": 1}]) and the plan and
        credits /api/me and /api/stats then show."""
        body: dict[str, Any] = {"days": [dict(d, day=str(d["day"])) for d in days]}
        if plan is not None:
            body["plan"] = plan
        if credit_balance is not None:
            body["credit_balance"] = credit_balance
        return self._control("POST", f"/tenants/{tenant_id}/usage", json=body)

    # --- the Peppol directory outside the sandbox ----------------------------------------------

    def participants(self) -> list[dict[str, Any]]:
        """Outside participants: peppol_id, name, access_point, smp_host, document_types, …"""
        return self._control("GET", "/participants")["participants"]

    def add_participant(self, peppol_id: str, name: str, **fields: Any) -> dict[str, Any]:
        """Register an ID with another access point (``access_point``, ``smp_host``, …)."""
        return self._control(
            "POST", "/participants", json={"peppol_id": peppol_id, "name": name, **fields}
        )

    def release_participant(self, peppol_id: str) -> dict[str, Any]:
        """The other access point lets the ID go: a sandbox tenant can now register it."""
        return self._control("DELETE", f"/participants/{peppol_id}")

    def move_participant(self, peppol_id: str, access_point: str, smp_host: str) -> dict[str, Any]:
        """The ID migrates to yet another outside access point."""
        body = {"access_point": access_point, "smp_host": smp_host}
        return self._control("POST", f"/participants/{peppol_id}/move", json=body)

    def config(self) -> dict[str, Any]:
        return self._control("GET", "/config")

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The request log: method, path, query, status, org/tenant identity, time, fault."""
        return self._control("GET", "/requests", params={"since": since})["requests"]

    def receive(
        self, tenant_id: str, document: dict[str, Any], sender_peppol_id: str = "0208:0848934496"
    ) -> dict[str, Any]:
        """Drop a document from an outside participant into a tenant's inbox."""
        body = {"tenant_id": tenant_id, "document": document, "sender_peppol_id": sender_peppol_id}
        return self._control("POST", "/receive", json=body)

    # --- Admin API conveniences ----------------------------------------------------------------

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A raw Admin API call with the organization key (counts against its rate limit)."""
        headers = {"Authorization": f"Bearer {self.org_key}", **kwargs.pop("headers", {})}
        return self._http.request(method, path, headers=headers, **kwargs)

    def tenant_client(self, key: str, **kwargs: Any) -> httpx.Client:
        """An httpx client for the tenant API, authenticated with a tenant key."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, **kwargs)

    def create_tenant_with_key(self, name: str, **fields: Any) -> tuple[dict[str, Any], str]:
        """Create a tenant and one API key; returns (tenant, key value)."""
        response = self.admin("POST", "/api/admin/tenants", json={"name": name, **fields})
        if response.status_code != 201:
            raise SandboxError(f"create tenant: {response.status_code} {response.text}")
        tenant = response.json()
        response = self.admin(
            "POST", f"/api/admin/tenants/{tenant['id']}/api-keys", json={"name": f"{name}-key"}
        )
        if response.status_code != 201:
            raise SandboxError(f"create key: {response.status_code} {response.text}")
        return tenant, response.json()["key"]

    def register(
        self, tenant_id: str, peppol_id: str, company_name: str | None = None
    ) -> dict[str, Any]:
        """Register a tenant on the (sandbox) Peppol network; returns the Peppol status."""
        body: dict[str, Any] = {"peppol_id": peppol_id}
        if company_name is not None:
            body["company_name"] = company_name
        response = self.admin("POST", f"/api/admin/tenants/{tenant_id}/peppol/register", json=body)
        if response.status_code != 200:
            raise SandboxError(f"register: {response.status_code} {response.text}")
        return response.json()

    def wait_for_state(
        self, key: str, document_id: str, states: str | set[str], timeout: float = 30.0
    ) -> dict[str, Any]:
        """Poll GET /api/documents/{id} until its state is one of ``states``."""
        wanted = {states} if isinstance(states, str) else set(states)
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {key}"}
        while True:
            doc = self._http.get(f"/api/documents/{document_id}", headers=headers).json()
            if doc.get("state") in wanted or time.monotonic() > deadline:
                return doc
            time.sleep(0.05)


class SandboxProcess:
    """``python -m sandbox`` in a subprocess on a free port; a context manager."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        startup_timeout: float = 20.0,
    ) -> None:
        self.env = dict(env or {})
        self.host = host
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.handle: SandboxHandle | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="sandbox-")
        self.log_path = Path(self._tmp.name) / "sandbox.log"

    def start(self) -> SandboxHandle:
        port_file = Path(self._tmp.name) / "port"
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        org_key = (env.get("SANDBOX_ORG_KEYS") or DEFAULT_ORG_KEY).split(",")[0].strip()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sandbox", "--host", self.host, "--port", "0"]
                + ["--port-file", str(port_file), "--exit-with-parent"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SandboxError(f"sandbox exited early:\n{self.log_path.read_text()}")
            if port_file.exists():
                handle = SandboxHandle(
                    f"http://{self.host}:{port_file.read_text().strip()}", org_key
                )
                if handle.health():
                    self.handle = handle
                    return handle
                handle.close()
            time.sleep(0.05)
        self.stop()
        raise SandboxError(f"sandbox did not start in {self.startup_timeout}s")

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> SandboxHandle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._tmp.cleanup()

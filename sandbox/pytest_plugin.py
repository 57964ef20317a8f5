"""pytest fixtures for the sandbox (registered with ``pytest_plugins = ["sandbox.pytest_plugin"]``).

- ``sandbox_server`` (session): one ``python -m sandbox`` process per test session (per xdist
  worker), on a free port, with a short send delay; stopped at the end.
- ``sandbox`` (function): the same handle, reset before the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.config import DEFAULT_ORG_KEY
from sandbox.testing import SandboxHandle, SandboxProcess

# Hermetic: whatever the shell exports, tests get the demo org key, the real rate limits, no
# state file, and quick state changes (send delay, webhook retries).
TEST_ENV = {
    "SANDBOX_ORG_KEYS": DEFAULT_ORG_KEY,
    "SANDBOX_RATE_PER_MINUTE": "100",
    "SANDBOX_RATE_PER_HOUR": "1000",
    "SANDBOX_TIME_SCALE": "1",
    "SANDBOX_SEND_DELAY": "0.2",
    # Deliveries stay quick and as before: one attempt (tests of retries configure more), no
    # randomness.
    "SANDBOX_DELIVERY_ATTEMPTS": "1",
    "SANDBOX_DELIVERY_BACKOFF": "0.1",
    "SANDBOX_DELIVERY_JITTER": "0",
    "SANDBOX_UNREGISTERED_CAN_SEND": "0",
    "SANDBOX_WEBHOOK_RETRY_DELAYS": "0.2,0.4",
    "SANDBOX_WEBHOOK_TIMEOUT": "5",
    "SANDBOX_STATE_FILE": "",
    # The documented behaviour (405 on sending a non-draft, {"detail"} error bodies, the 422
    # shapes per operation, webhooks signed over json.dumps(event, sort_keys=True)) whatever
    # the shell exports; tests of the old guesses switch them on themselves.
    "SANDBOX_RESEND_FAILED": "0",
    "SANDBOX_ERROR_EXTRAS": "0",
    "SANDBOX_VALIDATION_LISTS": "0",
    "SANDBOX_WEBHOOK_COMPACT_JSON": "0",
}


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxHandle]:
    with SandboxProcess(env=TEST_ENV) as handle:
        yield handle


@pytest.fixture
def sandbox(sandbox_server: SandboxHandle) -> SandboxHandle:
    sandbox_server.reset()
    return sandbox_server

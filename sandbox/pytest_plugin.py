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
    "SANDBOX_WEBHOOK_RETRY_DELAYS": "0.2,0.4",
    "SANDBOX_WEBHOOK_TIMEOUT": "5",
    "SANDBOX_STATE_FILE": "",
}


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxHandle]:
    with SandboxProcess(env=TEST_ENV) as handle:
        yield handle


@pytest.fixture
def sandbox(sandbox_server: SandboxHandle) -> SandboxHandle:
    sandbox_server.reset()
    return sandbox_server

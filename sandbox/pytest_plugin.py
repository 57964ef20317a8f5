"""pytest fixtures for the sandbox (registered with ``pytest_plugins = ["sandbox.pytest_plugin"]``).

- ``sandbox_server`` (session): one ``python -m sandbox`` process per test session (per xdist
  worker), on a free port, with a short send delay; stopped at the end.
- ``sandbox`` (function): the same handle, reset before the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.testing import SandboxHandle, SandboxProcess

# Tests want quick state changes; rate limits keep their real values.
TEST_ENV = {"SANDBOX_SEND_DELAY": "0.2", "SANDBOX_WEBHOOK_RETRY_DELAYS": "0.2,0.4"}


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxHandle]:
    with SandboxProcess(env=TEST_ENV) as handle:
        yield handle


@pytest.fixture
def sandbox(sandbox_server: SandboxHandle) -> SandboxHandle:
    sandbox_server.reset()
    return sandbox_server

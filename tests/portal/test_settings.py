"""Settings: every environment variable the settings read is documented, and typed values
that are not of their type stop the start with the variable's name."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal import envvars

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILES = [ROOT / "portal" / "settings.py", ROOT / "portal" / "settings_production.py"]
READERS = {
    "env_bool",
    "env_int",
    "env_float",
    "env_str",
    "env_list",
    "env_db",
    "env_secret",
    "env_email",
}
NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _calls(path: Path) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)]


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def settings_read() -> set[str]:
    names = set()
    for path in SETTINGS_FILES:
        for call in _calls(path):
            if _callee(call) in READERS:
                first = call.args[0]
                assert isinstance(first, ast.Constant), (
                    f"{path.name}: a setting needs a literal name"
                )
                names.add(first.value)
    return names


def env_example_names() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line)}


def readme_table_names() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            first_cell = row.split("|")[1]
            names |= {n for n in re.findall(r"`([^`]+)`", first_cell) if NAME.match(n)}
    return names


def test_it_reads_every_setting_through_a_typed_reader():
    # A raw env.X(...) or os.environ read would escape the strict parsing and the docs check.
    for path in SETTINGS_FILES:
        source = path.read_text()
        assert "os.getenv" not in source and "os.environ.get" not in source, path.name
        assert not re.search(r"\benv\.\w+\(", source), path.name
    assert len(settings_read()) > 40


def test_it_lists_every_setting_in_env_example():
    read, listed = settings_read(), env_example_names()
    assert not read - listed, f"add to .env.example: {sorted(read - listed)}"
    assert not listed - read, f"not read by the settings: {sorted(listed - read)}"


def test_it_lists_every_setting_in_the_readme_table():
    read, listed = settings_read(), readme_table_names()
    assert not read - listed, f"add to README.md's configuration table: {sorted(read - listed)}"
    assert not listed - read, f"not read by the settings: {sorted(listed - read)}"


@pytest.mark.parametrize(
    "value,expected",
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("On", True), (" on ", True)]
    + [("false", False), ("False", False), ("0", False), ("no", False), ("OFF", False)],
)
def test_it_reads_booleans(monkeypatch, value, expected):
    monkeypatch.setenv("PORTAL_TEST_FLAG", value)
    assert envvars.env_bool("PORTAL_TEST_FLAG", not expected) is expected


@pytest.mark.parametrize("value", ["ture", "", "2", "enabled", "y"])
def test_it_rejects_a_boolean_that_is_not_one(monkeypatch, value):
    monkeypatch.setenv("REQUIRE_STAFF_2FA", value)
    with pytest.raises(ImproperlyConfigured, match="REQUIRE_STAFF_2FA"):
        envvars.env_bool("REQUIRE_STAFF_2FA", False)


def test_it_uses_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("PORTAL_TEST_FLAG", raising=False)
    assert envvars.env_bool("PORTAL_TEST_FLAG", True) is True
    assert envvars.env_int("PORTAL_TEST_FLAG", 7) == 7
    assert envvars.env_float("PORTAL_TEST_FLAG", 0.5) == 0.5
    assert envvars.env_list("PORTAL_TEST_FLAG", ["a"]) == ["a"]


@pytest.mark.parametrize(
    "reader,value", [(envvars.env_int, "5s"), (envvars.env_int, "1.5"), (envvars.env_float, "x")]
)
def test_it_rejects_a_number_that_is_not_one(monkeypatch, reader, value):
    monkeypatch.setenv("JOBS_LEASE_SECONDS", value)
    with pytest.raises(ImproperlyConfigured, match="JOBS_LEASE_SECONDS"):
        reader("JOBS_LEASE_SECONDS", 30)


def test_it_reads_numbers_and_lists(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_N", " 12 ")
    assert envvars.env_int("PORTAL_TEST_N", 0) == 12
    assert envvars.env_float("PORTAL_TEST_N", 0) == 12.0
    monkeypatch.setenv("PORTAL_TEST_N", "a.example, b.example,,")
    assert envvars.env_list("PORTAL_TEST_N", []) == ["a.example", "b.example"]


def test_it_refuses_to_start_with_a_misspelt_boolean():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", ENV_FILE=os.devnull)
    env["REQUIRE_STAFF_2FA"] = "ture"
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "REQUIRE_STAFF_2FA='ture' is not a boolean" in done.stderr


def test_it_reads_smtp_settings_from_one_email_url(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://mailer:s%40cret@mx.example.com:587/?tls=True")
    config = envvars.env_email("EMAIL_URL", "filemail://")
    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (config["EMAIL_HOST"], config["EMAIL_PORT"]) == ("mx.example.com", 587)
    assert config["EMAIL_HOST_USER"] == "mailer"
    assert config["EMAIL_HOST_PASSWORD"] == "s@cret"  # noqa: S105 - unquoted from the URL
    assert config["EMAIL_USE_TLS"] and not config["EMAIL_USE_SSL"]
    monkeypatch.setenv("EMAIL_URL", "smtp+ssl://mx.example.com:465")
    assert envvars.env_email("EMAIL_URL", "filemail://")["EMAIL_USE_SSL"]


def test_it_writes_emails_to_files_by_default(monkeypatch):
    monkeypatch.delenv("EMAIL_URL", raising=False)
    config = envvars.env_email("EMAIL_URL", "filemail://")
    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"
    assert config["EMAIL_FILE_PATH"] == ""  # settings.py makes it var/mail/


@pytest.mark.parametrize("url", ["consolemail://", "foo://mx.example.com", "mx.example.com"])
def test_it_refuses_an_email_url_that_would_log_emails_or_means_nothing(monkeypatch, url):
    # consolemail:// would print every one-time link (invitations, resets) to the logs.
    monkeypatch.setenv("EMAIL_URL", url)
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        envvars.env_email("EMAIL_URL", "filemail://")

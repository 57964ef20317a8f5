"""The portal in Dutch and French for the Belgian market.

The header's language switcher turns the login page and the staff pages into Dutch or
French, and the catalogues in locale/ translate every string the code marks: a string
added later without a translation fails here, naming the msgids to translate.
"""

import ast
import html
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.urls import reverse

from tests.conftest import login

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ["nl", "fr"]
PLURAL_FORMS = {"nl": "nplurals=2; plural=(n != 1);", "fr": "nplurals=2; plural=(n > 1);"}
MAKEMESSAGES = (
    ".venv/bin/python manage.py makemessages -l nl -l fr --ignore=.venv --ignore=sandbox "
    "--ignore=tests --ignore=bench --ignore=staticfiles --ignore=var"
)
# What makemessages skips (the command above) plus what it never reads.
NOT_SCANNED = (
    ".venv", ".git", "sandbox", "tests", "bench", "staticfiles", "var", "artifacts", "control",
    "locale", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
    "*.egg-info", "*.pyc", "*.sqlite3", ".env",
)  # fmt: skip


def catalogue(lang: str) -> Path:
    return ROOT / "locale" / lang / "LC_MESSAGES" / "django.po"


# --- A small .po reader (polib is not a project dependency) --------------------------------
@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


def parse_po(path: Path) -> tuple[dict[str, str], list[Entry]]:
    """The header's fields and the live entries of a .po file (obsolete `#~` ones left out)."""
    entries: list[Entry] = []
    entry: Entry | None = None
    flags: set[str] = set()
    target: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal entry, target
        if entry is not None:
            entries.append(entry)
        entry, target = None, None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#~"):
            if not line:
                finish()
            continue
        if line.startswith("#,"):
            flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        if line.startswith("#"):
            continue
        m = re.match(r"(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(\".*\")$", line)
        if m:
            keyword, index, text = m.group(1), int(m.group(2) or 0), ast.literal_eval(m.group(3))
            if keyword in ("msgctxt", "msgid") and entry is not None and entry.msgstr:
                finish()
            if entry is None:
                entry, flags = Entry(flags=flags), set()
            target = (keyword, index)
        elif line.startswith('"') and target is not None and entry is not None:
            text = ast.literal_eval(line)
        else:
            raise AssertionError(f"{path}: cannot read the line {raw!r}")
        keyword, index = target
        if keyword == "msgstr":
            entry.msgstr[index] = entry.msgstr.get(index, "") + text
        else:
            setattr(entry, keyword, (getattr(entry, keyword) or "") + text)
    finish()

    header = next((e for e in entries if e.msgid == "" and e.msgctxt is None), None)
    fields = {}
    if header is not None:
        for row in header.msgstr.get(0, "").splitlines():
            name, _, value = row.partition(":")
            fields[name.strip()] = value.strip()
    return fields, [e for e in entries if e is not header]


def placeholders(text: str) -> Counter:
    return Counter(re.findall(r"%\(\w+\)[sdif]|%[sdif]", text))


# --- The catalogues --------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGUAGES)
def test_it_translates_every_msgid(lang):
    header, entries = parse_po(catalogue(lang))
    missing = [
        e.msgid
        for e in entries
        if "fuzzy" in e.flags
        or not e.msgstr
        or not all(e.msgstr.values())
        or (e.msgid_plural is not None and len(e.msgstr) < 2)
    ]
    assert len(entries) > 500, f"{catalogue(lang)} looks truncated ({len(entries)} entries)"
    assert not missing, (
        f"{len(missing)} msgid(s) in locale/{lang}/LC_MESSAGES/django.po have no checked "
        f"translation (empty or #, fuzzy):\n  " + "\n  ".join(repr(m) for m in missing)
    )
    assert header.get("Language") == lang
    assert header.get("Plural-Forms") == PLURAL_FORMS[lang]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_it_keeps_every_placeholder(lang):
    """A dropped %(name)s loses information; an unknown one is a KeyError (a 500) at runtime."""
    _, entries = parse_po(catalogue(lang))
    wrong = []
    for e in entries:
        for index, text in e.msgstr.items():
            if not text:
                continue
            source = e.msgid_plural if (index > 0 and e.msgid_plural) else e.msgid
            want, got = placeholders(source), placeholders(text)
            # The singular of a plural may write the number as a word (no placeholder).
            ok = set(got) <= set(want) if (e.msgid_plural and index == 0) else got == want
            if not ok:
                wrong.append(f"{e.msgid!r} [{index}]: {sorted(want)} -> {sorted(got)}")
    assert not wrong, f"placeholders differ in locale/{lang}:\n  " + "\n  ".join(wrong)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_it_compiles_cleanly_with_msgfmt(lang):
    if shutil.which("msgfmt") is None:
        pytest.skip("GNU gettext (msgfmt) is not installed")
    done = subprocess.run(
        ["msgfmt", "--check", "-o", os.devnull, str(catalogue(lang))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_it_catalogues_every_string_the_code_marks(tmp_path):
    """makemessages on a copy of the sources: any marked string missing from the catalogues
    means someone added text without running makemessages and translating it."""
    if shutil.which("xgettext") is None:
        pytest.skip("GNU gettext (xgettext) is not installed")
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*NOT_SCANNED))
    (src / "locale").mkdir()
    # Its own settings module pins the output to the copy, whatever `portal` resolves to.
    (src / "i18n_check_settings.py").write_text(
        f"from portal.settings import *  # noqa: F403\nLOCALE_PATHS = [{str(src / 'locale')!r}]\n"
    )
    env = {**os.environ, "ENV_FILE": os.devnull, "DJANGO_SETTINGS_MODULE": "i18n_check_settings"}
    done = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "nl", "--no-obsolete", "-v0"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    _, extracted = parse_po(src / "locale" / "nl" / "LC_MESSAGES" / "django.po")
    marked = {e.key for e in extracted}
    assert len(marked) > 500
    for lang in LANGUAGES:
        _, entries = parse_po(catalogue(lang))
        absent = sorted(marked - {e.key for e in entries}, key=lambda k: k[1])
        assert not absent, (
            f"{len(absent)} marked string(s) are not in locale/{lang}/LC_MESSAGES/django.po. "
            f"Run `{MAKEMESSAGES}` and translate them:\n  "
            + "\n  ".join(repr(msgid) for _, msgid in absent)
        )


# --- The language switcher -------------------------------------------------------------------
def text_of(response) -> str:
    return html.unescape(response.content.decode())


def switch_language(client, page_url: str, lang: str):
    """Submit the header's language form of page_url, as the <select> does on change."""
    page = client.get(page_url)
    body = page.content.decode()
    assert f'action="{reverse("set_language")}"' in body, "no language switcher on the page"
    next_url = html.unescape(re.search(r'name="next" type="hidden" value="([^"]*)"', body)[1])
    return client.post(reverse("set_language"), {"language": lang, "next": next_url}, follow=True)


LOGIN_PAGE = {
    "nl": ["Aanmelden", "Gebruikersnaam", "Wachtwoord"],
    "fr": ["Se connecter", "Nom d’utilisateur", "Mot de passe"],
}
STAFF_PAGES = {
    # Template strings and strings the views translate in Python (the stat labels).
    "nl": {
        "/staff/": ["Recente activiteit", "Nieuwe tenant", "Geregistreerd op Peppol", "Auditlog"],
        "/staff/tenants/": ["Btw-nummer", "Ondernemingsnummer", "Huidige sleutel"],
    },
    "fr": {
        "/staff/": [
            "Tableau de bord",
            "Nouveau locataire",
            "Inscrits sur Peppol",
            "Activité récente",
        ],
        "/staff/tenants/": ["2 locataires", "Numéro de TVA", "Numéro d’entreprise"],
    },
}


def test_it_shows_the_login_page_in_english_by_default(client, db):
    page = text_of(client.get("/accounts/login/"))
    assert '<html lang="en">' in page
    assert "Log in" in page
    assert "Aanmelden" not in page and "Se connecter" not in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_it_switches_the_login_page(client, db, lang):
    response = switch_language(client, "/accounts/login/", lang)
    assert response.redirect_chain[-1][0].endswith("/accounts/login/")
    page = text_of(response)
    assert f'<html lang="{lang}">' in page
    for text in LOGIN_PAGE[lang]:
        assert text in page
    assert "Username" not in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_it_switches_the_staff_pages_and_remembers_the_choice(client, alice, acme, globex, lang):
    client.force_login(alice)
    first = text_of(switch_language(client, "/staff/", lang))
    assert "Recent activity" not in first
    for url, texts in STAFF_PAGES[lang].items():
        page = text_of(client.get(url))  # a later page, without switching again
        assert f'<html lang="{lang}">' in page
        for text in texts:
            assert text in page, f"{text!r} not on {url} in {lang}"
    back = text_of(switch_language(client, "/staff/", "en"))
    assert "Recent activity" in back and "New tenant" in back


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_switches_language_from_the_header_in_a_browser(page, screenshot, alice):
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    expect(page.locator("h1")).to_have_text("Log in")
    page.select_option("#language", "nl")  # the select submits its form on change
    expect(page.locator("h1")).to_have_text("Aanmelden")
    expect(page.locator("label[for=id_username]")).to_contain_text("Gebruikersnaam")
    screenshot("login-nl")

    login(page, "alice")
    page.wait_for_url("**/staff/")
    expect(page.get_by_role("link", name="Nieuwe tenant")).to_be_visible()
    page.click("details.account-menu > summary")
    expect(page.get_by_role("button", name="Afmelden")).to_be_visible()

    page.select_option("#language", "fr")
    expect(page.locator("h1")).to_have_text("Tableau de bord")
    expect(page.get_by_role("link", name="Nouveau locataire")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    screenshot("dashboard-fr")

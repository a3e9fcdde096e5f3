"""The Spanish catalog is complete: every string a person reads is translated, none fuzzy.

Reads the source catalog (.po), never the compiled .mo, and extracts the strings from the
code as it is now, so a string marked without a translation fails here, not in production.
Fix failures with `flask --app app translate update`, then translate the listed entries in
translations/es/LC_MESSAGES/messages.po and `flask --app app translate compile`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

# The catalogs, not the database: run once.
pytestmark = pytest.mark.sqlite_run

ROOT = Path(__file__).resolve().parents[1]
SPANISH_PO = ROOT / "translations" / "es" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifeEgGrxXoc]")


def _label(message: Message) -> str:
    msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
    return f"{message.context}|{msgid}" if message.context else msgid


def _key(message: Message) -> tuple:
    msgid = tuple(message.id) if isinstance(message.id, tuple | list) else message.id
    return message.context, msgid


def _forms(value) -> list[str]:
    if isinstance(value, tuple | list):
        return list(value)
    return [value]


@pytest.fixture(scope="module")
def source_strings(tmp_path_factory) -> Catalog:
    """Extract the strings marked in the code now, exactly as `flask translate extract` does."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "--quiet",
            "extract",
            "-F",
            str(ROOT / "translations" / "babel.cfg"),
            "-k",
            "_l",
            "--no-location",
            "--sort-output",
            "-o",
            str(pot),
            str(ROOT),
        ]
    )
    with pot.open("rb") as f:
        catalog = read_po(f)
    assert len(catalog) > 0, "no strings extracted: is translations/babel.cfg right?"
    return catalog


@pytest.fixture(scope="module")
def spanish() -> Catalog:
    with SPANISH_PO.open("rb") as f:
        return read_po(f, locale="es")


def _entries(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


def test_every_source_string_is_in_the_spanish_catalog(source_strings, spanish):
    present = {_key(m) for m in _entries(spanish)}
    missing = [_label(m) for m in _entries(source_strings) if _key(m) not in present]
    assert not missing, "not in the Spanish catalog (run `flask translate update`):\n" + "\n".join(
        missing
    )


def test_every_spanish_entry_is_translated(spanish):
    untranslated = []
    for message in _entries(spanish):
        forms = _forms(message.string)
        if message.pluralizable and len(forms) != spanish.num_plurals:
            untranslated.append(f"{_label(message)} (needs {spanish.num_plurals} plural forms)")
        elif not all(form and form.strip() for form in forms):
            untranslated.append(_label(message))
    assert not untranslated, "untranslated Spanish entries:\n" + "\n".join(untranslated)


def test_no_spanish_entry_is_fuzzy(spanish):
    fuzzy = [_label(m) for m in _entries(spanish) if m.fuzzy]
    assert not fuzzy, "fuzzy Spanish entries (check them, then drop the flag):\n" + "\n".join(fuzzy)


def test_spanish_translations_keep_every_placeholder(spanish):
    wrong = []
    for message in _entries(spanish):
        if not message.python_format:
            continue
        expected = set().union(*(PLACEHOLDER.findall(s) for s in _forms(message.id)))
        for index, form in enumerate(_forms(message.string)):
            if not form:
                continue  # untranslated: reported by test_every_spanish_entry_is_translated
            found = set(PLACEHOLDER.findall(form))
            if found != expected:
                wrong.append(
                    f"{_label(message)} [form {index}]: expected {sorted(expected)}, "
                    f"found {sorted(found)}"
                )
    assert not wrong, "placeholders differ between msgid and msgstr:\n" + "\n".join(wrong)


def test_babel_finds_no_errors_in_the_spanish_catalog(spanish):
    problems = [
        f"{_label(message)}: {'; '.join(str(e) for e in errors)}"
        for message, errors in spanish.check()
    ]
    assert not problems, "\n".join(problems)

"""Audit entries read in the reader's language: every action and field the code records has
a label, and values that are keys, numbers, money, dates or lists never show raw."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask_babel import force_locale

from tenants.audit import labels
from tenants.audit.log import money

ROOT = Path(__file__).resolve().parents[2]


def _recorded() -> tuple[dict[str, str], dict[str, str]]:
    """Action keys and field keys written literally by every audit.record / record_on call."""
    actions: dict[str, str] = {}
    fields: dict[str, str] = {}
    for path in [*ROOT.joinpath("tenants").rglob("*.py"), *ROOT.joinpath("reseller").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr == "record":
                if not (isinstance(func.value, ast.Name) and func.value.id == "audit"):
                    continue
                action = call.args[1] if len(call.args) > 1 else None
                changes = next((k.value for k in call.keywords if k.arg == "changes"), None)
            elif isinstance(func, ast.Attribute) and func.attr == "record_on":
                action = call.args[2]
                changes = next(
                    (k.value for k in call.keywords if k.arg == "changes"),
                    call.args[3] if len(call.args) > 3 else None,
                )
            else:
                continue
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if isinstance(action, ast.Constant) and isinstance(action.value, str):
                actions[action.value] = where
            if isinstance(changes, ast.Dict):
                for key in changes.keys:
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        fields[key.value] = where
    return actions, fields


def test_every_recorded_action_and_field_has_a_label():
    actions, fields = _recorded()
    assert "credits.transferred" in actions and "purchase.paid" in actions  # the scan works
    assert "invoices_paid" in fields
    missing = {a: w for a, w in actions.items() if a not in labels.ACTIONS}
    assert not missing, f"audit actions without a label in tenants/audit/labels.py: {missing}"
    missing = {f: w for f, w in fields.items() if f not in labels.FIELDS}
    assert not missing, f"audit fields without a label in tenants/audit/labels.py: {missing}"


@pytest.mark.parametrize(
    ("value", "field", "english", "spanish"),
    [
        (1150, "credits", "1,150", "1.150"),
        (True, "portal_access", "Yes", "Sí"),
        ("returned", "end_reason", "Returned to their account", "Volvió a su cuenta"),
        ("expired", "end_reason", "Time limit reached", "Tiempo límite alcanzado"),
        ("admin", "role", "Admin", "Administrador"),
        ("paid", "status", "Paid", "Pagada"),
        ("system", "from", "System Credits", "Créditos del sistema"),
        ("cap_reached", "failure", "The monthly limit of automatic top-ups was reached.", None),
        (money("12345.50", "EUR"), "total", "€12,345.50", "12.345,50\xa0€"),
        ("12.10", "amount", "€12.10", "12,10\xa0€"),
        (["INV-1", "INV-2"], "invoices_paid", "INV-1, INV-2", "INV-1, INV-2"),
        ("ES", "country", "Spain", "España"),
        ("es", "language", "Spanish", "español"),
        (None, "name", "—", "—"),
        # A free-text value that happens to be a key stays as it was written.
        ("member", "name", "member", "member"),
    ],
)
def test_values_read_in_the_readers_language(app, value, field, english, spanish):
    with app.test_request_context():
        with force_locale("en"):
            assert labels.value_label(value, field, "EUR") == english
        if spanish is not None:
            with force_locale("es"):
                assert labels.value_label(value, field, "EUR") == spanish


def test_moments_are_formatted(app):
    with app.test_request_context(), force_locale("en"):
        shown = labels.value_label(
            datetime(2026, 3, 1, 9, 30, tzinfo=UTC).isoformat(), "revoked_at"
        )
    assert "2026" in shown and "T09" not in shown

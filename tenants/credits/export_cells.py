"""The cells of the movements CSV as SQL expressions (tenants.credits.export_copy): formula
escaping and translated texts with SQL values in them, as the Python path's csv_cell writes
them."""

from __future__ import annotations

import re

from flask_babel import gettext
from sqlalchemy import ColumnElement, String, case, func, literal, null, type_coerce

from tenants.credits.movements import account_label
from tenants.models import AccountKind

_SENTINEL = re.compile(r"\x00(\w+)\x00")


def as_text(value) -> ColumnElement:
    return literal(str(value), String)


def starts_formula(expr, formula_starts) -> ColumnElement:
    return func.left(expr, 1).in_(list(formula_starts))


def cell(expr, formula_starts) -> ColumnElement:
    """csv_cell in SQL: a leading formula character gets a quote; empty text is NULL (COPY
    quotes an empty string, the csv module does not)."""
    return case(
        (starts_formula(expr, formula_starts), as_text("'") + expr),
        else_=func.nullif(expr, ""),
    )


def static_cell(text: str, formula_starts) -> ColumnElement:
    if not text:
        return null()
    return as_text("'" + text if text.startswith(formula_starts) else text)


def placeholder(name: str) -> str:
    """Where ``filled`` puts the SQL expression ``name`` into a translated text."""
    return f"\x00{name}\x00"


def template(message: str, formula_starts, **names) -> ColumnElement:
    """The translated ``message`` with each ``%(name)s`` replaced by a SQL expression, as a
    CSV cell."""
    text = gettext(message, **{key: placeholder(key) for key in names})
    return filled(text, formula_starts, **names)


def filled(text: str, formula_starts, **names) -> ColumnElement:
    """``text`` (translated) with each ``placeholder(name)`` replaced by the SQL expression
    ``names[name]``, as a CSV cell."""
    parts = _SENTINEL.split(text)  # literal, name, literal, name, …, literal
    pieces = [
        as_text(part) if i % 2 == 0 else type_coerce(names[part], String)
        for i, part in enumerate(parts)
        if i % 2 or part
    ]
    if not pieces:
        return null()
    expr = pieces[0]
    for piece in pieces[1:]:
        expr = expr + piece
    if parts[0]:  # starts with fixed text: whether it needs the quote is known now
        return as_text("'") + expr if parts[0].startswith(formula_starts) else expr
    return cell(expr, formula_starts)


def member_account(formula_starts, name) -> ColumnElement:
    """A member account's label (movements.account_label) around the SQL expression
    ``name``, as a CSV cell."""
    return filled(account_label(AccountKind.MEMBER, placeholder("name")), formula_starts, name=name)

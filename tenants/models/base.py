"""Pieces every model uses: enum columns stored as checked strings, timestamps, the
statements (triggers, functions) a table is created with."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from sqlalchemy import DDL, Enum, Table, event


def enum_column_type(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: a VARCHAR with a CHECK of the allowed values."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda cls: [member.value for member in cls],
        validate_strings=True,
    )


def created_with(table: Table, statements: Mapping[str, Sequence[str]]) -> None:
    """Run ``statements`` (dialect name → SQL texts, in order) right after ``table`` is
    created on that dialect (``create_all``; migrations write their own). A ``%`` in a text
    is a plain percent sign."""
    for dialect, texts in statements.items():
        for text in texts:
            event.listen(
                table, "after_create", DDL(text.replace("%", "%%")).execute_if(dialect=dialect)
            )

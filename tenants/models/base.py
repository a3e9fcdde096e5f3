"""Pieces every model uses: enum columns stored as checked strings, timestamps."""

from __future__ import annotations

import enum

from sqlalchemy import Enum


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

"""One keyset cursor for every paged list: encode the ordering values, decode them checked.

A cursor is the URL-safe base64 (no padding) of a JSON array of the row's ordering values,
so it fits ``^[A-Za-z0-9_-]+$``. Decoding checks each value against the list's declared
kinds; anything else (bad base64, bad JSON, a NUL, a naive or out-of-range date, an unknown
direction, an overlong token) is the caller's chosen failure, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, tuple_

from tenants.core.errors import NotFound, ValidationFailed

MAX_CURSOR_LENGTH = 1000
MAX_TEXT_LENGTH = 300
# Ordering dates are creation times: anything outside these years is a forged cursor.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2999

TEXT = "text"
MOMENT = "moment"


def invalid_page_link() -> Exception:
    """The failure of API lists and list pages: a 422 on the ``cursor`` field."""
    return ValidationFailed(fields={"cursor": str(_l("This page link is not valid."))})


def page_not_found() -> Exception:
    """The failure of pages whose links are only ever made by the portal: a 404."""
    return NotFound()


class _Invalid(ValueError):
    pass


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH or "\x00" in value:
        raise _Invalid(value)
    return value


def _moment(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise _Invalid(value)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None or not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise _Invalid(value)
    return moment.astimezone(UTC)


def choice(*options: str) -> Callable[[Any], str]:
    """A kind for a value that must be one of ``options`` (a paging direction)."""

    def check(value: Any) -> str:
        if value not in options:
            raise _Invalid(value)
        return value

    return check


_KINDS: dict[str, Callable[[Any], Any]] = {TEXT: _text, MOMENT: _moment}


@dataclass(frozen=True)
class Cursor:
    """The shape of one list's cursor: the kinds of its values, in order."""

    kinds: tuple[str | Callable[[Any], Any], ...]
    on_invalid: Callable[[], Exception] = invalid_page_link

    def encode(self, *values: Any) -> str:
        if len(values) != len(self.kinds):
            raise TypeError(f"cursor takes {len(self.kinds)} values, got {len(values)}")
        plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
        raw = json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, token: Any) -> tuple[Any, ...]:
        """The values, checked; raises ``self.on_invalid()`` for anything else."""
        try:
            if not isinstance(token, str) or not 0 < len(token) <= MAX_CURSOR_LENGTH:
                raise _Invalid(token)
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            values = json.loads(raw)
            if not isinstance(values, list) or len(values) != len(self.kinds):
                raise _Invalid(values)
            return tuple(
                (_KINDS[kind] if isinstance(kind, str) else kind)(value)
                for kind, value in zip(self.kinds, values, strict=True)
            )
        except (_Invalid, ValueError, TypeError, OverflowError, binascii.Error) as error:
            raise self.on_invalid() from error


def keyset_before(columns: Sequence[ColumnElement], values: Sequence[Any]) -> ColumnElement:
    """Rows after ``values`` in a newest-first (descending) order on ``columns``."""
    return tuple_(*columns) < tuple(values)

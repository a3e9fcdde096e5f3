"""Column types and helpers shared by every model: ids, UTC times, money."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.types import TypeDecorator

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    """A time-ordered, unguessable id (ULID layout) with a readable prefix: ``org_01j…``.

    Ordered by creation time so B-tree inserts stay local and keyset pagination by id
    follows creation order; 80 random bits make ids impossible to guess across tenants.
    """
    return new_ids(prefix, 1)[0]


# A random byte onto one character by its low 5 bits: 256 = 8 x 32, so each of the 32 is
# equally likely and 16 bytes give the 80 random bits of an id, in C (bytes.translate).
_BYTE_TO_CROCKFORD = bytes(_CROCKFORD.encode()[byte & 31] for byte in range(256))


def _time_part(milliseconds: int) -> str:
    """The first 10 characters of an id: 2 zero bits and 48 bits of Unix time in ms."""
    chars = []
    for _ in range(10):
        chars.append(_CROCKFORD[milliseconds & 31])
        milliseconds >>= 5
    return "".join(reversed(chars))


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` ids as ``new_id`` makes them, fast (a batch writes thousands): the first
    10 characters are the 2 zero bits and 48 bits of time, shared; the last 16 are 80
    random bits each, one random byte a character mapped in one call onto the Crockford
    alphabet (a loop of 26 shifts an id, or base64.b32encode, a Python loop too, were
    1 to 5 % of a usage request)."""
    head = f"{prefix}_{_time_part(int(time.time() * 1000))}"
    text = os.urandom(16 * count).translate(_BYTE_TO_CROCKFORD).decode("ascii")
    return [head + text[i : i + 16] for i in range(0, 16 * count, 16)]


_RECORD_ID = re.compile(rf"[a-z]{{2,4}}_[{_CROCKFORD}]{{26}}")


def is_record_id(value: object) -> bool:
    """Whether ``value`` has the shape ``new_id`` gives every record: anything else (a NUL,
    10,000 characters, another format) names no record, so nobody need ask the database."""
    return isinstance(value, str) and _RECORD_ID.fullmatch(value) is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


MONEY_SCALE = Decimal("0.0001")


class Money(TypeDecorator):
    """Exact money: NUMERIC(12, 4) on PostgreSQL, scaled integers on SQLite (no floats)."""

    impl = Numeric(12, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(12, 4, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value).quantize(MONEY_SCALE, rounding=ROUND_HALF_UP)
        if dialect.name == "sqlite":
            return int(value / MONEY_SCALE)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) * MONEY_SCALE).quantize(MONEY_SCALE)
        return Decimal(value).quantize(MONEY_SCALE)


@lru_cache(maxsize=512)
def currency_places(currency: str) -> int:
    """The digits of the currency's minor unit (EUR 2, JPY 0, BHD 3): Babel's data, read
    once a currency (a Babel lookup each time cost the monthly run a tenth of its Python)."""
    from babel.numbers import get_currency_precision

    return get_currency_precision(currency)


@lru_cache(maxsize=512)
def _minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount (EUR 0.01, JPY 1)."""
    return Decimal(1).scaleb(-currency_places(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit (EUR 2 places, JPY 0, …)."""
    return Decimal(amount).quantize(_minor_unit(currency), rounding=ROUND_HALF_UP)

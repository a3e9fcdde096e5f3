"""The one keyset cursor: round trips, and every malformed token is the caller's failure."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from tenants.core import paging
from tenants.core.errors import NotFound, ValidationFailed

CURSOR = paging.Cursor((paging.choice("older", "newer"), paging.MOMENT, paging.TEXT))


def token(values) -> str:
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_cursor_round_trips_and_fits_the_documented_pattern():
    moment = datetime(2026, 11, 30, 23, 59, 59, 123456, tzinfo=UTC)
    encoded = CURSOR.encode("older", moment, "led_01abc")
    assert all(c.isalnum() or c in "-_" for c in encoded)
    assert CURSOR.decode(encoded) == ("older", moment, "led_01abc")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "!!!",
        "not-base64!",
        "e30",  # {}
        token(["older", "2026-01-01T00:00:00+00:00"]),  # a value missing
        token(["sideways", "2026-01-01T00:00:00+00:00", "x"]),
        token(["older", "2026-01-01T00:00:00", "x"]),  # naive
        token(["older", "9999-12-31T23:59:59+00:00", "x"]),  # out of range
        token(["older", "0001-01-01T00:00:00+00:00", "x"]),
        token(["older", "2026-01-01T00:00:00+00:00", "x\x00y"]),  # NUL
        token(["older", "2026-01-01T00:00:00+00:00", 7]),
        token(["older", "2026-01-01T00:00:00+00:00", "x" * 301]),
        token(["older", "not a date", "x"]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        "A" * 1001,
    ],
)
def test_a_bad_cursor_is_the_lists_chosen_failure(bad):
    with pytest.raises(ValidationFailed) as refused:
        CURSOR.decode(bad)
    assert "cursor" in refused.value.fields
    strict = paging.Cursor(CURSOR.kinds, on_invalid=paging.page_not_found)
    with pytest.raises(NotFound):
        strict.decode(bad)


def test_a_non_string_cursor_is_refused():
    with pytest.raises(ValidationFailed):
        CURSOR.decode(None)

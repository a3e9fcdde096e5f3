"""Request bodies: the strict JSON body every endpoint reads, and a CSV body of any size
spooled to a temporary file as it arrives (never whole in memory)."""

from __future__ import annotations

import hashlib
import json
import tempfile
from decimal import Decimal
from typing import IO, Any

from flask import Blueprint, g, request
from flask_babel import lazy_gettext as _l

from tenants.core.errors import DomainError

MAX_BODY_BYTES = 1_000_000
CSV_SPOOL_BYTES = 1_000_000
CSV_CHUNK = 64 * 1024
MAX_CSV_BYTES = 512 * 1024 * 1024


class MalformedJson(DomainError):
    code = "malformed_json"
    status = 400
    default_message = _l("The request body is not valid JSON.")


class BodyTooLarge(DomainError):
    code = "request_too_large"
    status = 413
    default_message = _l("The request body is too large.")


def _refuse_constant(name: str) -> None:
    raise ValueError(name)


def parse_body() -> Any:
    """The JSON body (empty means ``{}``); 400 when it is not JSON at all."""
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise BodyTooLarge()
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise BodyTooLarge()
    if not raw.strip():
        return {}
    try:
        # Decimals, not floats: 0.1 stays 0.1 and a float is never taken for an integer.
        return json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedJson() from exc


def is_csv_request() -> bool:
    return request.mimetype == "text/csv"


def spool_csv_body() -> tuple[IO[bytes], dict[str, str]]:
    """The CSV body in a temporary file (memory up to CSV_SPOOL_BYTES, then disk), read from
    the request in chunks, and its digest (what an Idempotency-Key's fingerprint reads)."""
    if request.content_length and request.content_length > MAX_CSV_BYTES:
        raise BodyTooLarge()
    # Closed when the request ends (register_body_cleanup), whatever happens to it.
    spool = g.csv_body = tempfile.SpooledTemporaryFile(max_size=CSV_SPOOL_BYTES)  # noqa: SIM115
    digest = hashlib.sha256()
    size = 0
    while chunk := request.stream.read(CSV_CHUNK):
        size += len(chunk)
        if size > MAX_CSV_BYTES:
            raise BodyTooLarge()
        digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    return spool, {"text/csv": digest.hexdigest()}


def register_body_cleanup(bp: Blueprint) -> None:
    @bp.teardown_request
    def close_csv_body(_error: BaseException | None) -> None:
        spool = g.pop("csv_body", None)
        if spool is not None:
            spool.close()

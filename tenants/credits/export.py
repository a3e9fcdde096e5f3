"""Movement rows as people read them (CSV and print), and the streamed CSV download used by the
portal's logs and the API's export."""

from __future__ import annotations

import csv
import io
import itertools
import logging
import unicodedata
from collections.abc import Iterator
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response, stream_with_context
from flask_babel import gettext as _

from tenants.core.types import round_money
from tenants.credits.export_copy import copy_csv
from tenants.credits.export_rows import CSV_COLUMNS, MovementRow
from tenants.credits.movements import account_label, entry_type_label, recorded_apart
from tenants.models import AccountKind, EntryType

logger = logging.getLogger(__name__)
_END = object()
PRINT_LIMIT = 5000
CSV_FLUSH_ROWS = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class RowLabels:
    """How a movement row reads (type, account, who, amount), translated once per export
    rather than once per row: the CSV of 100,000 rows would otherwise spend its time in
    gettext."""

    def __init__(self):
        self.system = account_label(AccountKind.SYSTEM)
        self.api_key = _("API key")
        self.nobody = _("System")
        self.types = {t: entry_type_label(t) for t in EntryType}
        self.members: dict[str, str] = {}
        self.zones: dict[str, ZoneInfo] = {}

    def zone(self, name: str | None) -> ZoneInfo:
        key = name or "UTC"
        if key not in self.zones:
            self.zones[key] = ZoneInfo(key)
        return self.zones[key]

    def __call__(self, row: MovementRow) -> dict:
        if row.account_kind == AccountKind.SYSTEM:
            account = self.system
        else:
            name = row.member_name or row.member_id
            if name not in self.members:
                self.members[name] = account_label(AccountKind.MEMBER, name)
            account = self.members[name]
        if row.real_user_name and row.actor_name:
            done_by = _("%(real)s as %(name)s", real=row.real_user_name, name=row.actor_name)
        elif row.actor_name:
            done_by = row.actor_name
        elif row.api_key_id:
            done_by = self.api_key
        else:
            done_by = self.nobody
        amount = ""
        if row.amount is not None and row.currency:
            amount = str(round_money(row.amount, row.currency))
        return {
            "type": self.types.get(row.type, str(row.type)),
            "account": account,
            "done_by": done_by,
            "amount": amount,
        }


def csv_cell(value):
    """Text a spreadsheet would run as a formula is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _started(items: Iterator) -> Iterator:
    """``items`` with its first one already taken (so the work behind it has run)."""
    first = next(items, _END)
    return iter(()) if first is _END else itertools.chain([first], items)


def _logged(chunks: Iterator, filename: str) -> Iterator:
    """A failure after the first byte cannot change the status any more: log it and let
    the server abort the transfer, so the client sees an incomplete download, not a short
    file that looks whole."""
    try:
        yield from chunks
    except Exception:
        logger.exception("the CSV download %s failed while streaming", filename)
        raise


def csv_headers(columns: tuple[str, ...], *, with_organization: bool = False) -> list[str]:
    """The header row of a movements CSV of ``columns``, in the request's language."""
    names = {
        "date": _("Date"),
        "type": _("Type"),
        "account": _("Account"),
        "credits": _("Credits"),
        "balance_after": _("Balance after"),
        "amount": _("Amount"),
        "currency": _("Currency"),
        "reference": _("Reference"),
        "done_by": _("Done by"),
        "recorded_at": _("Recorded at"),
    }
    headers = [names[column] for column in columns]
    return [_("Organization"), *headers] if with_organization else headers


def _python_cells(row: MovementRow, describe: RowLabels, columns, with_organization: bool):
    """One movement's CSV cells, written in Python (SQLite, or rows given as a list)."""
    labels = describe(row)
    zone = describe.zone(row.organization_timezone)
    recorded = ""
    if recorded_apart(row.occurred_at, row.created_at):
        recorded = row.created_at.astimezone(zone).isoformat(timespec="seconds")
    cells = {
        "date": row.occurred_at.astimezone(zone).isoformat(timespec="seconds"),
        "type": labels["type"],
        "account": labels["account"],
        "credits": row.credits,
        "balance_after": row.balance_after,
        "amount": labels["amount"],
        "currency": row.currency or "",
        "reference": row.reference or "",
        "done_by": labels["done_by"],
        "recorded_at": recorded,
    }
    shown = [cells[column] for column in columns]
    return [row.organization_name, *shown] if with_organization else shown


def attachment(filename: str) -> str:
    """A Content-Disposition for a download named ``filename`` (translated, so it may not be
    ASCII): a plain ASCII name every client reads, and the name as written for those that
    read RFC 6266's ``filename*``."""
    plain = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    plain = plain.replace('"', "").replace("\\", "")
    if plain == filename:
        return f'attachment; filename="{plain}"'
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"


def movements_csv_response(rows, filename: str, *, with_organization: bool = False) -> Response:
    """Movement rows as a streamed CSV download (the portal's logs and the API's export), in
    the columns the rows name (``MovementRows.columns``; all of CSV_COLUMNS for plain rows)."""
    columns = getattr(rows, "columns", CSV_COLUMNS)
    headers = csv_headers(columns, with_organization=with_organization)

    # On PostgreSQL the database writes the rows (same bytes, ~10x faster); None on SQLite.
    copied = copy_csv(rows, with_organization=with_organization, formula_starts=FORMULA_STARTS)
    # The query runs (and any refusal of its parameters is raised) before the response
    # starts: a failure is then an error page, never a CSV cut short under a 200.
    started = _started(copied if copied is not None else iter(rows))

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # so spreadsheets read the file as UTF-8
        writer.writerow([csv_cell(h) for h in headers])
        if copied is not None:
            yield buffer.getvalue().encode()
            yield from started
            return
        describe = RowLabels()
        for count, row in enumerate(started, 1):
            cells = _python_cells(row, describe, columns, with_organization)
            writer.writerow([csv_cell(c) for c in cells])
            if count % CSV_FLUSH_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(_logged(generate(), filename)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": attachment(filename),
            "Cache-Control": "private, no-store",
        },
    )

"""A monthly statement as people download it: a PDF (WeasyPrint, like invoices and
receipts) in the reader's language, and a streamed CSV (like the logs' CSV)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal
from flask import Response, render_template, stream_with_context
from flask_babel import force_locale
from flask_babel import gettext as _

from tenants.billing.periods import month_name
from tenants.core.types import currency_places, utcnow
from tenants.credits.accounts import account_name
from tenants.credits.export import attachment, csv_cell
from tenants.credits.movements import account_label, entry_type_label
from tenants.credits.statements import Statement, StatementLine
from tenants.invoices.documents import html_to_pdf
from tenants.models import AccountKind, EntryType

# A statement's PDF lists this many movements; its totals and check cover all of them (the
# CSV lists every one).
PDF_LINE_LIMIT = 2000
CSV_FLUSH_ROWS = 500

# The order a statement's totals are listed in.
TYPE_ORDER = tuple(EntryType)


def plain_amount(value: Decimal | None, currency: str | None):
    """Money as the CSV writes it (a number, so never taken for a formula): a point, the
    currency's decimals, more only where the amount has them (a charge's exact tax, e.g.
    0.0735)."""
    if value is None:
        return ""
    digits = 2 if currency is None else currency_places(currency)
    exponent = min(-digits, Decimal(value).normalize().as_tuple().exponent)
    return Decimal(value).quantize(Decimal(1).scaleb(exponent))


def statement_title(statement: Statement) -> str:
    if statement.kind == "debt":
        return _("Debt statement")
    return _("Credits statement")


def scope_label(statement: Statement) -> str:
    """Whose statement: one account, or every account the reader may read."""
    if statement.kind == "debt":
        return _("The organization's debt")
    if statement.account is None:
        return _("Every account you may read")
    return account_name(statement.organization, statement.account.label)


def _line_account(line: StatementLine) -> str:
    if line.account_kind is None:
        return ""
    if line.account_kind == AccountKind.SYSTEM:
        return account_label(AccountKind.SYSTEM)
    return account_label(AccountKind.MEMBER, line.member_name or "")


def check_text(statement: Statement, show) -> str:
    """The check, as the statement says it."""
    if statement.kind == "debt":
        if statement.balanced:
            return _("Checked: opening debt + movements = closing debt.")
        return _(
            "CHECK FAILED: opening debt + movements differ from the closing debt by "
            "%(difference)s. Do not rely on this statement; report it to support.",
            difference=show(statement.difference),
        )
    if statement.balanced:
        return _("Checked: opening balance + movements = closing balance.")
    return _(
        "CHECK FAILED: opening balance + movements differ from the closing balance by "
        "%(difference)s. Do not rely on this statement; report it to support.",
        difference=show(statement.difference),
    )


# -- PDF ---------------------------------------------------------------------------------------


def render_statement_pdf(statement: Statement, month: str, language: str) -> bytes:
    """The statement as a PDF in ``language``: amounts, credits and dates in its locale,
    times in the organization's timezone. Every movement is walked for the totals and the
    check; the first PDF_LINE_LIMIT are listed."""
    org = statement.organization
    zone = ZoneInfo(org.timezone or "UTC")
    currency = statement.currency

    def money(amount) -> str:
        if amount is None:
            return ""
        shown = Decimal(amount).normalize()
        return format_currency(shown, currency, locale=language, decimal_quantization=False)

    def credits(value) -> str:
        return "" if value is None else format_decimal(value, locale=language)

    def signed(value) -> str:
        text = money(value) if statement.kind == "debt" else credits(value)
        return f"+{text}" if value > 0 else text

    def when(value) -> str:
        return format_datetime(value.astimezone(zone), "short", tzinfo=zone, locale=language)

    show = money if statement.kind == "debt" else credits
    with force_locale(language):
        lines = []
        for line in statement.lines():
            if len(lines) < PDF_LINE_LIMIT:
                lines.append(line)
        types = [t.value for t in TYPE_ORDER if t.value in statement.tally.counts]
        html = render_template(
            "pdf/statement.html",
            statement=statement,
            org=org,
            title=statement_title(statement),
            scope=scope_label(statement),
            month=month_name(month, language),
            so_far=statement.end > utcnow(),
            lines=lines,
            more=statement.tally.count - len(lines),
            types=types,
            type_label=entry_type_label,
            account_of=_line_account,
            check=check_text(statement, show),
            show=show,
            money=money,
            credits=credits,
            signed=signed,
            when=when,
            generated=when(utcnow()),
            locale=language,
        )
    return html_to_pdf(html)


# -- CSV ---------------------------------------------------------------------------------------


def _csv_headers(statement: Statement) -> list[str]:
    if statement.kind == "debt":
        return [
            _("Date"),
            _("Type"),
            _("Reference"),
            _("Credits"),
            _("Amount"),
            _("Tax"),
            _("Debt change"),
            _("Debt"),
        ]
    return [_("Date"), _("Type"), _("Account"), _("Reference"), _("Credits"), _("Balance")]


def _csv_rows(statement: Statement) -> Iterator[list]:
    """The statement's rows: the opening, every movement, the closing and the check."""
    org = statement.organization
    zone = ZoneInfo(org.timezone or "UTC")
    debt = statement.kind == "debt"
    currency = statement.currency

    def value(amount):
        return plain_amount(amount, currency) if debt else amount

    def summary(label: str, amount) -> list:
        cells = ["", label] + [""] * (6 if debt else 4)
        cells[-1] = value(amount)
        return cells

    types = {t.value: entry_type_label(t) for t in EntryType}
    yield summary(_("Opening debt") if debt else _("Opening balance"), statement.opening)
    for line in statement.lines():
        date = line.occurred_at.astimezone(zone).isoformat(timespec="seconds")
        if debt:
            yield [
                date,
                types.get(line.type, line.type),
                line.reference,
                "" if line.credits is None else line.credits,
                plain_amount(line.amount, currency),
                plain_amount(line.tax, currency),
                plain_amount(line.change, currency),
                plain_amount(line.balance, currency),
            ]
        else:
            yield [
                date,
                types.get(line.type, line.type),
                _line_account(line),
                line.reference,
                line.change,
                line.balance,
            ]
    yield summary(_("Closing debt") if debt else _("Closing balance"), statement.closing)
    check = ["", _("Check"), check_text(statement, value)] + [""] * (5 if debt else 3)
    yield check


def statement_csv_response(statement: Statement, filename: str) -> Response:
    """The statement as a streamed CSV download (UTF-8 with its mark, every text cell
    guarded against spreadsheet formulas, as the logs' CSV)."""
    headers = _csv_headers(statement)
    rows = _csv_rows(statement)
    # The opening and the first movement (or the closing): the movements' query runs, and any
    # failure of it is an error page, before the response starts.
    started = list(itertools.islice(rows, 2))

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow([csv_cell(h) for h in headers])
        for count, row in enumerate(itertools.chain(started, rows), 1):
            writer.writerow([csv_cell(c) for c in row])
            if count % CSV_FLUSH_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": attachment(filename),
            "Cache-Control": "private, no-store",
        },
    )

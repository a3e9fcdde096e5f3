"""Reading contacts: pages of a list's contacts and of the opt-out list (the one keyset
cursor), and the rejected rows of an import as the downloadable CSV report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select

from tenants.access import contact_scoping
from tenants.access.actors import Actor
from tenants.contacts.numbers import rejection_label
from tenants.contacts.operations import rejections_query
from tenants.core import paging
from tenants.core.extensions import db
from tenants.models import Contact, ContactImport, ContactList, OptOut, Organization

PAGE_SIZE = 50
MAX_LIMIT = 200
ID_CURSOR = paging.Cursor((paging.TEXT,))
REPORT_BATCH = 1_000


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def id_page(
    query: Select, id_column, limit: int, cursor: str | None, cursor_kind=ID_CURSOR
) -> Page:
    """A page of ``query`` in id order after ``cursor``."""
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        (after,) = cursor_kind.decode(cursor)
        query = query.where(id_column > after)
    rows = db.session.scalars(query.order_by(id_column).limit(limit + 1)).all()
    more = len(rows) > limit
    items = list(rows[:limit])
    return Page(items, cursor_kind.encode(items[-1].id) if more else None)


def contacts_page(
    actor: Actor,
    contact_list: ContactList,
    *,
    limit: int = PAGE_SIZE,
    cursor: str | None = None,
    cursor_kind: paging.Cursor = ID_CURSOR,
) -> Page:
    query = contact_scoping.contacts_query(actor, contact_list)
    return id_page(query, Contact.id, limit, cursor, cursor_kind)


def opt_outs_page(
    actor: Actor,
    org: Organization,
    *,
    limit: int = PAGE_SIZE,
    cursor: str | None = None,
    cursor_kind: paging.Cursor = ID_CURSOR,
) -> Page:
    query = contact_scoping.opt_outs_query(actor, org)
    return id_page(query, OptOut.id, limit, cursor, cursor_kind)


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()


def rejections_csv(record: ContactImport) -> Iterator[str]:
    """The report of an import's refused rows, streamed: headers and reasons in the
    reader's language (the rendering request's locale), rows read a thousand at a time."""
    yield "\ufeff" + _csv_line([_("Row"), _("Reason"), _("Content")])
    result = db.session.execute(rejections_query(record).execution_options(yield_per=REPORT_BATCH))
    for row, reason, content in result:
        yield _csv_line([row, rejection_label(reason), _safe_cell(content)])


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    if value and (
        value[0] in "=@\t\r" or (value[0] in "+-" and not value[1:2].strip(" ").isdigit())
    ):
        return "'" + value
    return value


def report_filename(record: ContactImport) -> str:
    return _("rejected-rows-%(date)s.csv", date=record.created_at.strftime("%Y-%m-%d"))

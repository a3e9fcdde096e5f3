"""CSV imports into a contact list or the opt-out list: streamed, 1,000 rows per statement,
duplicates left to the database's unique key, every refused row kept for the report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import insert

from tenants.contacts.csv_rows import (
    CONTENT_MAX,
    Columns,
    Readable,
    Row,
    csv_rows,
    read_columns,
    text_lines,
)
from tenants.contacts.numbers import Rejection, e164, name_problem
from tenants.core.bulk import insert_rows
from tenants.core.extensions import db
from tenants.core.types import new_ids, utcnow
from tenants.models import Contact, ContactImport, ImportRejection, OptOut, OptOutSource

BATCH_ROWS = 1_000
# The first refusals, as the API's answer lists them; all of them are in the report.
FIRST_REJECTIONS = 100


@dataclass
class ImportResult:
    import_id: str
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    first_rejections: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Accepted:
    number: int
    mobile: str
    name: str | None


def _check(row: Row, columns: Columns, region: str | None) -> Accepted | Rejection:
    cells = row.cells
    if cells is None:
        return Rejection.UNREADABLE
    mobile_text = cells[columns.mobile].strip() if columns.mobile < len(cells) else ""
    if not mobile_text:
        return Rejection.MOBILE_MISSING
    name = None
    if columns.name is not None and columns.name < len(cells):
        name = cells[columns.name].strip() or None
        problem = name_problem(name) if name else None
        if problem is not None:
            return problem
    mobile = e164(mobile_text, region)
    if mobile is None:
        return Rejection.MOBILE_INVALID
    return Accepted(row.number, mobile, name)


def _batches(rows: Iterator[Row]) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


class _Importer:
    """One import: checks rows, writes the accepted ones and the refusals, counts."""

    def __init__(self, record: ContactImport, region: str | None, write: Callable) -> None:
        self.record = record
        self.region = region
        self.write = write  # writes unique accepted rows, returns how many were new
        self.result = ImportResult(record.id)
        self.rejection_statement = insert(ImportRejection.__table__)

    def run(self, stream: Readable, *, with_names: bool) -> ImportResult:
        rows = csv_rows(text_lines(stream))
        first = next(rows, None)
        if first is None:
            return self.result
        columns, is_header = read_columns(first, with_names=with_names)
        return self.run_rows(rows if is_header else _chain(first, rows), columns)

    def run_rows(self, rows: Iterator[Row], columns: Columns) -> ImportResult:
        for batch in _batches(rows):
            self._batch(batch, columns)
        return self.result

    def _batch(self, batch: list[Row], columns: Columns) -> None:
        accepted: dict[str, Accepted] = {}
        refused: list[dict] = []
        duplicates = 0
        for row in batch:
            outcome = _check(row, columns, self.region)
            if isinstance(outcome, Accepted):
                if outcome.mobile in accepted:
                    duplicates += 1
                else:
                    accepted[outcome.mobile] = outcome
                continue
            refused.append(
                {
                    "import_id": self.record.id,
                    "row": row.number,
                    "reason": outcome.value,
                    "content": row.raw,
                }
            )
        added = self.write(list(accepted.values())) if accepted else 0
        self.result.added += added
        self.result.duplicates += duplicates + len(accepted) - added
        if refused:
            db.session.execute(self.rejection_statement, refused)
            self.result.rejected += len(refused)
            room = FIRST_REJECTIONS - len(self.result.first_rejections)
            self.result.first_rejections += [(r["row"], r["reason"]) for r in refused[:room]]


def _chain(first: Row, rest: Iterator[Row]) -> Iterator[Row]:
    yield first
    yield from rest


def contacts_writer(list_id: str, organization_id: str, reseller_id: str) -> Callable:
    """Writes accepted rows into a contact list; a mobile already in it is skipped."""

    def write(rows: list[Accepted]) -> int:
        now = utcnow()
        ids = new_ids("ct", len(rows))
        params = [
            {
                "id": id_,
                "reseller_id": reseller_id,
                "organization_id": organization_id,
                "list_id": list_id,
                "name": row.name,
                "mobile": row.mobile,
                "created_at": now,
            }
            for id_, row in zip(ids, rows, strict=True)
        ]
        return insert_rows(Contact.__table__, params, index_elements=["list_id", "mobile"])

    return write


def opt_outs_writer(organization_id: str, reseller_id: str, source: OptOutSource) -> Callable:
    """Writes accepted numbers into the organization's opt-out list."""

    def write(rows: list[Accepted]) -> int:
        now = utcnow()
        ids = new_ids("opt", len(rows))
        params = [
            {
                "id": id_,
                "reseller_id": reseller_id,
                "organization_id": organization_id,
                "mobile": row.mobile,
                "source": source.value,
                "created_at": now,
            }
            for id_, row in zip(ids, rows, strict=True)
        ]
        return insert_rows(OptOut.__table__, params, index_elements=["organization_id", "mobile"])

    return write


JSON_COLUMNS = Columns(mobile=1, name=0)


def json_rows(items: list[tuple[str | None, str]]) -> Iterator[Row]:
    """(name, mobile) pairs sent as JSON, as rows numbered from 1 (their index + 1)."""
    for index, (name, mobile) in enumerate(items):
        yield Row(index + 1, [name or "", mobile], f"{name or ''},{mobile}"[:CONTENT_MAX])


def run_import(
    record: ContactImport,
    source: Readable | list[tuple[str | None, str]],
    region: str | None,
    write: Callable,
    *,
    names: bool,
) -> ImportResult:
    """Read ``source`` (a CSV stream, or (name, mobile) pairs) into ``record``'s target
    through ``write``; the counts are set on the record. Raises ValidationFailed (``file``)
    when a CSV's header names no mobile column."""
    importer = _Importer(record, region, write)
    if isinstance(source, list):
        result = importer.run_rows(json_rows(source), JSON_COLUMNS)
    else:
        result = importer.run(source, with_names=names)
    record.added, record.duplicates, record.rejected = (
        result.added,
        result.duplicates,
        result.rejected,
    )
    return result

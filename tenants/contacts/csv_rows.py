"""Reading a CSV upload of any size as rows: in chunks, decoded as it comes, never whole in
memory; the header (if any) says which column holds the name and which the mobile."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from flask_babel import lazy_gettext as _l

from tenants.core.errors import ValidationFailed

READ_CHUNK = 64 * 1024
# A line longer than this is cut (what remains of it up to the next line break is dropped):
# a file without line breaks never fills the memory.
MAX_LINE_CHARS = 16 * 1024
CONTENT_MAX = 500  # how much of a rejected row the report keeps

NAME_WORDS = frozenset({"name", "full name", "contact", "nombre", "nombre completo", "contacto"})
MOBILE_WORDS = frozenset(
    {
        "mobile",
        "mobile number",
        "mobile phone",
        "phone",
        "phone number",
        "number",
        "cell",
        "msisdn",
        "movil",
        "móvil",
        "celular",
        "telefono",
        "teléfono",
        "numero",
        "número",
    }
)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _texts(stream: Readable) -> Iterator[str]:
    """The upload decoded as UTF-8 (a BOM dropped), chunk by chunk; undecodable bytes become
    U+FFFD, so such a row is refused for its content rather than the whole file."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            break
        yield decoder.decode(chunk)
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def text_lines(stream: Readable) -> Iterator[str]:
    """Lines of the upload, each ending in ``\\n`` (CSV's quoted line breaks are the csv
    module's business), none longer than MAX_LINE_CHARS."""
    pending = ""
    skipping = False
    for text in _texts(stream):
        pending += text
        parts = pending.split("\n")
        pending = parts.pop()
        for part in parts:
            if skipping:
                skipping = False
                continue
            yield part[:MAX_LINE_CHARS] + "\n"
        if len(pending) > MAX_LINE_CHARS:
            if not skipping:
                yield pending[:MAX_LINE_CHARS] + "\n"
            skipping = True
            pending = ""
    if pending and not skipping:
        yield pending[:MAX_LINE_CHARS]


@dataclass(frozen=True)
class Row:
    number: int  # the line the row starts on (the header is line 1), as an editor shows it
    cells: list[str] | None  # None: the line could not be read as CSV
    raw: str = ""


def csv_rows(lines: Iterable[str]) -> Iterator[Row]:
    """Each non-blank record, numbered; a record the csv module cannot read is a Row
    without cells (rejected as unreadable), and reading goes on with the next line."""
    reader = csv.reader(lines)
    while True:
        start = reader.line_num + 1  # a quoted line break makes a record span lines
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield Row(start, None)
            continue
        if any(cell.strip() for cell in cells):
            # As the report keeps it: NUL is no text PostgreSQL stores.
            raw = ",".join(cells).replace("\x00", "\ufffd")[:CONTENT_MAX]
            yield Row(start, cells, raw)


@dataclass(frozen=True)
class Columns:
    """Where a file keeps the name (None: no names) and the mobile."""

    mobile: int
    name: int | None


def _word(cell: str) -> str:
    return " ".join(cell.strip().lower().replace("_", " ").split())


def _looks_like_number(cell: str) -> bool:
    digits = cell.strip().lstrip("+").replace(" ", "").replace("-", "")
    return bool(digits) and digits.replace("(", "").replace(")", "").isdigit()


def read_columns(first: Row, *, with_names: bool) -> tuple[Columns, bool]:
    """The columns, from the first row, and whether that row is a header. A header names the
    mobile column (Mobile, Phone, Móvil, …) and, optionally, the name's; without a header a
    file of one column holds numbers, and of two or more the name then the mobile (or the
    mobile then the name, when only the first cell looks like a number)."""
    cells = first.cells or []
    words = [_word(cell) for cell in cells]
    named_mobile = any(word in MOBILE_WORDS for word in words)
    named_only = any(word in NAME_WORDS for word in words) and not any(
        _looks_like_number(cell) for cell in cells
    )
    if named_mobile or named_only:
        mobile = next((i for i, word in enumerate(words) if word in MOBILE_WORDS), None)
        if mobile is None:
            raise ValidationFailed(
                fields={"file": str(_l("The file has no column for the mobile number."))}
            )
        name = next((i for i, word in enumerate(words) if word in NAME_WORDS), None)
        return Columns(mobile, name if with_names else None), True
    if len(cells) < 2:
        return Columns(0, None), False
    if not with_names:
        return Columns(
            next((i for i, c in enumerate(cells) if _looks_like_number(c)), 0), None
        ), False
    if _looks_like_number(cells[0]) and not _looks_like_number(cells[1]):
        return Columns(0, 1), False
    return Columns(1, 0), False

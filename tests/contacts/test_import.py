"""CSV imports of any size: read in chunks, 1,000 rows per statement, duplicates counted,
every refused row kept with its row number and reason for the downloadable report."""

from __future__ import annotations

import csv
import io

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tenants.contacts import csv_rows, imports, operations, pages
from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Contact, ImportRejection
from tests.contacts.conftest import csv_file


class Trickle(io.RawIOBase):
    """A stream that gives at most ``size`` bytes a read, and counts the reads."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size, self.reads, self.largest = data, size, 0, 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        n = self.size if n < 0 else min(n, self.size)
        chunk, self.data = self.data[:n], self.data[n:]
        self.largest = max(self.largest, len(chunk))
        return chunk


def _mobiles(contact_list) -> set[str]:
    return set(db.session.scalars(select(Contact.mobile).where(Contact.list_id == contact_list.id)))


def test_bad_rows_and_duplicates_are_counted_and_reported(shop):
    text = (
        "Name;ignored,Mobile\n"  # a header naming the mobile column (and a name-less first one)
        "x,+34 600 000 101\n"
        "x,600000102\n"
        "x,+34600000101\n"  # repeated in the file
        "x,12345\n"  # not a number
        "x,\n"  # no mobile
        ",,\n"  # blank: skipped, not counted
        "x,+34600000077\n"
    )
    text = text.replace("Name;ignored", "Nombre")
    result = operations.import_contacts(shop.actor, shop.org, shop.clients, csv_file(text))
    commit()
    assert (result.added, result.duplicates, result.rejected) == (3, 1, 2)
    assert result.first_rejections == [(5, "mobile_invalid"), (6, "mobile_missing")]
    assert _mobiles(shop.clients) == {"+34600000101", "+34600000102", "+34600000077"}
    names = set(db.session.scalars(select(Contact.name).where(Contact.list_id == shop.clients.id)))
    assert names == {"x"}


def test_a_number_already_in_the_list_is_a_duplicate(shop):
    operations.add_contact(shop.actor, shop.org, shop.clients, mobile="+34600000201")
    result = operations.import_contacts(
        shop.actor, shop.org, shop.clients, csv_file("Ana,+34600000201\nBea,+34600000202\n")
    )
    assert (result.added, result.duplicates, result.rejected) == (1, 1, 0)


def test_without_a_header_the_columns_are_guessed(shop):
    actor, org = shop.actor, shop.org
    mobile_first = operations.create_list(actor, org, name="Mobile first")
    result = operations.import_contacts(actor, org, mobile_first, csv_file("+34600000301,Ana\n"))
    assert result.added == 1
    contact = db.session.scalar(select(Contact).where(Contact.list_id == mobile_first.id))
    assert (contact.name, contact.mobile) == ("Ana", "+34600000301")
    only_numbers = operations.create_list(actor, org, name="Only numbers")
    result = operations.import_contacts(actor, org, only_numbers, csv_file("600000302\r\n"))
    assert result.added == 1


def test_a_header_without_a_mobile_column_refuses_the_file(shop):
    with pytest.raises(ValidationFailed) as refused:
        operations.import_contacts(shop.actor, shop.org, shop.clients, csv_file("Name,Email\n"))
    assert "file" in refused.value.fields


def test_odd_content_never_fails_the_import(shop):
    data = (
        b"\xef\xbb\xbfname,mobile\r\n"  # BOM and CRLF
        b'"Quoted, name",+34600000401\r\n'
        b'"Two\nlines",+34600000402\r\n'  # a quoted line break: refused for the name
        b"\xff\xfe,+34600000403\r\n"  # not UTF-8: read as replacement characters
        b"Nul\x00,+34600000404\r\n"
        b'"unterminated,+34600000405\r\n' + b"x" * 40_000 + b",+34600000406\r\n"  # an overlong line
        b"A,+34600000407\r\n"
    )
    result = operations.import_contacts(shop.actor, shop.org, shop.clients, io.BytesIO(data))
    assert result.added + result.duplicates + result.rejected >= 3
    assert "+34600000401" in _mobiles(shop.clients)
    assert (3, "name_invalid") in result.first_rejections


def test_a_line_break_split_across_reads_is_one_line(shop):
    data = b"Ana,+34600000501\r\nBea,+34600000502\r\n"
    for size in (1, 2, 3, 7, 18, 19):
        lines = list(csv_rows.text_lines(Trickle(data, size)))
        assert lines == ["Ana,+34600000501\r\n", "Bea,+34600000502\r\n"], size


def test_a_big_file_is_read_in_chunks_and_written_in_batches(shop, monkeypatch):
    """20,000 rows (every 10th invalid, every 50th repeated): streamed, never read whole."""
    statements: list[int] = []
    real = imports.contacts_writer

    def counting_writer(*args):
        write = real(*args)

        def wrapped(rows):
            statements.append(len(rows))
            return write(rows)

        return wrapped

    monkeypatch.setattr("tenants.contacts.operations.contacts_writer", counting_writer)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "mobile"])
    for i in range(20_000):
        if i % 10 == 9:
            writer.writerow([f"Person {i}", "123"])
        elif i % 50 == 0 and i:
            writer.writerow([f"Again {i}", "+34611111111"])
        else:
            writer.writerow([f"Person {i}", f"+3461{i:07d}"])
    data = out.getvalue().encode()
    stream = Trickle(data, csv_rows.READ_CHUNK)
    result = operations.import_contacts(shop.actor, shop.org, shop.clients, stream)
    commit()
    assert stream.largest <= csv_rows.READ_CHUNK and stream.reads > len(data) // csv_rows.READ_CHUNK
    assert result.rejected == 2_000
    assert result.added + result.duplicates == 18_000
    assert result.duplicates == 398  # the repeated number, after its first
    assert max(statements) <= imports.BATCH_ROWS and len(statements) == 20
    count = db.session.scalar(select(func.count()).where(Contact.list_id == shop.clients.id))
    assert count == result.added
    rejections = db.session.scalar(
        select(func.count()).where(ImportRejection.import_id == result.import_id)
    )
    assert rejections == 2_000
    assert len(result.first_rejections) == imports.FIRST_REJECTIONS


def test_the_report_lists_each_rejected_row_in_the_readers_language(app, shop):
    text = "name,mobile\nAna,+34600000601\nBad,12\n=HYPERLINK(1),\n"
    result = operations.import_contacts(shop.actor, shop.org, shop.clients, csv_file(text))
    commit()
    record = db.session.get(operations.ContactImport, result.import_id)
    with app.test_request_context(), force_locale("en"):
        english = "".join(pages.rejections_csv(record))
    with app.test_request_context(), force_locale("es"):
        spanish = "".join(pages.rejections_csv(record))
        assert pages.report_filename(record).startswith("filas-rechazadas-")
    rows = list(csv.reader(io.StringIO(english.lstrip("\ufeff"))))
    assert rows == [
        ["Row", "Reason", "Content"],
        ["3", "Not a valid mobile number.", "Bad,12"],
        ["4", "No mobile number.", "'=HYPERLINK(1),"],
    ]
    assert spanish.lstrip("\ufeff").startswith("Fila,Motivo,Contenido")
    assert "No es un número de móvil válido." in spanish


def test_an_opt_out_import_counts_like_a_list_import(shop):
    operations.add_opt_out(shop.actor, shop.org, mobile="+34600000701")
    text = "Móvil\n+34600000701\n600000702\n600000702\nnope\n"
    result = operations.import_opt_outs(shop.actor, shop.org, csv_file(text))
    assert (result.added, result.duplicates, result.rejected) == (1, 2, 1)

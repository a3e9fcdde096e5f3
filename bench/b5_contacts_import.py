"""B5 (contacts): a 100,000-row contact CSV imported through the API into PostgreSQL, beside
PostgreSQL's COPY of the same rows into the same table.

    .venv/bin/python bench/b5_contacts_import.py [--rows 100000]

Creates a fresh PostgreSQL database, an organization (Spain) with two contact lists and an
organization API key, starts the portal under gunicorn (one sync worker: one request is
measured) and posts the CSV (``name,mobile``, every number valid and distinct, national and
international forms mixed) as ``text/csv`` to ``POST …/contact-lists/{id}/contacts``: the
time from the first byte sent to the answer. The baseline, in the same run: the same rows,
already in E.164 with their ids, ``COPY``-ed by psycopg 3 into the other list (one
transaction). Target: the import in ≤ 10 s, every row added.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import REDIS_URL, fresh_database, gunicorn
from bench._report import figure
from tenants.core.types import new_ids

MAX_SECONDS = 10.0


def seed(url: str) -> tuple[str, str, str, str, str]:
    """An organization with two lists and a key: (org id, reseller id, list, copy list, key)."""
    from app import create_app
    from tenants.access.actors import SYSTEM
    from tenants.api_keys.operations import create_api_key
    from tenants.contacts import operations
    from tenants.core.extensions import db
    from tenants.models import Reseller
    from tenants.organizations.operations import NewOrganization, create_organization

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
    with app.app_context():
        db.create_all()
        reseller = Reseller(name="B5 bench", slug=f"b5-{uuid.uuid4().hex[:8]}")
        db.session.add(reseller)
        db.session.commit()
        org = create_organization(
            SYSTEM,
            reseller,
            NewOrganization(
                name="Contacts bench SL",
                country="ES",
                pricing_model="prepaid",
                owner_name="Owner",
                owner_email=f"owner-{uuid.uuid4().hex[:6]}@b5.example",
            ),
        )
        imported = operations.create_list(SYSTEM, org, name="Imported")
        copied = operations.create_list(SYSTEM, org, name="Copied")
        _key, secret = create_api_key(SYSTEM, reseller=reseller, organization=org, name="b5")
        db.session.commit()
        ids = (org.id, reseller.id, imported.id, copied.id)
    return (*ids, secret)


def rows(count: int) -> list[tuple[str, str, str]]:
    """(name, mobile as written, E.164): Spanish mobiles, a third written nationally."""
    out = []
    for i in range(count):
        national = f"6{i + 10_000_000:08d}"
        written = national if i % 3 == 0 else f"+34 {national[:3]} {national[3:6]} {national[6:]}"
        out.append((f"Contact {i:06d}", written, f"+34{national}"))
    return out


def post_csv(port: int, path: str, key: str, body: bytes) -> tuple[float, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1{path}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
    )
    began = time.monotonic()
    with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 (loopback)
        answer = json.loads(response.read())
    return time.monotonic() - began, answer


def copy_rows(url: str, org_id: str, reseller_id: str, list_id: str, data) -> float:
    import psycopg

    from tenants.core.types import utcnow

    ids = new_ids("ct", len(data))
    now = utcnow()
    began = time.monotonic()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY contacts (id, reseller_id, organization_id, list_id, name, mobile,"
                " created_at) FROM STDIN"
            ) as copy,
        ):
            for id_, (name, _written, mobile) in zip(ids, data, strict=True):
                copy.write_row((id_, reseller_id, org_id, list_id, name, mobile, now))
        conn.commit()
    return time.monotonic() - began


def count(url: str, list_id: str) -> int:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute(
            "SELECT count(*) FROM contacts WHERE list_id = %s", (list_id,)
        ).fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    data = rows(args.rows)
    text = io.StringIO()
    text.write("name,mobile\n")
    for name, written, _mobile in data:
        text.write(f"{name},{written}\n")
    body = text.getvalue().encode()
    with fresh_database("bench_b5c") as url:
        org_id, reseller_id, imported, copied, key = seed(url)
        env = {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "b5-bench-" + uuid.uuid4().hex,
            "API_RATE_LIMIT": "1000000000/minute",
        }
        print(f"B5 contacts: {args.rows:,} rows ({len(body) / 1e6:.1f} MB) through the API")
        baseline = copy_rows(url, org_id, reseller_id, copied, data)
        with gunicorn("app:create_app()", env, workers=1) as port:
            path = f"/organizations/{org_id}/contact-lists/{imported}/contacts"
            warm = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1{path}", headers={"Authorization": f"Bearer {key}"}
            )
            urllib.request.urlopen(warm, timeout=60).read()  # noqa: S310 (the worker booted)
            seconds, answer = post_csv(port, path, key, body)
        stored = count(url, imported)
    complete = answer.get("added") == args.rows == stored
    met = seconds <= MAX_SECONDS and complete
    print(f"import  {seconds:8.2f} s  {args.rows / seconds:10,.0f} rows/s  answer {answer}"[:300])
    print(f"COPY    {baseline:8.2f} s  {args.rows / baseline:10,.0f} rows/s")
    print(f"stored {stored:,}; every row added: {complete}")
    figure(
        "B5",
        f"{args.rows:,}-row contact CSV import through the API",
        seconds,
        "s",
        f"≤ {MAX_SECONDS:.0f} s, every row added",
        met,
        baseline=baseline,
        ratio=seconds / baseline,
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

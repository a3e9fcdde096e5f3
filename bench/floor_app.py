"""The floor for B1: a bare Flask + psycopg usage endpoint, nothing else.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench \
        gunicorn -w 5 -b 127.0.0.1:8101 --chdir bench floor_app:app

``POST /accounts/<account id>/usage`` with ``{"credits": n, "reference": "…"}`` claims the
reference (one ``INSERT … ON CONFLICT DO NOTHING`` into ``usage_references``: a reference is
charged once per organization), runs one conditional ``UPDATE … SET balance = balance - n
WHERE id = … AND balance >= n`` and one ``INSERT`` of a ledger row into the portal's own
tables, in one transaction: the least any usage endpoint has to do. 402 when the balance is
short; 200 with the first entry's id for a reference charged before.
"""

from __future__ import annotations

import os
import secrets

import psycopg
from flask import Flask, jsonify, request

app = Flask(__name__)
_conn: psycopg.Connection | None = None


def connection() -> psycopg.Connection:
    global _conn
    if _conn is None or _conn.closed:
        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        _conn = psycopg.connect(url)
    return _conn


@app.post("/accounts/<account_id>/usage")
def usage(account_id: str):
    body = request.get_json()
    credits = int(body["credits"])
    conn = connection()
    entry_id = "ent_" + secrets.token_hex(12)
    refused = False
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO usage_references"
            " (organization_id, reference, reseller_id, entry_id, created_at)"
            " SELECT organization_id, %(ref)s, reseller_id, %(entry)s, now()"
            " FROM credit_accounts WHERE id = %(id)s"
            " ON CONFLICT DO NOTHING RETURNING entry_id",
            {"ref": body.get("reference"), "entry": entry_id, "id": account_id},
        )
        if cur.fetchone() is None:
            return jsonify(duplicate=True), 200
        cur.execute(
            "UPDATE credit_accounts SET balance = balance - %(n)s, updated_at = now()"
            " WHERE id = %(id)s AND balance >= %(n)s"
            " RETURNING balance, reseller_id, organization_id",
            {"n": credits, "id": account_id},
        )
        row = cur.fetchone()
        if row is None:  # refused: the claim goes too, so the reference may be retried
            refused = True
            raise psycopg.Rollback()
        balance, reseller_id, org_id = row
        cur.execute(
            "INSERT INTO ledger_entries (id, transaction_id, reseller_id, organization_id,"
            " account_id, account_kind, member_id, type, credits, balance_after, reference,"
            " occurred_at, created_at)"
            " VALUES (%s, %s, %s, %s, %s, 'system', '', 'usage', %s, %s, %s, now(), now())",
            (
                entry_id,
                "txn_" + secrets.token_hex(12),
                reseller_id,
                org_id,
                account_id,
                -credits,
                balance,
                body.get("reference"),
            ),
        )
    if refused:
        return jsonify(error="insufficient_credits"), 402
    return jsonify(id=entry_id, credits=-credits, balance_after=balance), 201

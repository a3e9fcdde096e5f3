"""The floor for B1: a bare Flask + psycopg usage endpoint, nothing else.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench \
        gunicorn -w 5 -b 127.0.0.1:8101 --chdir bench floor_app:app

``POST /accounts/<account id>/usage`` with ``{"credits": n, "reference": "…"}`` runs one
conditional ``UPDATE … SET balance = balance - n WHERE id = … AND balance >= n`` and one
``INSERT`` of a ledger row into the portal's own tables, in one transaction: the least any
usage endpoint has to do. 402 when the balance is short.
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
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "UPDATE credit_accounts SET balance = balance - %(n)s, updated_at = now()"
            " WHERE id = %(id)s AND balance >= %(n)s"
            " RETURNING balance, reseller_id, organization_id",
            {"n": credits, "id": account_id},
        )
        row = cur.fetchone()
        if row is None:
            return jsonify(error="insufficient_credits"), 402
        balance, reseller_id, org_id = row
        entry_id = "ent_" + secrets.token_hex(12)
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
    return jsonify(id=entry_id, credits=-credits, balance_after=balance), 201

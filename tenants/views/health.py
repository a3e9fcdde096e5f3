"""``GET /healthz``: the load balancer's check. 200 while this app server reaches its
database; while it cannot, the outage handler answers 503 with ``Retry-After`` (the same
answer every page gives then). Redis is not checked: the portal serves without it."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from tenants.core.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
    response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response

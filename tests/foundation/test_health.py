"""``GET /healthz`` answers without a login while the database is reachable (the 503 while
it is not is in tests/faults/test_database_outage.py)."""

from __future__ import annotations


def test_healthz_answers_ok_to_anyone(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_changes_nothing_and_takes_no_other_method(client):
    assert client.post("/healthz").status_code in (400, 405)

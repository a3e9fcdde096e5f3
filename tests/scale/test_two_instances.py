"""The scale story: two gunicorn instances on one PostgreSQL and Redis behave as one.

Sessions (a row in the database named by a signed cookie) and API idempotency keys (rows in
the database) must not live in one process's memory: log in on instance 1 and use the
cookie on instance 2; POST with an Idempotency-Key on instance 1, repeat it on instance 2 and
get the same answer with one effect.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD, fresh_postgres_database, owner_of, reseller_with_pool

pytestmark = pytest.mark.postgres_only

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="module")
def shared_database():
    """A dedicated PostgreSQL database for the two instances, dropped afterwards."""
    with fresh_postgres_database("portal_scale") as url:
        yield url


def _seed(url: str, outbox: Path) -> dict[str, str]:
    """A reseller with an API key and a prepaid organization whose owner can log in."""
    from app import create_app
    from tenants.access.actors import SYSTEM
    from tenants.api_keys.operations import create_api_key
    from tenants.core.extensions import db
    from tenants.credits import operations as credits
    from tenants.jobs.outbox import commit
    from tenants.organizations.operations import NewOrganization, create_organization

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "OUTBOX_DIR": str(outbox),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context():
        reseller = reseller_with_pool("Scale Telecom")
        commit()
        email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
        org = create_organization(
            SYSTEM,
            reseller,
            NewOrganization(
                name="Scale Org",
                country="ES",
                pricing_model="prepaid",
                owner_name="Owner Person",
                owner_email=email,
            ),
        )
        owner_of(org).user.set_password(PASSWORD)
        credits.add_credits(SYSTEM, org, credits.SYSTEM_ACCOUNT, 1000)
        _key, secret = create_api_key(SYSTEM, reseller=reseller, name="scale")
        commit()
        seeded = {"org_id": org.id, "email": email, "api_key": secret}
        db.session.remove()
        db.engine.dispose()
    return seeded


def _client() -> requests.Session:
    """A client that talks to loopback directly (no proxy from the environment)."""
    session = requests.Session()
    session.trust_env = False
    return session


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def two_instances(shared_database, tmp_path_factory):
    """Both instances, started once for the module (gunicorn boots take most of the time)."""
    tmp_path = tmp_path_factory.mktemp("scale")
    seeded = _seed(shared_database, tmp_path / "outbox")
    env = {
        **os.environ,
        "DATABASE_URL": shared_database,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "scale-test-" + uuid.uuid4().hex,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "PORTAL_URL": "http://127.0.0.1",
        "API_RATE_LIMIT": "1000/minute",
    }
    env.pop("MAIL_SERVER", None)
    ports, procs = [_free_port(), _free_port()], []
    try:
        for port in ports:
            procs.append(
                subprocess.Popen(
                    [str(GUNICORN), "-w", "1", "-b", f"127.0.0.1:{port}", "app:create_app()"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 30
        for port, proc in zip(ports, procs, strict=True):
            while True:
                assert proc.poll() is None, "gunicorn exited"
                try:
                    _client().get(f"http://127.0.0.1:{port}/login", timeout=10)
                    break
                except requests.RequestException:
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.2)
        yield [f"http://127.0.0.1:{port}" for port in ports], seeded
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)  # quick shutdown
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token on the login page"
    return match.group(1)


def test_a_session_made_on_one_instance_works_on_the_other(two_instances):
    (first, second), seeded = two_instances
    one = _client()
    form = one.get(f"{first}/login", timeout=10)
    answer = one.post(
        f"{first}/login",
        data={"email": seeded["email"], "password": PASSWORD, "csrf_token": _csrf(form.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:500]
    home = answer.headers["Location"]
    assert "/login" not in home
    path = "/" + home.split("://", 1)[-1].split("/", 1)[1] if "://" in home else home

    # The cookie set by instance 1, alone, on instance 2 (a client with no other state).
    two = _client()
    two.cookies.update(one.cookies)
    page = two.get(f"{second}{path}", allow_redirects=False, timeout=10)
    assert page.status_code == 200, (page.status_code, page.headers.get("Location"))
    assert "Scale Org" in page.text

    anonymous = _client().get(f"{second}{path}", allow_redirects=False, timeout=10)
    assert anonymous.status_code in (302, 303)
    assert "/login" in anonymous.headers["Location"]

    # Logging out on instance 2 ends the session for instance 1 as well.
    logout_form = two.get(f"{second}{path}", timeout=10)
    token = _csrf(logout_form.text)
    out = two.post(
        f"{second}/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10
    )
    assert out.status_code in (302, 303), (out.status_code, out.text[:300])
    after = one.get(f"{first}{path}", allow_redirects=False, timeout=10)
    assert after.status_code in (302, 303)


def test_an_idempotency_key_is_honoured_across_instances(two_instances):
    (first, second), seeded = two_instances
    http = _client()
    headers = {
        "Authorization": f"Bearer {seeded['api_key']}",
        "Idempotency-Key": f"scale-{uuid.uuid4().hex}",
    }
    url = f"/api/v1/organizations/{seeded['org_id']}/usage"
    body = {"credits": 7, "reference": "scale-test"}

    created = http.post(f"{first}{url}", json=body, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    replayed = http.post(f"{second}{url}", json=body, headers=headers, timeout=10)
    assert replayed.status_code == 201, replayed.text
    assert replayed.json() == created.json()
    assert replayed.headers.get("Idempotent-Replayed") == "true"

    balance_url = f"/api/v1/organizations/{seeded['org_id']}/balance"
    auth = {"Authorization": headers["Authorization"]}
    for base in (first, second):
        balance = http.get(f"{base}{balance_url}", headers=auth, timeout=10)
        assert balance.status_code == 200, balance.text
        assert balance.json()["system_credits"] == 1000 - 7  # charged once

    # The same key with another body is refused on either instance.
    other = http.post(f"{second}{url}", json={**body, "credits": 8}, headers=headers, timeout=10)
    assert other.status_code == 409

"""Security headers on every page and cookie flags of the session."""

from __future__ import annotations

from tests.conftest import owner_of


def test_pages_carry_the_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_api_answers_carry_them_too(client):
    response = client.get("/api/v1/organizations")
    assert response.status_code == 401
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_session_cookie_is_httponly_and_samesite_lax(client, auth, create_organization):
    org = create_organization()
    response = auth.login(owner_of(org).user.email)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP in tests; SESSION_COOKIE_SECURE=1 behind TLS


def test_cookies_are_secure_when_configured(app, client, auth, create_organization):
    app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    org = create_organization()
    response = auth.login(owner_of(org).user.email, remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    assert all("Secure" in c for c in cookies if c.startswith(("session=", "remember_token=")))
    assert any(c.startswith("remember_token=") for c in cookies)

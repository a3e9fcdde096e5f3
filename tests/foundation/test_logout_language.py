"""Issue 16, item 13: logging out says so in the language the person was reading -- their
saved language, even when the browser asks for English -- and the login page after it too."""

from __future__ import annotations

from tenants.jobs.outbox import commit


def test_a_spanish_reader_is_told_in_spanish(client, auth, owner):
    owner.user.language = "es"
    commit()
    auth.login(owner.user.email)
    english_browser = {"Accept-Language": "en-US,en;q=0.9"}
    assert 'lang="es"' in client.get("/", headers=english_browser, follow_redirects=True).text

    response = client.post("/logout", headers=english_browser, follow_redirects=True)

    assert response.request.path == "/login"
    assert "Has cerrado la sesión." in response.text
    assert "You have been logged out." not in response.text
    assert '<html lang="es">' in response.text


def test_an_english_reader_is_told_in_english(client, auth, owner):
    owner.user.language = "en"
    commit()
    auth.login(owner.user.email)
    response = client.post(
        "/logout", headers={"Accept-Language": "es-ES,es;q=0.9"}, follow_redirects=True
    )
    assert "You have been logged out." in response.text
    assert '<html lang="en">' in response.text

"""The factory builds an app and each actor lands on their home page."""


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b"Log in" in response.data


def test_owner_lands_on_organization_overview(create_organization, auth):
    from tests.conftest import owner_of

    org = create_organization(name="Smoke Org")
    response = auth.login(owner_of(org).user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/organizations/{org.id}/"

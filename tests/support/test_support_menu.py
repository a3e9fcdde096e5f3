"""Issue 16, item 13: a support agent reaches the Customer app from the main menu -- every
reseller's customers, to open one and start a support session -- without the buttons only
reseller staff may use."""

from __future__ import annotations


def test_the_support_agents_menu_leads_to_every_customer(
    login, support_agent, org, other_reseller, create_organization
):
    elsewhere = create_organization(other_reseller, name="Zeta Mobile SL")
    client = login(support_agent)

    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert 'id="customer-app-link" href="/customers/"' in home

    response = client.get("/customers/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-organization="{org.id}"' in html
    assert f'data-organization="{elsewhere.id}"' in html
    assert f'href="/organizations/{org.id}/"' in html  # View
    assert "Create organization" not in html
    assert client.get("/customers/new").status_code == 403


def test_reseller_staff_keep_their_menu_and_create_button(login, agent):
    client = login(agent)
    html = client.get("/customers/").get_data(as_text=True)
    assert 'id="customer-app-link" href="/customers/"' in html
    assert "Create organization" in html


def test_organization_members_have_no_customer_app(login, owner):
    client = login(owner.user)
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "customer-app-link" not in html
    assert client.get("/customers/").status_code == 403

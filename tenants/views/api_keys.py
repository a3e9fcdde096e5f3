"""An organization's API keys: list, create (shown once), revoke — org admins and reseller staff."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from tenants.access.policy import Permission
from tenants.api_keys import operations as api_keys
from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Reseller
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import ApiKeyForm, RevokeApiKeyForm, show_service_errors

bp = Blueprint("org_api_keys", __name__, url_prefix="/organizations/<org_id>/api-keys")


def _organization(org_id: str):
    actor, org = organization_for_view(org_id)
    return actor, org, db.session.get(Reseller, org.reseller_id)


def _page(org, keys, form, secret=None, status=200):
    return (
        render_template(
            "api_keys/organization.html",
            org=org,
            keys=keys,
            form=form,
            revoke_form=RevokeApiKeyForm(),
            secret=secret,
            create_url=url_for("org_api_keys.create", org_id=org.id),
            revoke_endpoint="org_api_keys.revoke",
            revoke_args={"org_id": org.id},
            active_section="settings",
        ),
        status,
    )


@bp.route("/")
@actor_required(Permission.EDIT_ORGANIZATION_SETTINGS)
def index(org_id: str):
    actor, org, reseller = _organization(org_id)
    return _page(org, api_keys.list_api_keys(actor, reseller, org), ApiKeyForm())


@bp.route("/", methods=["POST"])
@actor_required(Permission.EDIT_ORGANIZATION_SETTINGS)
def create(org_id: str):
    actor, org, reseller = _organization(org_id)
    form = ApiKeyForm()
    if form.validate_on_submit():
        try:
            _key, secret = api_keys.create_api_key(
                actor, reseller=reseller, organization=org, name=form.name.data
            )
            commit()
        except DomainError as error:
            db.session.rollback()
            show_service_errors(form, error)
        else:
            # Rendered, not redirected: the key must not travel in a URL or the session.
            form = ApiKeyForm(formdata=None)
            return _page(org, api_keys.list_api_keys(actor, reseller, org), form, secret)
    return _page(org, api_keys.list_api_keys(actor, reseller, org), form, status=422)


@bp.route("/<key_id>/revoke", methods=["POST"])
@actor_required(Permission.EDIT_ORGANIZATION_SETTINGS)
def revoke(org_id: str, key_id: str):
    actor, org, reseller = _organization(org_id)
    key = api_keys.get_api_key(actor, reseller, key_id, org)
    if RevokeApiKeyForm().validate_on_submit():
        api_keys.revoke_api_key(actor, key)
        commit()
        flash(_("The API key %(prefix)s is revoked.", prefix=key.prefix), "success")
    return redirect(url_for("org_api_keys.index", org_id=org.id))

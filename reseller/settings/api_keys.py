"""Reseller settings: the reseller's API keys — list, create (shown once), revoke."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from reseller.settings.blueprint import bp
from tenants.access.policy import Permission
from tenants.api_keys import operations as key_services
from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.web.decorators import actor_required, current_reseller
from tenants.web.forms import ApiKeyForm, RevokeApiKeyForm, show_service_errors


def _page(keys, form, secret=None, status=200):
    return (
        render_template(
            "api_keys/reseller.html",
            keys=keys,
            form=form,
            revoke_form=RevokeApiKeyForm(),
            secret=secret,
            create_url=url_for("reseller_settings.create_api_key"),
            revoke_endpoint="reseller_settings.revoke_api_key",
            revoke_args={},
            active_tab="api_keys",
        ),
        status,
    )


@bp.route("/api-keys")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def api_keys():
    actor, reseller = current_reseller()
    return _page(key_services.list_api_keys(actor, reseller), ApiKeyForm())


@bp.route("/api-keys", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def create_api_key():
    actor, reseller = current_reseller()
    form = ApiKeyForm()
    if form.validate_on_submit():
        try:
            _key, secret = key_services.create_api_key(
                actor, reseller=reseller, name=form.name.data
            )
            commit()
        except DomainError as error:
            db.session.rollback()
            show_service_errors(form, error)
        else:
            # Rendered, not redirected: the key must not travel in a URL or the session.
            return _page(
                key_services.list_api_keys(actor, reseller), ApiKeyForm(formdata=None), secret
            )
    return _page(key_services.list_api_keys(actor, reseller), form, status=422)


@bp.route("/api-keys/<key_id>/revoke", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def revoke_api_key(key_id: str):
    actor, reseller = current_reseller()
    key = key_services.get_api_key(actor, reseller, key_id)
    if RevokeApiKeyForm().validate_on_submit():
        key_services.revoke_api_key(actor, key)
        commit()
        flash(_("The API key %(prefix)s is revoked.", prefix=key.prefix), "success")
    return redirect(url_for("reseller_settings.api_keys"))

"""Reseller settings: the seller details printed on every tax invoice and receipt (legal
name, address, tax number, country)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice, SelectField, StringField, SubmitField, TextAreaField

from reseller.settings.blueprint import bp
from tenants.access.policy import Permission
from tenants.core.errors import ValidationFailed
from tenants.core.validation import country_choices
from tenants.jobs.outbox import commit, rollback
from tenants.resellers import seller
from tenants.web.decorators import actor_required, current_reseller, the_actor
from tenants.web.forms import Form, show_service_errors


class SellerForm(Form):
    # Lengths and characters are checked by the service (tenants.resellers.seller), which
    # reports them in the reader's language.
    legal_name = StringField(
        _l("Legal name"),
        description=_l("As registered for tax. Left empty, invoices show the reseller's name."),
    )
    address = TextAreaField(_l("Address"), render_kw={"rows": 4})
    tax_id = StringField(_l("Tax identification number"))
    country = SelectField(_l("Country"), validate_choice=False)
    submit = SubmitField(_l("Save"))


def _page(form: SellerForm, status: int = 200):
    form.country.choices = [SelectChoice("", _("Choose a country"))] + [
        SelectChoice(code, label) for code, label in country_choices(str(get_locale()))
    ]
    return (
        render_template("reseller_settings/seller.html", form=form, active_tab="seller"),
        status,
    )


@bp.route("/seller")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def seller_details():
    details = seller.seller_details(current_reseller()[1])
    return _page(SellerForm(formdata=None, **{k: v or "" for k, v in details.items()}))


@bp.route("/seller", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def save_seller_details():
    reseller = current_reseller()[1]
    form = SellerForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        seller.update_seller_details(
            the_actor(),
            reseller,
            {
                name: getattr(form, name).data
                for name in ("legal_name", "address", "tax_id", "country")
            },
        )
    except ValidationFailed as error:
        rollback()
        show_service_errors(form, error)
        return _page(form, 422)
    commit()
    flash(_("The seller details were saved. New invoices and receipts show them."), "success")
    return redirect(url_for("reseller_settings.seller_details"))

"""The Customer app: the reseller's list of its organizations, and creating one."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from reseller.customers.forms import CreateOrganizationForm, FilterForm
from tenants.access.policy import Permission
from tenants.core.errors import DomainError, ValidationFailed
from tenants.core.extensions import db
from tenants.core.validation import country_codes, default_currency, default_timezone
from tenants.jobs import outbox as queue
from tenants.models import Reseller
from tenants.notify import recipients
from tenants.organizations import operations as organizations
from tenants.organizations.operations import BillingDetails, NewOrganization
from tenants.resellers import dashboards
from tenants.views.organization import show_field_errors
from tenants.views.organization.forms import fill_place_choices
from tenants.web.decorators import actor_required, the_actor

bp = Blueprint("customers", __name__, url_prefix="/customers")

PAGE_SIZE = 50
SECTIONS = [
    ("organization.overview", _l("Overview")),
    ("members.index", _l("Members")),
    ("organization.payment", _l("Payment")),
    ("organization.settings", _l("Settings")),
    ("organization.logs", _l("Logs")),
    ("organization.invoices", _l("Invoices")),
    ("organization.audit", _l("Audit")),
]


def _yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


@bp.route("/")
@actor_required(Permission.USE_CUSTOMER_APP)
def index():
    actor = the_actor()
    form = FilterForm(request.args)
    filters = {
        "q": (form.q.data or "").strip() or None,
        "status": form.status.data or None,
        "pricing_model": form.pricing_model.data or None,
        "low_balance": _yes_no(form.low_balance.data),
        "has_debt": _yes_no(form.has_debt.data),
    }
    status = 200
    try:
        page = organizations.organization_page(
            actor, **filters, limit=PAGE_SIZE, cursor=request.args.get("cursor") or None
        )
    except ValidationFailed as error:
        show_field_errors(form, error)
        page = organizations.OrganizationPage(items=[], next_cursor=None, previous_cursor=None)
        status = 422
    owners = recipients.owners_of(page.items)
    kept = {k: v for k, v in request.args.items() if k != "cursor" and k in form.paths and v}
    # The dashboard heads the first, unfiltered page: the reseller's home.
    board = None if kept or request.args.get("cursor") else dashboards.dashboard(actor)
    return render_template(
        "customers/index.html",
        form=form,
        page=page,
        owners=owners,
        kept=kept,
        filtered=bool(kept),
        sections=SECTIONS,
        board=board,
    ), status


def _create_form() -> CreateOrganizationForm:
    form = CreateOrganizationForm()
    fill_place_choices(form, blank=_("Default for the country"))
    return form


@bp.route("/new", methods=["GET", "POST"])
@actor_required(Permission.CREATE_ORGANIZATION)
def new():
    actor = the_actor()
    form = _create_form()
    status = 200
    if form.validate_on_submit():
        reseller = db.session.get(Reseller, actor.reseller_id)
        data = NewOrganization(
            name=form.name.data or "",
            country=form.country.data or "",
            pricing_model=form.pricing_model.data or "",
            owner_name=form.owner_name.data or "",
            owner_email=form.owner_email.data or "",
            currency=form.currency.data or None,
            timezone=form.timezone.data or None,
            billing=BillingDetails(
                type=form.billing_type.data or "company",
                name=form.billing_name.data or None,
                address=form.billing_address.data or None,
                tax_id=form.billing_tax_id.data or None,
                email=form.billing_email.data or None,
            ),
        )
        try:
            org = organizations.create_organization(actor, reseller, data)
        except DomainError as error:
            queue.rollback()
            show_field_errors(form, error)
            status = error.status
        else:
            queue.commit()
            flash(
                _(
                    "Organization %(name)s created. %(email)s has been invited by email "
                    "to set a password.",
                    name=org.name,
                    email=data.owner_email.strip().lower(),
                ),
                "success",
            )
            return redirect(url_for("organization.overview", org_id=org.id))
    elif request.method == "POST":
        status = 400
    defaults = {
        code: [default_currency(code) or "", default_timezone(code) or ""]
        for code in sorted(country_codes())
    }
    return render_template("customers/new.html", form=form, defaults=defaults), status

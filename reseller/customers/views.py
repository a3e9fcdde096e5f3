"""The Customer app's pages: the reseller's list of its organizations, and creating one."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from reseller.customers.blueprint import bp
from reseller.customers.forms import CreateOrganizationForm, FilterForm
from tenants.access.policy import Permission, can
from tenants.core.errors import DomainError, ValidationFailed
from tenants.core.extensions import db
from tenants.core.validation import country_codes, default_currency, default_timezone
from tenants.jobs import outbox as queue
from tenants.models import Reseller
from tenants.notify import recipients
from tenants.organizations import listing
from tenants.organizations import operations as organizations
from tenants.resellers import dashboards
from tenants.web.decorators import actor_required, the_actor
from tenants.web.forms import fill_place_choices, show_service_errors
from tenants.web.replica import reads_replica
from tenants.wholesale.pool import pool_summary, recent_lots

PAGE_SIZE = 50


def _yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


@bp.route("/")
@actor_required(Permission.USE_CUSTOMER_APP)
@reads_replica
def index():
    actor = the_actor()
    form = FilterForm(request.args)
    filters = {
        "q": (form.q.data or "").strip() or None,
        "status": form.status.data or None,
        "pricing_model": form.pricing_model.data or None,
        "low_balance": _yes_no(form.low_balance.data),
        "has_debt": _yes_no(form.has_debt.data),
        "runs_out_within": (form.runs_out_within.data or "").strip() or None,
        "sort": form.sort.data or None,
    }
    status = 200
    try:
        page = listing.organization_page(
            actor, **filters, limit=PAGE_SIZE, cursor=request.args.get("cursor") or None
        )
    except ValidationFailed as error:
        show_service_errors(form, error)
        page = listing.OrganizationPage(items=[], next_cursor=None, previous_cursor=None)
        status = 422
    owners = recipients.owners_of(page.items)
    kept = {k: v for k, v in request.args.items() if k != "cursor" and k in form.paths and v}
    # The dashboard heads the first, unfiltered page: the reseller's home.
    board = None if kept or request.args.get("cursor") else dashboards.dashboard(actor)
    # The reseller's wholesale pool heads its home too (SPEC §4b).
    home = board is not None and actor.reseller_id is not None
    return render_template(
        "customers/index.html",
        form=form,
        page=page,
        owners=owners,
        kept=kept,
        filtered=bool(kept),
        board=board,
        pool=pool_summary(actor.reseller_id) if home else None,
        lots=recent_lots(actor.reseller_id, limit=5) if home else [],
        pool_settings=can(actor, Permission.MANAGE_RESELLER_SETTINGS),
        can_create=can(actor, Permission.CREATE_ORGANIZATION),
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
        try:
            data = form.new_organization()
            org = organizations.create_organization(actor, reseller, data)
        except DomainError as error:
            queue.rollback()
            show_service_errors(form, error)
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
        status = 422
    defaults = {
        code: [default_currency(code) or "", default_timezone(code) or ""]
        for code in sorted(country_codes())
    }
    return render_template("customers/new.html", form=form, defaults=defaults), status

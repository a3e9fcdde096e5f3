"""Automated campaigns in the portal: the list (status, next run with its reserved credits,
last run's report), scheduling one, changing it while it is open, a campaign's runs,
cancelling; the reseller's staff approve or reject a pending one (with a reason) from the
same page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from tenants.access import campaign_scoping, contact_scoping
from tenants.access.policy import Permission, can
from tenants.campaigns import operations
from tenants.campaigns.listing import (
    REPEAT_LABELS,
    RUN_LABELS,
    STATUS_LABELS,
    campaign_line,
    campaign_lines,
    runs_of,
)
from tenants.campaigns.notices import refusal_label
from tenants.campaigns.occurrences import local_start
from tenants.core.errors import DomainError, NotFound
from tenants.core.extensions import db
from tenants.credits import ledger
from tenants.credits.holdings import Balance
from tenants.jobs.outbox import commit, rollback
from tenants.messaging.history import recipient_counts
from tenants.models import Campaign, CampaignStatus, ContactList, Organization, PricingModel
from tenants.models.campaigns import OPEN_STATUSES
from tenants.views.campaigns.forms import (
    ApproveForm,
    CampaignForm,
    CancelForm,
    EditCampaignForm,
    RejectForm,
)
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import choices, show_service_errors

SECTION = "campaigns"
LISTED = 200

LABELS = {"statuses": STATUS_LABELS, "repeats": REPEAT_LABELS, "runs": RUN_LABELS}


def _balance(org: Organization) -> Balance | None:
    return ledger.balance(org) if org.pricing_model == PricingModel.PREPAID else None


@actor_required(Permission.MANAGE_CAMPAIGNS)
def index(org_id: str):
    actor, org = organization_for_view(org_id)
    campaigns = db.session.scalars(
        campaign_scoping.campaigns_query(actor, org)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(LISTED)
    ).all()
    return render_template(
        "campaigns/index.html",
        org=org,
        lines=campaign_lines(campaigns),
        balance=_balance(org),
        labels=LABELS,
        active_section=SECTION,
    )


def _lists(actor, org) -> list:
    rows = db.session.scalars(
        contact_scoping.contact_lists_query(actor, org).order_by(ContactList.name)
    ).all()
    return choices(*((row.id, row.name) for row in rows))


def _starts_at(form: CampaignForm) -> datetime | None:
    """The date and time as typed: the organization's local time (the service reads it so)."""
    if form.start_date.data is None or form.start_time.data is None:
        return None
    return datetime.combine(form.start_date.data, form.start_time.data)


@actor_required(Permission.MANAGE_CAMPAIGNS)
def new(org_id: str):
    actor, org = organization_for_view(org_id)
    form = CampaignForm()
    form.list_id.choices = _lists(actor, org)
    if form.validate_on_submit():
        try:
            campaign = operations.create_campaign(
                actor,
                org,
                name=form.name.data,
                list_id=form.list_id.data,
                text=form.text.data,
                starts_at=_starts_at(form),
                repeat=form.repeat.data,
                until=form.until.data,
                sender=form.sender.data or None,
            )
        except DomainError as error:
            rollback()
            show_service_errors(form, error)
        else:
            commit()
            if campaign.status == CampaignStatus.PENDING_APPROVAL:
                flash(_("The campaign waits for your provider's approval."), "info")
            else:
                flash(_("The campaign is scheduled."), "success")
            return redirect(url_for(".detail", org_id=org.id, campaign_id=campaign.id))
    return render_template(
        "campaigns/new.html",
        org=org,
        form=form,
        balance=_balance(org),
        active_section=SECTION,
    )


def _prefill(form: CampaignForm, campaign: Campaign, local: datetime) -> None:
    """The form as the campaign stands (its first run's date and time in its time zone)."""
    form.name.data = campaign.name
    form.list_id.data = campaign.list_id
    form.text.data = campaign.text
    form.start_date.data, form.start_time.data = local.date(), local.time()
    form.repeat.data = campaign.repeat.value
    form.until.data = campaign.until
    form.sender.data = campaign.sender or ""


def _changes(form: CampaignForm, local: datetime, *, started: bool) -> dict[str, Any]:
    """What the form asks of update_campaign. The start goes only when it was changed (the
    form keeps minutes, a start given by the API may have seconds); after the first run the
    start and repeat are shown, not sent: they can no longer change."""
    changes: dict[str, Any] = {
        "name": form.name.data,
        "list_id": form.list_id.data,
        "text": form.text.data,
        "until": form.until.data,
        "sender": form.sender.data or None,
    }
    if not started:
        changes["repeat"] = form.repeat.data
        typed = _starts_at(form)
        if typed is None or typed != local.replace(second=0, microsecond=0):
            changes["starts_at"] = typed
    return changes


@actor_required(Permission.MANAGE_CAMPAIGNS)
def edit(org_id: str, campaign_id: str):
    """Change a scheduled or pending campaign (update_campaign): the next run's reservation
    made again for what it now costs (402 when short: nothing changed); with approval
    required, it waits for approval again."""
    actor, org = organization_for_view(org_id)
    campaign = campaign_scoping.get_campaign(actor, org, campaign_id)
    back = redirect(url_for(".detail", org_id=org.id, campaign_id=campaign.id))
    if campaign.status not in OPEN_STATUSES:
        flash(str(operations.CampaignClosed.default_message), "warning")
        return back
    upcoming = operations.scheduled_run(campaign)
    started = upcoming is None or upcoming.occurrence > 0
    local = local_start(campaign.starts_at, campaign.timezone)
    form = EditCampaignForm()
    form.list_id.choices = _lists(actor, org)
    if campaign.list_id not in {choice.value for choice in form.list_id.choices}:
        form.list_id.choices = choices(("", _("Deleted list: choose another"))) + _lists(actor, org)
    if request.method == "GET":
        _prefill(form, campaign, local)
    if started:
        for name in ("start_date", "start_time", "repeat"):
            getattr(form, name).render_kw = {"disabled": True}
        _prefill_schedule(form, campaign, local)
    if form.validate_on_submit():
        try:
            changed = operations.update_campaign(
                actor, org, campaign, **_changes(form, local, started=started)
            )
        except DomainError as error:
            if isinstance(error, NotFound):
                raise
            rollback()
            show_service_errors(form, error)
        else:
            commit()
            if not changed:
                flash(_("Nothing was changed."), "info")
            elif campaign.status == CampaignStatus.PENDING_APPROVAL:
                flash(_("The changes are saved. The campaign waits for approval."), "info")
            else:
                flash(_("The changes are saved."), "success")
            return back
    return render_template(
        "campaigns/edit.html",
        org=org,
        form=form,
        campaign=campaign,
        started=started,
        balance=_balance(org),
        active_section=SECTION,
    )


def _prefill_schedule(form: CampaignForm, campaign: Campaign, local: datetime) -> None:
    """A campaign that has run shows its schedule as it is (those fields are not sent)."""
    form.start_date.data, form.start_time.data = local.date(), local.time()
    form.repeat.data = campaign.repeat.value


@actor_required(Permission.MANAGE_CAMPAIGNS)
def detail(org_id: str, campaign_id: str):
    actor, org = organization_for_view(org_id)
    campaign = campaign_scoping.get_campaign(actor, org, campaign_id)
    runs = runs_of(campaign)
    counts = recipient_counts([r.message_id for r in runs if r.message_id])
    try:
        contact_list = contact_scoping.get_contact_list(actor, org, campaign.list_id)
    except NotFound:
        contact_list = None  # deleted since: its runs are not sent
    return render_template(
        "campaigns/detail.html",
        org=org,
        line=campaign_line(campaign),
        campaign=campaign,
        contact_list=contact_list,
        runs=runs,
        counts=counts,
        labels=LABELS,
        refusal_label=refusal_label,
        cancel_form=CancelForm(),
        approve_form=ApproveForm(),
        reject_form=RejectForm(),
        may_approve=can(actor, Permission.APPROVE_CAMPAIGNS),
        active_section=SECTION,
    )


def _act(org_id: str, campaign_id: str, form, act, done: str):
    """A campaign's state change from its page: the form checked, the verb, one commit."""
    actor, org = organization_for_view(org_id)
    campaign = campaign_scoping.get_campaign(actor, org, campaign_id)
    if form.validate_on_submit():
        try:
            act(actor, org, campaign, form)
        except DomainError as error:
            if isinstance(error, NotFound):
                raise
            rollback()
            show_service_errors(None, error)  # one flash: the page is shown again
        else:
            commit()
            flash(done, "success")
    else:
        flash(_("The form has expired. Please try again."), "danger")
    return redirect(url_for(".detail", org_id=org.id, campaign_id=campaign.id))


@actor_required(Permission.MANAGE_CAMPAIGNS)
def cancel(org_id: str, campaign_id: str):
    return _act(
        org_id,
        campaign_id,
        CancelForm(),
        lambda actor, org, campaign, _form: operations.cancel_campaign(actor, org, campaign),
        _("The campaign is cancelled; its reserved credits are available again."),
    )


@actor_required(Permission.APPROVE_CAMPAIGNS)
def approve(org_id: str, campaign_id: str):
    return _act(
        org_id,
        campaign_id,
        ApproveForm(),
        lambda actor, org, campaign, _form: operations.approve_campaign(actor, org, campaign),
        _("The campaign is approved."),
    )


@actor_required(Permission.APPROVE_CAMPAIGNS)
def reject(org_id: str, campaign_id: str):
    return _act(
        org_id,
        campaign_id,
        RejectForm(),
        lambda actor, org, campaign, form: operations.reject_campaign(
            actor, org, campaign, reason=form.reason.data
        ),
        _("The campaign is rejected."),
    )

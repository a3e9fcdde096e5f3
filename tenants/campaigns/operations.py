"""Automated campaigns' verbs (SPEC §4a), shared by the portal's pages and the API: schedule,
change, cancel, approve, reject.

Each checks the permission, validates, changes, audits and flushes; it never commits. The
credits of a campaign's next run are **reserved** when the run is scheduled
(tenants.credits.reservations): a prepaid organization whose available credits cannot cover
the first run is refused (402, nothing scheduled); they are released when the campaign is
cancelled or rejected, and turned into the real charge when the run is sent
(tenants.campaigns.runs). A postpaid organization reserves nothing, but a campaign is
scheduled (or changed) only when its next run's charge, with the other campaigns' scheduled
runs, fits under the credit limit less the debt (402 otherwise); each run accrues within the
limit when it is sent, checked then like any usage.

Every verb that touches a campaign's runs first locks the campaign's row: the run job takes
the same lock, so a cancel and a run never both act on one occurrence. Locks are taken in
the order campaign → credit account (or postpaid row) → organization, the ledger's own
order after the first.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import format_currency, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from tenants.access.actors import Actor
from tenants.access.policy import Permission, can, refuse_in_view_only, require
from tenants.audit import log as audit
from tenants.billing import postpaid
from tenants.campaigns import notices
from tenants.campaigns.occurrences import local_start
from tenants.campaigns.plans import MAX_REASON, Plan, clean_plan, run_cost
from tenants.core.errors import Conflict, InsufficientCredits, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import new_id, utcnow
from tenants.core.validation import clean_text
from tenants.credits import operations as credit_ops
from tenants.credits.reservations import available_credits, release_credits, reserve_credits
from tenants.jobs.outbox import enqueue_at
from tenants.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    Organization,
    PricingModel,
    Reseller,
    RunStatus,
)
from tenants.models.campaigns import OPEN_STATUSES
from tenants.models.ledger import AccountRef

RUN_JOB = "run_campaign"
EDITABLE = ("name", "list_id", "text", "sender", "starts_at", "repeat", "until")


class CampaignClosed(Conflict):
    code = "campaign_closed"
    default_message = _l("This campaign is no longer scheduled.")


class NotPendingApproval(Conflict):
    code = "not_pending_approval"
    default_message = _l("This campaign is not waiting for approval.")


def _may_manage(actor: Actor) -> None:
    require(actor, Permission.MANAGE_CAMPAIGNS)
    refuse_in_view_only(actor)


def lock_campaign(campaign: Campaign) -> Campaign:
    """The campaign's row FOR UPDATE, then its fresh state (see the module's docstring)."""
    db.session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    db.session.refresh(campaign)
    return campaign


def account_of(campaign: Campaign) -> AccountRef:
    return AccountRef.parse(campaign.account)


def scheduled_run(campaign: Campaign) -> CampaignRun | None:
    """The campaign's run waiting for its time (at most one)."""
    return db.session.scalar(
        select(CampaignRun).where(
            CampaignRun.campaign_id == campaign.id, CampaignRun.status == RunStatus.SCHEDULED
        )
    )


def schedule_run(
    org: Organization, campaign: Campaign, occurrence: int, due_at: datetime, *, required: bool
) -> CampaignRun:
    """Create the occurrence's run and reserve what it costs now (prepaid). ``required``:
    InsufficientCredits (402) when the credits are short; else the run is scheduled
    without a reservation and tries to charge at its time."""
    run = CampaignRun(
        id=new_id("crn"),
        campaign_id=campaign.id,
        organization_id=org.id,
        occurrence=occurrence,
        due_at=due_at,
        status=RunStatus.SCHEDULED,
        reserved=0,
        credits=0,
        created_at=utcnow(),
    )
    _reserve(org, campaign, run, required=required)
    db.session.add(run)
    db.session.flush()
    return run


def _reserve(org: Organization, campaign: Campaign, run: CampaignRun, *, required: bool) -> None:
    if org.pricing_model != PricingModel.PREPAID:
        if required:
            _require_room_under_limit(org, campaign, run_cost(campaign))
        return
    cost = run_cost(campaign)
    ref = account_of(campaign)
    try:
        reserve_credits(org, ref, cost)
    except InsufficientCredits:
        if required:
            raise InsufficientCredits(
                ngettext(
                    "The campaign's next run needs %(num)s credit, and only %(available)s "
                    "are available (credits held less those reserved for other campaigns).",
                    "The campaign's next run needs %(num)s credits, and only %(available)s "
                    "are available (credits held less those reserved for other campaigns).",
                    cost,
                    available=available_credits(org, ref),
                )
            ) from None
        return
    run.reserved = cost


def _require_room_under_limit(org: Organization, campaign: Campaign, cost: int) -> None:
    """A postpaid organization reserves nothing, but its run must fit under the credit limit
    when it is scheduled: what the run would charge now (price and tax), with what the other
    campaigns' scheduled runs would, within the limit less the debt. InsufficientCredits
    (402) otherwise. The postpaid row's lock serializes two schedulings (and usage)."""
    room = postpaid.room_under_limit(org)
    others = db.session.scalars(
        select(Campaign)
        .join(CampaignRun, CampaignRun.campaign_id == Campaign.id)
        .where(
            CampaignRun.organization_id == org.id,
            CampaignRun.status == RunStatus.SCHEDULED,
            Campaign.id != campaign.id,
            Campaign.status.in_(OPEN_STATUSES),
        )
    ).all()
    needed = sum(
        (_charge(org, credits) for credits in [cost, *(run_cost(c) for c in others)]), Decimal(0)
    )
    if needed > room:
        raise InsufficientCredits(
            _l(
                "The credit limit cannot cover this campaign's next run: with the runs of "
                "your other scheduled campaigns it would charge %(needed)s, and %(room)s is "
                "left under the limit.",
                needed=format_currency(needed, org.currency),
                room=format_currency(room, org.currency),
            )
        )


def _charge(org: Organization, credits: int) -> Decimal:
    """What ``credits`` of a run charge a postpaid organization, tax included."""
    if credits <= 0:
        return Decimal(0)
    _unit, _percent, amount, tax = postpaid.charge_for(org, credits)
    return amount + tax


def release_run(org: Organization, campaign: Campaign, run: CampaignRun) -> None:
    """Free the run's reservation (cancelled, or about to be charged for real)."""
    if run.reserved:
        release_credits(org, account_of(campaign), run.reserved)
        run.reserved = 0


def enqueue_run(run: CampaignRun) -> None:
    """Ask RQ's scheduler for the run at its time (at once when that has passed)."""
    enqueue_at(run.due_at, RUN_JOB, run_id=run.id)


def _needs_approval(actor: Actor, org: Organization) -> bool:
    """The reseller approves its customers' campaigns first, unless it schedules them itself."""
    reseller = db.session.get(Reseller, org.reseller_id)
    return bool(reseller.campaigns_need_approval) and not can(actor, Permission.APPROVE_CAMPAIGNS)


def _fields(plan: Plan) -> dict[str, Any]:
    return {
        "name": plan.name,
        "list_id": plan.contact_list.id,
        "text": plan.text,
        "sender": plan.sender,
        "account": plan.account,
        "starts_at": plan.starts_at,
        "timezone": plan.timezone,
        "repeat": plan.repeat,
        "until": plan.until,
    }


def create_campaign(actor: Actor, org: Organization, **values: Any) -> Campaign:
    """Schedule a campaign (``name, list_id, text, starts_at, repeat, until, sender,
    account``); its first run's credits reserved. Pending approval when its reseller
    approves campaigns first (the run then waits for the approval)."""
    _may_manage(actor)
    plan = clean_plan(actor, org, values)
    credit_ops.require_usable(org)
    now = utcnow()
    pending = _needs_approval(actor, org)
    campaign = Campaign(
        id=new_id("cmp"),
        reseller_id=org.reseller_id,
        organization_id=org.id,
        status=CampaignStatus.PENDING_APPROVAL if pending else CampaignStatus.SCHEDULED,
        created_by_user_id=actor.user_id,
        member_id=actor.member_id if actor.organization_id == org.id else None,
        api_key_id=actor.api_key_id,
        created_at=now,
        updated_at=now,
        **_fields(plan),
    )
    db.session.add(campaign)
    db.session.flush()
    run = schedule_run(org, campaign, 0, plan.starts_at, required=True)
    if pending:
        notices.ask_for_approval(org, campaign)
    else:
        enqueue_run(run)
    audit.record_on(actor, org, "campaign.scheduled", _audited(campaign, run))
    return campaign


def _audited(campaign: Campaign, run: CampaignRun | None) -> dict[str, list]:
    return {
        "campaign": [None, campaign.name],
        "repeat": [None, campaign.repeat.value],
        "reserved_credits": [None, run.reserved if run is not None else 0],
    }


def update_campaign(actor: Actor, org: Organization, campaign: Campaign, **changes: Any) -> bool:
    """Change a scheduled (or pending) campaign; the next run's reservation is made again for
    what it now costs (402 when short: nothing changed). Its schedule (start, repeat) changes
    only before its first run. With approval required, a change waits for approval again.
    True when anything changed."""
    _may_manage(actor)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(fields={name: str(_l("Unknown field.")) for name in unknown})
    lock_campaign(campaign)
    if campaign.status not in OPEN_STATUSES:
        raise CampaignClosed()
    run = scheduled_run(campaign)
    values = {
        "name": campaign.name,
        "list_id": campaign.list_id,
        "text": campaign.text,
        "sender": campaign.sender,
        "account": campaign.account,
        "starts_at": campaign.starts_at,
        "kept_starts_at": campaign.starts_at,
        "timezone": campaign.timezone,
        "repeat": campaign.repeat.value,
        "until": campaign.until,
        **changes,
    }
    plan = clean_plan(actor, org, values)
    started = run is None or run.occurrence > 0
    if started and (plan.starts_at != campaign.starts_at or plan.repeat != campaign.repeat):
        raise ValidationFailed(
            fields={"starts_at": str(_l("This campaign has run: its schedule cannot change."))}
        )
    if (
        run is not None
        and run.occurrence > 0
        and plan.until is not None
        and local_start(run.due_at, plan.timezone).date() > plan.until
    ):
        raise ValidationFailed(fields={"until": str(_l("Choose a day on or after the next run."))})
    fields = _fields(plan)
    changed = {
        name: [getattr(campaign, name), value]
        for name, value in fields.items()
        if getattr(campaign, name) != value
    }
    if not changed:
        return False
    credit_ops.require_usable(org)
    for name, value in fields.items():
        setattr(campaign, name, value)
    campaign.updated_at = utcnow()
    if run is not None:
        release_run(org, campaign, run)
        if run.occurrence == 0:
            run.due_at = plan.starts_at
        _reserve(org, campaign, run, required=True)
    if _needs_approval(actor, org):
        campaign.status = CampaignStatus.PENDING_APPROVAL
        notices.ask_for_approval(org, campaign)  # a changed campaign is submitted again
    elif run is not None and campaign.status == CampaignStatus.SCHEDULED:
        enqueue_run(run)  # at its (maybe new) time; a job asked for earlier finds it not due
    audit.record_on(actor, org, "campaign.changed", audit_changes(changed))
    return True


def audit_changes(changed: dict[str, list]) -> dict[str, list]:
    """Changes as the audit log keeps them: times and enums as text."""
    return {
        name: [value.isoformat() if hasattr(value, "isoformat") else value for value in pair]
        for name, pair in changed.items()
    }


def _close(org: Organization, campaign: Campaign, status: CampaignStatus) -> None:
    """Cancel the scheduled run (its reservation released) and set the campaign's end state."""
    run = scheduled_run(campaign)
    if run is not None:
        release_run(org, campaign, run)
        db.session.execute(
            update(CampaignRun)
            .where(CampaignRun.id == run.id, CampaignRun.status == RunStatus.SCHEDULED)
            .values(status=RunStatus.CANCELLED, reserved=0)
            .execution_options(synchronize_session="fetch")
        )
    campaign.status = status
    campaign.updated_at = utcnow()


def cancel_campaign(actor: Actor, org: Organization, campaign: Campaign) -> None:
    """Cancel a scheduled or pending campaign: its next run is not sent and its reserved
    credits are free at once. 409 once it has ended (done, cancelled, rejected) or its
    last run was sent."""
    _may_manage(actor)
    lock_campaign(campaign)
    if campaign.status not in OPEN_STATUSES:
        raise CampaignClosed()
    _close(org, campaign, CampaignStatus.CANCELLED)
    audit.record_on(actor, org, "campaign.cancelled", {"campaign": [None, campaign.name]})


def approve_campaign(actor: Actor, org: Organization, campaign: Campaign) -> None:
    """The reseller approves a pending campaign: its run is scheduled (at once when its time
    has passed) and the organization is told."""
    require(actor, Permission.APPROVE_CAMPAIGNS)
    refuse_in_view_only(actor)
    lock_campaign(campaign)
    if campaign.status != CampaignStatus.PENDING_APPROVAL:
        raise NotPendingApproval()
    campaign.status = CampaignStatus.SCHEDULED
    campaign.decided_at = campaign.updated_at = utcnow()
    campaign.decided_by_user_id = actor.user_id
    campaign.rejection_reason = None
    run = scheduled_run(campaign)
    if run is not None:
        enqueue_run(run)
    audit.record_on(actor, org, "campaign.approved", {"campaign": [None, campaign.name]})
    notices.tell(org, campaign, notices.APPROVED)


def reject_campaign(actor: Actor, org: Organization, campaign: Campaign, *, reason: Any) -> None:
    """The reseller rejects a pending campaign, with a reason the organization is told; its
    reserved credits are free at once."""
    require(actor, Permission.APPROVE_CAMPAIGNS)
    refuse_in_view_only(actor)
    reason = clean_text(reason, "reason", max_length=MAX_REASON)
    lock_campaign(campaign)
    if campaign.status != CampaignStatus.PENDING_APPROVAL:
        raise NotPendingApproval()
    _close(org, campaign, CampaignStatus.REJECTED)
    campaign.rejection_reason = reason
    campaign.decided_at = utcnow()
    campaign.decided_by_user_id = actor.user_id
    audit.record_on(
        actor,
        org,
        "campaign.rejected",
        {"campaign": [None, campaign.name], "reason": [None, reason]},
    )
    notices.tell(org, campaign, notices.REJECTED)

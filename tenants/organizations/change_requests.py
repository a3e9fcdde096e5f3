"""Client change requests (seed 001: individual user credits is "a configuration changed on
request"): an organization's admin asks, the reseller's staff approve or decline.

Each verb checks, changes, audits and queues its emails in one step; the request commits.
The reseller's staff are emailed a request, the organization's owner and admins the answer,
each person in their own language. Approving switches the configuration with the verb that
switches it for the reseller anyway (operations.update_organization), so its rules and its
audit entry are the same either way.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask_babel import lazy_gettext as _l

from tenants.access import request_scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.core.errors import Conflict
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.core.validation import clean_text
from tenants.credits.ledger import lock_organization
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import (
    ChangeRequest,
    ChangeRequestKind,
    ChangeRequestStatus,
    Organization,
    PricingModel,
    Reseller,
    User,
)
from tenants.notify.emails import external_url, recipient_language, send_email_template
from tenants.notify.recipients import admins_of, reseller_staff
from tenants.organizations import operations as organizations

INDIVIDUAL_CREDITS = ChangeRequestKind.INDIVIDUAL_CREDITS
MAX_TEXT = 1000


# -- reading ----------------------------------------------------------------------------------


def latest_request(actor: Actor, org: Organization) -> ChangeRequest | None:
    """The organization's latest request for individual user credits, pending or answered."""
    query = request_scoping.change_requests_query(actor, org).where(
        ChangeRequest.kind == INDIVIDUAL_CREDITS
    )
    return db.session.scalar(query.limit(1))


def pending_request(actor: Actor, org: Organization) -> ChangeRequest | None:
    """The request waiting for the reseller's answer, if there is one."""
    latest = latest_request(actor, org)
    return latest if latest is not None and latest.is_pending else None


def may_request(org: Organization) -> bool:
    """Whether individual user credits can be asked for now (prepaid, and still off)."""
    return org.pricing_model == PricingModel.PREPAID and not org.individual_user_credits


# -- the verbs --------------------------------------------------------------------------------


def request_individual_credits(
    actor: Actor, org: Organization, message: str | None = None
) -> ChangeRequest:
    """Ask the reseller to switch individual user credits on, with an optional message.

    Refused (409) for a postpaid organization, when they are already on, and while another
    request waits for an answer: one pending request per organization."""
    require(actor, Permission.REQUEST_CONFIGURATION_CHANGE)
    message = clean_text(message, "message", max_length=MAX_TEXT, required=False, one_line=False)
    lock_organization(org)  # two admins asking at once: the second one sees the first
    if org.pricing_model != PricingModel.PREPAID:
        raise Conflict(_l("Individual user credits are for prepaid organizations."))
    if org.individual_user_credits:
        raise Conflict(_l("Individual user credits are already on."))
    if pending_request(actor, org) is not None:
        raise Conflict(
            _l("A request for individual user credits is already waiting for an answer.")
        )
    change = ChangeRequest(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        kind=INDIVIDUAL_CREDITS,
        message=message,
        requested_by_user_id=actor.user_id,
        requested_at=utcnow(),
    )
    db.session.add(change)
    audit.record_on(
        actor,
        org,
        "change_request.submitted",
        {"kind": [None, INDIVIDUAL_CREDITS.value], "message": [None, message]},
    )
    for person in reseller_staff(org.reseller_id):
        enqueue("send_change_request_received", change_request_id=change.id, user_id=person.id)
    return change


def approve_change_request(actor: Actor, org: Organization, change: ChangeRequest) -> None:
    """Switch individual user credits on (operations.update_organization, audited there as
    an edit too) and tell the organization's admins."""
    require(actor, Permission.MANAGE_ORGANIZATION)
    _require_pending(org, change)
    organizations.update_organization(actor, org, {"individual_user_credits": True})
    _decide(actor, change, ChangeRequestStatus.APPROVED, None)
    audit.record_on(actor, org, "change_request.approved", {"kind": [None, change.kind.value]})
    _tell_admins(org, change)


def decline_change_request(
    actor: Actor, org: Organization, change: ChangeRequest, reason: str | None = None
) -> None:
    """Leave the configuration as it is and tell the organization's admins why (optional)."""
    require(actor, Permission.MANAGE_ORGANIZATION)
    reason = clean_text(reason, "reason", max_length=MAX_TEXT, required=False, one_line=False)
    _require_pending(org, change)
    _decide(actor, change, ChangeRequestStatus.DECLINED, reason)
    audit.record_on(
        actor,
        org,
        "change_request.declined",
        {"kind": [None, change.kind.value], "reason": [None, reason]},
    )
    _tell_admins(org, change)


def _require_pending(org: Organization, change: ChangeRequest) -> None:
    """Answered once: a second answer (a double click, two staff members) is refused."""
    lock_organization(org)
    db.session.refresh(change)
    if not change.is_pending:
        raise Conflict(_l("This request has already been answered."))


def _decide(
    actor: Actor, change: ChangeRequest, status: ChangeRequestStatus, reason: str | None
) -> None:
    change.status = status
    change.decided_by_user_id = actor.user_id
    change.decided_at = utcnow()
    change.decision_reason = reason


def _tell_admins(org: Organization, change: ChangeRequest) -> None:
    for person in admins_of(org):
        enqueue("send_change_request_decided", change_request_id=change.id, user_id=person.id)


# -- the emails (jobs) ------------------------------------------------------------------------


def _email_context(change_request_id: str, user_id: str) -> dict | None:
    change = db.session.get(ChangeRequest, change_request_id)
    person = db.session.get(User, user_id)
    if change is None or person is None:
        return None
    org = db.session.get(Organization, change.organization_id)
    reseller = db.session.get(Reseller, org.reseller_id)
    language = recipient_language(person, reseller)
    return {
        "language": language,
        "recipient": person,
        "organization": org,
        "change": change,
        "requester": db.session.get(User, change.requested_by_user_id),
        "requested": format_datetime(
            change.requested_at, "medium", tzinfo=ZoneInfo(org.timezone), locale=language
        ),
    }


@job("send_change_request_received")
def deliver_change_request_received(change_request_id: str, user_id: str) -> None:
    """Tell one of the reseller's staff that a customer asks for individual user credits."""
    context = _email_context(change_request_id, user_id)
    if context is None:
        return
    send_email_template(
        context["recipient"].email,
        context.pop("language"),
        "change_request_received",
        link=external_url("organization.individual_credits", org_id=context["organization"].id),
        **context,
    )


@job("send_change_request_decided")
def deliver_change_request_decided(change_request_id: str, user_id: str) -> None:
    """Tell one of the organization's admins the reseller's answer (and why, if declined)."""
    context = _email_context(change_request_id, user_id)
    if context is None or context["change"].is_pending:
        return
    send_email_template(
        context["recipient"].email,
        context.pop("language"),
        "change_request_decided",
        approved=context["change"].status == ChangeRequestStatus.APPROVED,
        link=external_url("credits.index", org_id=context["organization"].id),
        **context,
    )

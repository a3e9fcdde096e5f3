"""A campaign's runs on the workers: each occurrence sent once, then the next one scheduled.

RQ's scheduler queues ``run_campaign`` at the run's time (tenants.jobs.outbox.enqueue_at).
The job locks the campaign's row, then claims the run (``scheduled`` → ``sent`` or
``not_sent``, one conditional UPDATE): two workers given the same occurrence — a job asked
twice, a retry, a lost job handed over again — find it claimed, and the message's request
key (``campaign-run:<run id>``) is a second guard. The run's reservation is released and
the message charged in the same transaction (tenants.messaging.operations.send_prepared:
prepaid debits the campaign's account, postpaid accrues within the credit limit), so the
credits never count twice nor go free in between. A run that cannot be covered (or whose
organization is suspended, or whose list is empty) is not sent and the organization is
told. Every occurrence runs once, late rather than never: a run whose time passed while no
worker ran is sent when one comes back, and the next is scheduled at its own time.

``report_campaign_run`` waits for the message's delivery reports (up to REPORT_WAIT) and
emails the run's report.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, select, update

from tenants.access.actors import SYSTEM
from tenants.campaigns import notices
from tenants.campaigns.occurrences import occurrence_at
from tenants.campaigns.operations import (
    account_of,
    enqueue_run,
    lock_campaign,
    release_run,
    schedule_run,
)
from tenants.core.errors import (
    DomainError,
    InsufficientCredits,
    OrganizationClosed,
    OrganizationSuspended,
)
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import enqueue, enqueue_at
from tenants.jobs.registry import job
from tenants.messaging.operations import Draft, send_prepared
from tenants.messaging.segments import count
from tenants.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    Contact,
    Message,
    MessageStatus,
    OptOut,
    Organization,
    RunRefusal,
    RunStatus,
)

REPORT_JOB = "report_campaign_run"
# How long a run's report waits for delivery reports before it is sent as it stands.
REPORT_WAIT = timedelta(days=1)
REPORT_POLL = timedelta(minutes=1)


class EmptyList(DomainError):
    code = "list_empty"


def _refusal(error: DomainError) -> RunRefusal:
    if isinstance(error, InsufficientCredits):
        return RunRefusal.INSUFFICIENT_CREDITS
    if isinstance(error, OrganizationSuspended | OrganizationClosed):
        return RunRefusal.ORGANIZATION_INACTIVE
    if isinstance(error, EmptyList):
        return RunRefusal.LIST_EMPTY
    return RunRefusal.NOT_SENDABLE


@job("run_campaign")
def run_campaign(run_id: str) -> None:
    """Send the run's occurrence once (see the module's docstring), then schedule the next."""
    run = db.session.get(CampaignRun, run_id)
    if run is None:
        return
    campaign = lock_campaign(db.session.get(Campaign, run.campaign_id))
    db.session.refresh(run)
    if run.status != RunStatus.SCHEDULED or campaign.status != CampaignStatus.SCHEDULED:
        return  # sent, cancelled, or waiting for approval (approving asks again)
    if run.due_at > utcnow():
        return  # an earlier time, changed since: the job asked for the new one runs it
    claimed = db.session.execute(
        update(CampaignRun)
        .where(CampaignRun.id == run.id, CampaignRun.status == RunStatus.SCHEDULED)
        .values(status=RunStatus.NOT_SENT, ran_at=utcnow())
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed != 1:
        return
    org = db.session.get(Organization, campaign.organization_id)
    release_run(org, campaign, run)
    try:
        with db.session.begin_nested():
            message = _send(org, campaign, run)
    except DomainError as error:
        run.reason = _refusal(error).value
        notices.tell(org, campaign, notices.NOT_SENT, run)
    else:
        run.status = RunStatus.SENT
        run.message_id, run.credits = message.id, message.credits
        enqueue(REPORT_JOB, run_id=run.id)
    _schedule_next(org, campaign, run)


def _send(org: Organization, campaign: Campaign, run: CampaignRun) -> Message:
    """The run's message: the list's numbers now, opted-out ones skipped and not charged."""
    # One statement for the list and its opted-out numbers (the unique opt-out of a number
    # joined to it), not one lookup of a thousand numbers a round trip (bench/README.md, B5).
    rows = db.session.execute(
        select(Contact.mobile, OptOut.mobile.is_not(None))
        .outerjoin(
            OptOut,
            and_(
                OptOut.organization_id == Contact.organization_id, OptOut.mobile == Contact.mobile
            ),
        )
        .where(Contact.list_id == campaign.list_id, Contact.organization_id == org.id)
        .order_by(Contact.id)
    ).all()
    numbers = [mobile for mobile, _ in rows]
    skipped = {mobile for mobile, out in rows if out}
    draft = Draft(
        numbers=numbers,
        skipped=[number for number in numbers if number in skipped],
        text=campaign.text,
        count=count(campaign.text),
        sender=campaign.sender or org.sender_name or None,
        account=account_of(campaign).label,
    )
    if draft.recipients == 0:
        raise EmptyList()
    return send_prepared(SYSTEM, org, draft, request_key=f"campaign-run:{run.id}").message


def _schedule_next(org: Organization, campaign: Campaign, run: CampaignRun) -> None:
    """The next occurrence, its credits reserved when they are there (else it tries at its
    time); none left: the campaign ends (``running`` until its last report is sent)."""
    occurrence = run.occurrence + 1
    due_at = occurrence_at(
        campaign.starts_at, campaign.timezone, campaign.repeat, campaign.until, occurrence
    )
    campaign.updated_at = utcnow()
    if due_at is None:
        sent = run.status == RunStatus.SENT
        campaign.status = CampaignStatus.RUNNING if sent else CampaignStatus.DONE
        return
    following = schedule_run(org, campaign, occurrence, due_at, required=False)
    enqueue_run(following)


@job("report_campaign_run")
def report_campaign_run(run_id: str) -> None:
    """Email the run's report once its message is done (or REPORT_WAIT after it was sent)."""
    run = db.session.get(CampaignRun, run_id)
    if run is None or run.reported_at is not None or run.message_id is None:
        return
    message = db.session.get(Message, run.message_id)
    waited = utcnow() - (run.ran_at or utcnow())
    if message is not None and message.status != MessageStatus.DONE and waited < REPORT_WAIT:
        enqueue_at(utcnow() + REPORT_POLL, REPORT_JOB, run_id=run.id)
        return
    campaign = lock_campaign(db.session.get(Campaign, run.campaign_id))
    org = db.session.get(Organization, campaign.organization_id)
    run.reported_at = utcnow()
    if campaign.status == CampaignStatus.RUNNING:
        campaign.status = CampaignStatus.DONE
        campaign.updated_at = utcnow()
    notices.tell(org, campaign, notices.REPORT, run)

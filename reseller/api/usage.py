"""API: batch usage — many usage events of the key's organizations in one request."""

from __future__ import annotations

from typing import Any

from flask import Response

from reseller.api.core import done, endpoint
from reseller.api.schemas_usage import UsageBatch, UsageBatchResult
from tenants.access.actors import Actor
from tenants.billing import usage
from tenants.billing.usage import EventResult, EventStatus, UsageEvent
from tenants.core.errors import DomainError


def _error(error: DomainError) -> dict[str, str]:
    message = "; ".join(f"{field}: {text}" for field, text in error.fields.items())
    return {"code": error.code, "message": message or str(error.message)}


def _result(index: int, result: EventResult) -> dict[str, Any]:
    answer: dict[str, Any] = {"index": index, "status": result.status.value}
    if result.entry_id is not None:
        answer["entry_id"] = result.entry_id
    if result.error is not None:
        answer["error"] = _error(result.error)
    return answer


@endpoint(
    "/usage",
    "POST",
    summary="Record usage in a batch",
    tag="Credits",
    body=UsageBatch,
    response=UsageBatchResult,
    description="Up to 1,000 usage events, each as `POST …/organizations/{id}/usage` would "
    "take it, in one request: each is `accepted` (charged; `entry_id` its ledger entry), "
    "`duplicate` (its reference was charged before for that organization, earlier or by an "
    "earlier event of this batch: nothing charged; `entry_id` the first charge's entry) or "
    "`refused` (nothing charged; `error` with the code the single endpoint would answer: "
    "`not_found` for an organization the key does not reach, `insufficient_credits`, "
    "`organization_suspended`, `validation_error`, …). Each event stands alone: one refused "
    "event does not refuse the others, and a refused reference may be sent again. Events "
    "for one account apply in array order. A repeat within the batch of a refused event is "
    "refused alike. Malformed events (wrong types, unknown fields) refuse the whole request "
    "with 422, naming `events[i].field`.",
)
def record_usage_batch(actor: Actor, body: UsageBatch) -> Response:
    events = [
        UsageEvent(
            organization_id=event.organization_id,
            credits=event.credits,
            reference=event.reference,
            account=event.account,
            occurred_at=event.occurred_at,
        )
        for event in body.events
    ]
    results = usage.record_usage_batch(actor, events)

    def answer() -> dict[str, Any]:
        counts = dict.fromkeys(EventStatus, 0)
        for result in results:
            counts[result.status] += 1
        return {
            "results": [_result(index, result) for index, result in enumerate(results)],
            "accepted": counts[EventStatus.ACCEPTED],
            "duplicates": counts[EventStatus.DUPLICATE],
            "refused": counts[EventStatus.REFUSED],
        }

    return done(answer)  # built after the commit: the batch's turn is over

"""Text messages: the SMS gateway's webhook (``POST /api/sms/inbound``, signed, public) and
what supervisors and admins read about texts (the outbox, the inbound store).

The webhook checks, in this order and before it reads anything else: a secret is
configured (503), the body's size (413), the signature and the timestamp window (400),
the JSON (422), then the gateway's message id against every message taken before (409:
a replay, or a retry of one we already have). Each refusal is counted in ``/metrics``
(``cti_sms_webhook_refused_total{reason}``). The contract is in ``docs/sms.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from cti.sms import signature
from cti.sms.config import MAX_BODY, SmsIntake
from cti.sms.intake import Duplicate, InboundMessage, receive
from cti.store.base import utcnow
from cti.store.sms import InboundOutcome, OutboxKind, OutboxStatus, SmsInbound, SmsOutbox
from cti.store.tickets import Ticket
from cti.store.users import Role
from cti.web.deps import PUBLIC, DbSession, RequireRole
from cti.web.errors import AppError, Conflict, Invalid, documented
from cti.web.sessions import AuthContext

router = APIRouter()

Leads = Annotated[AuthContext, Depends(RequireRole(Role.SUPERVISOR, Role.ADMIN))]
Limit = Annotated[int, Query(ge=1, le=500)]


class BadSignature(AppError):
    status_code = 400
    code = "bad_signature"


class StaleTimestamp(AppError):
    status_code = 400
    code = "stale_timestamp"


class Replayed(Conflict):
    code = "replayed"


class TooLarge(AppError):
    status_code = 413
    code = "too_large"


class SmsNotConfigured(AppError):
    status_code = 503
    code = "sms_not_configured"


class InboundOut(BaseModel):
    id: int
    outcome: InboundOutcome
    #: The ticket the text opened, was added to, or answered (none for STOP, START and
    #: an unroutable sender).
    ticket: str | None


def _intake(request: Request) -> SmsIntake:
    return request.app.state.sms_intake


def _refused(intake: SmsIntake, reason: str, exc: Exception) -> Exception:
    intake.counters.refused[reason] += 1
    if reason == "stale":
        return StaleTimestamp(str(exc))
    if reason == "replayed":
        return Replayed("this message id was received before")
    if reason == "too_large":
        return TooLarge(f"the body is over {MAX_BODY} bytes")
    if reason == "invalid":
        return Invalid("not a message of the gateway contract", fields=_fields(exc))
    return BadSignature(str(exc))


def _fields(exc: Exception) -> dict[str, str]:
    if not isinstance(exc, ValidationError):
        return {}
    return {".".join(map(str, e["loc"])) or "body": e["msg"] for e in exc.errors()}


async def _body(request: Request, intake: SmsIntake) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _refused(intake, "too_large", ValueError())
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _refused(intake, "too_large", ValueError())
    return body


@router.post(
    "/api/sms/inbound",
    dependencies=[Depends(PUBLIC)],
    summary="The SMS gateway posts a text a citizen sent (HMAC-signed; docs/sms.md)",
    response_model=InboundOut,
    responses=documented(
        BadSignature, StaleTimestamp, Replayed, TooLarge, Invalid, SmsNotConfigured
    ),
)
async def inbound(request: Request, db: DbSession) -> InboundOut:
    intake = _intake(request)
    if intake.config.secret is None:
        intake.counters.refused["not_configured"] += 1
        raise SmsNotConfigured("CTI_SMS_WEBHOOK_SECRET is not set: no texts are taken")
    body = await _body(request, intake)
    try:
        signature.check(
            intake.config.secret,
            request.headers.get(signature.TIMESTAMP_HEADER),
            request.headers.get(signature.SIGNATURE_HEADER),
            body,
            now_s=utcnow().timestamp(),
            window_s=intake.config.window_s,
        )
    except signature.Refused as exc:
        raise _refused(intake, exc.reason, exc) from None
    try:
        message = InboundMessage.model_validate_json(body)
    except ValidationError as exc:
        raise _refused(intake, "invalid", exc) from None
    try:
        received = await receive(db, message, intake.config, now=utcnow())
    except Duplicate as exc:
        await db.rollback()
        raise _refused(intake, "replayed", exc) from None
    await db.commit()
    intake.counters.accepted[received.outcome.value] += 1
    return InboundOut(id=received.inbound_id, outcome=received.outcome, ticket=received.ticket)


class OutboxOut(BaseModel):
    id: int
    kind: OutboxKind
    ticket: str
    status: OutboxStatus
    #: Set once the sender claimed it (whom it texts, what it says).
    recipient: str | None
    text: str | None
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


class StoredInboundOut(BaseModel):
    id: int
    gateway_id: str
    sender_raw: str
    sender: str
    text: str
    received_at: datetime
    outcome: InboundOutcome
    ticket: str | None


def _county_scope(stmt, ctx: AuthContext):
    """A county's supervisor sees the texts of their county's tickets only."""
    if ctx.user.county_id is None:
        return stmt
    return stmt.where(Ticket.county_id == ctx.user.county_id)


@router.get(
    "/api/sms/outbox",
    summary="Texts owed to citizens, newest first: pending, sent, failed, suppressed, skipped",
    response_model=list[OutboxOut],
)
async def outbox(
    ctx: Leads, db: DbSession, status: OutboxStatus | None = None, limit: Limit = 100
) -> list[OutboxOut]:
    stmt = select(SmsOutbox, Ticket.number).join(Ticket, Ticket.id == SmsOutbox.ticket_id)
    if status is not None:
        stmt = stmt.where(SmsOutbox.status == status.value)
    stmt = _county_scope(stmt, ctx).order_by(SmsOutbox.id.desc()).limit(limit)
    return [
        OutboxOut(
            id=row.id,
            kind=OutboxKind(row.kind),
            ticket=number,
            status=OutboxStatus(row.status),
            recipient=row.recipient,
            text=row.text,
            attempts=row.attempts,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at,
            sent_at=row.sent_at,
            last_error=row.last_error,
        )
        for row, number in (await db.execute(stmt)).all()
    ]


@router.get(
    "/api/sms/inbound",
    summary="Texts the gateway posted, newest first, with what became of each",
    response_model=list[StoredInboundOut],
)
async def stored_inbound(
    ctx: Leads, db: DbSession, outcome: InboundOutcome | None = None, limit: Limit = 100
) -> list[StoredInboundOut]:
    stmt = select(SmsInbound, Ticket.number).outerjoin(Ticket, Ticket.id == SmsInbound.ticket_id)
    if outcome is not None:
        stmt = stmt.where(SmsInbound.outcome == outcome.value)
    stmt = _county_scope(stmt, ctx).order_by(SmsInbound.id.desc()).limit(limit)
    return [
        StoredInboundOut(
            id=row.id,
            gateway_id=row.gateway_id,
            sender_raw=row.sender_raw,
            sender=row.sender,
            text=row.text,
            received_at=row.received_at,
            outcome=InboundOutcome(row.outcome),
            ticket=number,
        )
        for row, number in (await db.execute(stmt)).all()
    ]

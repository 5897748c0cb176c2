"""Shared pieces of the revisit tests: a done ticket with its citizen, company and dispatch
as the other parts leave them; a callback request; the real Originate exchange, re-tagged
for a small AMI server; and an app whose dialer talks to that server over TCP."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cti.ami.connection import Backoff
from cti.ami.protocol import AmiFramer, parse_message
from cti.ami.service import AmiService
from cti.app import create_app
from cti.bus import InMemoryBus
from cti.numbers import NumberPlan
from cti.revisits.dialer import Dialer
from cti.store.callbacks import CallbackRequest
from cti.store.calls import Call
from cti.store.citizens import Citizen, CitizenPhone
from cti.store.companies import Company, CompanyStatus, Dispatch
from cti.store.counties import County
from cti.store.routing import RoutingDid
from cti.store.tickets import Ticket
from tests.conftest import TRACES_DIR
from tests.integration.ami.fake_asterisk import FakeAsterisk, Session, until
from tests.unit.ami.support import trace

FAST = {
    "backoff": Backoff(initial=0.01, maximum=0.05, jitter=0.0),
    "ping_interval": 60.0,
    "connect_timeout": 5.0,
    "action_timeout": 5.0,
    "stable_after": 3600.0,
}
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass
class DoneTicket:
    number: str
    ticket_id: int
    company_id: int
    dispatch_id: int
    county_id: int | None


async def done_ticket(
    session_factory,
    county: str | None = "north",
    phones: tuple[str, ...] = ("13800138000",),
    *,
    done_at: datetime = T0,
    citizen_name: str = "Wang Fang",
    description: str = "The kitchen tap leaks",
) -> DoneTicket:
    """A ticket a company finished (status done, one dispatch done at ``done_at``)."""
    async with session_factory() as db:
        county_id = await db.scalar(select(County.id).where(County.code == county))
        citizen = Citizen(name=citizen_name, county_id=county_id)
        db.add(citizen)
        await db.flush()
        for number in phones:
            db.add(CitizenPhone(citizen_id=citizen.id, number=number))
        company = Company(
            name=f"Fixers {secrets.token_hex(3)}",
            licence_number=f"LIC-{secrets.token_hex(5)}",
            status=CompanyStatus.APPROVED.value,
        )
        db.add(company)
        await db.flush()
        ticket = Ticket(
            number=f"T9{secrets.randbelow(1000):03d}-{secrets.randbelow(10**6):06d}",
            citizen_id=citizen.id,
            county_id=county_id,
            status="done",
            description=description,
        )
        db.add(ticket)
        await db.flush()
        dispatch = Dispatch(
            ticket_id=ticket.id,
            company_id=company.id,
            dispatched_at=done_at - timedelta(days=1),
            accept_by=done_at - timedelta(hours=20),
            finish_by=done_at + timedelta(days=2),
            status="done",
            accepted_at=done_at - timedelta(hours=22),
            done_at=done_at,
        )
        db.add(dispatch)
        await db.commit()
        return DoneTicket(ticket.number, ticket.id, company.id, dispatch.id, county_id)


async def callback_request(session_factory, county: str | None = "north", number=None) -> int:
    """An open callback request of an after-hours call, as the AGI writer leaves it."""
    number = number if number is not None else f"139{secrets.randbelow(10**8):08d}"
    async with session_factory() as db:
        county_id = await db.scalar(select(County.id).where(County.code == county))
        call = Call(
            node=f"cb-{secrets.token_hex(4)}",
            linkedid="1.1",
            uniqueid="1.1",
            caller_number=number,
            did="9615601",
            county_id=county_id,
            disposition="callback",
            started_at=T0,
        )
        db.add(call)
        await db.flush()
        request = CallbackRequest(
            call_id=call.id,
            county_id=county_id,
            number=number,
            requested_at=T0,
            status="open",
            attempts=0,
        )
        db.add(request)
        await db.commit()
        return request.id


async def expected_caller_id(session_factory, county: str) -> str:
    """What the county's Originate must carry as CallerID: its name and first DID."""
    async with session_factory() as db:
        county_row = await db.scalar(select(County).where(County.code == county))
        did = await db.scalar(
            select(RoutingDid.did)
            .where(RoutingDid.county_id == county_row.id)
            .order_by(RoutingDid.position, RoutingDid.id)
            .limit(1)
        )
        if did is None:
            did = await db.scalar(select(RoutingDid.did).order_by(RoutingDid.id).limit(1))
        return f'"Hotline {county_row.name}" <{did or ""}>'


def originate_blocks() -> dict[str, str]:
    """The real answers to the capture's Originates, by what they are: the "queued"
    response, the answered and the rang-out ``OriginateResponse``, and the agent channel's
    ``Hangup`` of the answered call."""
    framer = AmiFramer()
    blocks = framer.feed((TRACES_DIR / "ami-originate-followup.txt").read_bytes())
    found: dict[str, str] = {}
    for block in blocks:
        m = parse_message(block)
        if m.get("ActionID") == "followup-1" and m.get("Response") and "Event" not in m:
            found["queued"] = block
        elif m.get("Event") == "OriginateResponse" and m.get("ActionID") == "followup-1":
            found["answered"] = block
        elif m.get("Event") == "OriginateResponse" and m.get("ActionID") == "followup-2-fail":
            found["rang_out"] = block
        elif m.get("Event") == "Hangup" and m.get("Uniqueid") == "1795710973.6":
            found["hangup"] = block
    assert set(found) == {"queued", "answered", "rang_out", "hangup"}, set(found)
    return found


def answers(*kinds: str) -> list[str]:
    """Blocks for ``Session.canned["Originate"]``: the server re-tags ``ActionID:
    Originate`` with the client's real ActionID, so the trace's ids are replaced by that."""
    blocks = originate_blocks()
    out = []
    for kind in kinds:
        block = blocks[kind]
        for old in ("followup-1", "followup-2-fail"):
            block = block.replace(f"ActionID: {old}", "ActionID: Originate")
        out.append(block)
    return out


def hangup_of(channel_id: str) -> bytes:
    """The captured Hangup of the agent's channel, as it reads with our ChannelId."""
    block = originate_blocks()["hangup"].replace("1795710973.6", channel_id)
    return (block + "\r\n\r\n").encode()


@asynccontextmanager
async def dialing_app(settings, database_url, engine, session_factory, *, in_process=True):
    """The API with a live AMI listener and dialer on a small AMI server (node ``pbx1``).

    ``in_process=False``: the API process has no dialer and asks over the bus, where a
    dialer of "another process" (same bus) listens, as with ``--role api`` + ``--role ami``.
    Yields (app, server, session, dialer)."""
    server = FakeAsterisk()
    port = await server.start()
    url = f"ami://hotline:hotline-secret@127.0.0.1:{port}?name=pbx1"
    ami_settings = settings.model_copy(update={"ami_url": [url]})
    bus = InMemoryBus()

    async def publish(_event) -> None:
        return None

    ami = AmiService(ami_settings.ami_nodes, NumberPlan(), publish, **FAST)
    dialer = Dialer(ami, session_factory, NumberPlan(), bus)
    app = create_app(
        ami_settings,
        database_url,
        roles={"api"},
        engine=engine,
        bus=bus,
        services=[ami, dialer] if in_process else [],
    )
    await ami.start()
    await dialer.start()
    try:
        session: Session = await server.next_session()
        assert await session.login()
        connection = ami.connections[0]
        session.serve_actions(trace("resync-empty.txt"))
        await until(lambda: connection.stats.resyncs_done > 0)
        yield app, server, session, dialer
    finally:
        await dialer.stop()
        await ami.stop()
        await server.stop()

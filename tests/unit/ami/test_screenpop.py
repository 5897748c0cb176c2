"""PopBook (pure) and the pop payload: one pop per call per agent, whatever happens."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from cti.ami.events import CallOffered, DomainEvent
from cti.ami.replay import replay
from cti.ami.screenpop import MAX_POP_BYTES, Pop, PopBook, ScreenPop, build_pop
from cti.ami.tracker import CallTracker
from tests.unit.ami.support import is_event, split_after, stream_tracker, trace


def actions(book: PopBook, events: list[DomainEvent]) -> list[tuple[str, str, str | None]]:
    return [(a.kind, a.pop_id, a.reason) for e in events for a in book.apply(e)]


def test_ring_all_pops_both_then_keeps_only_the_winner() -> None:
    book = PopBook()
    got = actions(book, replay(trace("ring-all.txt"), "n1"))
    call = "n1:1795712101.10:"
    assert got == [
        ("show", call + "PJSIP/1001", None),
        ("show", call + "PJSIP/1002", None),
        ("withdraw", call + "PJSIP/1001", "answered_elsewhere"),
        ("answered", call + "PJSIP/1002", None),
        ("ended", call + "PJSIP/1002", None),
    ]
    assert len(book) == 0


def test_pending_per_agent_while_ringing_and_answered() -> None:
    tracker = stream_tracker()
    book = PopBook()
    data = trace("capture2/ami-events-call-agent-user.txt")
    head, rest = split_after(data, is_event("AgentCalled"))
    actions(book, replay(head, tracker=tracker))
    [pop] = book.pending("PJSIP/1001")
    assert (pop.pop_id, pop.state) == ("asterisk:1795711974.5:PJSIP/1001", "ringing")
    assert book.pending("PJSIP/1002") == []
    answered, after = split_after(rest, is_event("AgentConnect"))
    actions(book, replay(answered, tracker=tracker))
    assert [p.state for p in book.pending("PJSIP/1001")] == ["answered"]
    actions(book, replay(after, tracker=tracker))
    assert book.pending("PJSIP/1001") == []


def test_reconnect_while_ringing_shows_once() -> None:
    head, tail = split_after(
        trace("capture2/ami-restart-after.txt"), is_event("QueueMemberStatus", Status="6")
    )
    tracker = stream_tracker()
    book = PopBook()
    got = []
    for part in (head, trace("resync-ringing.txt"), tail):
        got += actions(book, replay(part, tracker=tracker))
    assert [kind for kind, _, _ in got] == ["show", "answered", "ended"]


def test_backend_restart_shows_the_same_pop_id_again() -> None:
    """A restarted backend has no memory: the resync re-offers the ringing call, and the
    pop has the same id as before, so the browser replaces instead of duplicating."""
    head, _ = split_after(
        trace("capture2/ami-restart-after.txt"), is_event("QueueMemberStatus", Status="6")
    )
    before = actions(PopBook(), replay(head))
    after = actions(PopBook(), replay(trace("resync-ringing.txt")))
    assert before == after == [("show", "asterisk:1795711897.0:PJSIP/1001", None)]


def test_duplicate_offer_and_stray_events_do_nothing() -> None:
    book = PopBook()
    events = replay(trace("capture2/ami-events-call-agent-user.txt"))
    offer = next(e for e in events if isinstance(e, CallOffered))
    assert [a.kind for a in book.apply(offer)] == ["show"]
    assert book.apply(offer) == []
    assert actions(PopBook(), [e for e in events if not isinstance(e, CallOffered)]) == []


def test_ring_timeout_retry_pops_again_after_the_withdrawal() -> None:
    got = actions(PopBook(), replay(trace("ring-timeout-retry-same.txt")))
    key = "asterisk:1795712201.20:PJSIP/2001"
    assert got == [
        ("show", key, None),
        ("withdraw", key, "ring_timeout"),
        ("show", key, None),
        ("answered", key, None),
        ("ended", key, None),
    ]


def _pop(name: str | None = "José <img src=x onerror=alert(1)>") -> Pop:
    offer = CallOffered(
        node="n1",
        linkedid="1.0",
        uniqueid="1.0",
        caller_number="13800138000",
        caller_name=name,
        did="9615601",
        county="north",
        queue="county-north",
        agent_interface="PJSIP/1001",
        at=datetime(2026, 11, 26, 16, 0, tzinfo=UTC),
    )
    return Pop("n1:1.0:PJSIP/1001", offer)


def test_payload_carries_the_caller_as_data_and_fits_a_notify() -> None:
    ticket = {
        "id": 1,
        "number": "T2026-000001",
        "status": "new",
        "citizen_id": 1,
        "category_id": None,
        "created_at": None,
        "description": "张" * 199 + "…",
    }
    lookup = {"known": True, "citizens": [], "last_calls": [], "open_tickets": [ticket] * 40}
    payload = build_pop(_pop(), lookup)
    assert payload["caller"] == {
        "number": "13800138000",
        "name": "José <img src=x onerror=alert(1)>",
        "withheld": False,
    }
    assert payload["truncated"] is True
    assert 0 < len(payload["open_tickets"]) < 40
    assert len(json.dumps(payload, ensure_ascii=False).encode()) <= MAX_POP_BYTES
    small = build_pop(_pop(None), {"known": False})
    assert small["truncated"] is False and small["caller"]["name"] is None


async def test_lookup_failure_still_pops() -> None:
    class Broken:
        def __call__(self):
            raise OSError("database unreachable")

    pushed: list[tuple[str, dict]] = []

    async def push(interface: str, message: dict) -> None:
        pushed.append((interface, message))

    screen = ScreenPop(Broken(), push)  # type: ignore[arg-type]
    events = replay(trace("capture2/ami-events-call-agent-user.txt"))
    await screen.handle(next(e for e in events if isinstance(e, CallOffered)))
    await screen.drain()
    [(interface, message)] = pushed
    assert interface == "PJSIP/1001"
    assert message["type"] == "pop"
    assert message["pop"]["lookup_failed"] is True
    assert message["pop"]["caller"]["number"] == "13800138051"
    assert screen.pending("PJSIP/1001") == [message["pop"]]


async def test_a_postgres_error_during_the_lookup_still_pops() -> None:
    """The lookup runs on the asyncpg driver itself: its errors (a cancelled statement, a
    connection lost mid-query) must end like any other lookup failure."""
    import asyncpg

    class Driver:
        async def fetchrow(self, *args):
            raise asyncpg.QueryCanceledError("canceling statement due to statement timeout")

    class Raw:
        driver_connection = Driver()

    class Connection:
        async def get_raw_connection(self):
            return Raw()

    class Session:
        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            return False

        async def connection(self):
            return Connection()

    pushed: list[dict] = []

    async def push(interface: str, message: dict) -> None:
        pushed.append(message)

    screen = ScreenPop(lambda: Session(), push)  # type: ignore[arg-type]
    events = replay(trace("capture2/ami-events-call-agent-user.txt"))
    await screen.handle(next(e for e in events if isinstance(e, CallOffered)))
    await screen.drain()
    [message] = pushed
    assert message["type"] == "pop" and message["pop"]["lookup_failed"] is True


async def test_pop_withdrawn_during_lookup_is_never_pushed() -> None:
    release = asyncio.Event()

    class Slow:
        def __call__(self):
            return self

        async def __aenter__(self):
            await release.wait()
            raise OSError("too late anyway")

        async def __aexit__(self, *exc):
            return False

    pushed: list[dict] = []

    async def push(interface: str, message: dict) -> None:
        pushed.append(message)

    screen = ScreenPop(Slow(), push)  # type: ignore[arg-type]
    events = replay(trace("caller-hangup-while-ringing.txt"))
    for event in events:
        await screen.handle(event)
    release.set()
    await screen.drain()
    assert pushed == [
        {
            "type": "withdraw",
            "pop_id": "asterisk:1795712301.30:PJSIP/1001",
            "reason": "caller_hangup",
        }
    ]
    assert screen.pending("PJSIP/1001") == []


def test_tracker_and_book_agree_on_every_fixture() -> None:
    """Invariant over all scenarios: every show is closed by withdraw or ended, nothing is
    shown twice while pending, and nothing is left pending at the end."""
    names = [
        "ami-answered-queue-call.txt",
        "capture2/ami-restart-before.txt",
        "capture2/ami-restart-after.txt",
        "capture2/ami-hh-answered.txt",
        "capture2/ami-events-call-agent-user.txt",
        "ring-all.txt",
        "ring-timeout-hunt.txt",
        "ring-timeout-retry-same.txt",
        "caller-hangup-while-ringing.txt",
        "blind-transfer.txt",
        "attended-transfer.txt",
        "hostile-callerid.txt",
    ]
    for name in names:
        book = PopBook()
        open_ids: set[str] = set()
        for event in replay(trace(name), tracker=CallTracker(clock=lambda: 0.0)):
            for action in book.apply(event):
                if action.kind == "show":
                    assert action.pop_id not in open_ids, name
                    open_ids.add(action.pop_id)
                elif action.kind in ("withdraw", "ended"):
                    open_ids.remove(action.pop_id)
        assert not open_ids and len(book) == 0, name


async def test_pop_answered_and_ended_during_lookup_is_pushed_as_ended() -> None:
    """The call is answered and over before the caller lookup comes back: the agent
    talked to the caller, so the pop still comes, once, as ended (found by
    tests/integration/ami/test_pop_reconnect.py: the link dropped mid-call and the re-read
    ended the call before the first lookup returned, and the agent never got a pop)."""
    release = asyncio.Event()

    class Slow:
        def __call__(self):
            return self

        async def __aenter__(self):
            await release.wait()
            raise OSError("late")

        async def __aexit__(self, *exc):
            return False

    pushed: list[dict] = []

    async def push(interface: str, message: dict) -> None:
        pushed.append(message)

    screen = ScreenPop(Slow(), push)  # type: ignore[arg-type]
    for event in replay(trace("ami-answered-queue-call.txt")):
        await screen.handle(event)
    release.set()
    await screen.drain()
    assert [m["type"] for m in pushed] == ["answered", "ended", "pop"]
    assert len({m["pop_id"] for m in pushed}) == 1
    assert pushed[-1]["pop"]["state"] == "ended"

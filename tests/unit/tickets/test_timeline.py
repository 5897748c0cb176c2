"""The timeline merges events, calls with recordings, dispatches, company updates, revisit
calls and revisits in time order, keeping every text verbatim."""

from datetime import UTC, datetime, timedelta

from cti.store.calls import Call
from cti.store.companies import Dispatch
from cti.store.revisits import OutboundCall, Revisit
from cti.store.tickets import TicketEvent
from cti.tickets import timeline

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _at(minutes):
    return T0 + timedelta(minutes=minutes)


def _event(eid, minutes, kind, before, after, note="", company_id=None, name="Ann"):
    return TicketEvent(
        id=eid,
        at=_at(minutes),
        kind=kind,
        actor_name=name,
        actor_role="company" if company_id else "agent",
        company_id=company_id,
        from_status=before,
        to_status=after,
        note=note,
    )


def test_everything_in_time_order():
    hostile = "<b>done</b>'; --"
    call = Call(
        id=1,
        node="pbx1",
        linkedid="1.1",
        started_at=_at(-1),
        caller_number="138",
        disposition="answered",
    )
    revisit_call = Call(
        id=2,
        node="pbx1",
        linkedid="9.9",
        started_at=_at(60),
        caller_number="138",
        disposition="answered",
    )
    entries = timeline.merge(
        events=[
            _event(1, 0, "create", None, "new"),
            _event(2, 5, "dispatch", "new", "dispatched"),
            _event(3, 20, "accept", "dispatched", "accepted", company_id=4, name="Bob"),
            _event(4, 40, "finish", "accepted", "done", note=hostile, company_id=4, name="Bob"),
            _event(5, 61, "note", "done", "done", note="called back"),
        ],
        calls=[revisit_call, call],
        recordings={
            1: [timeline.RecordingRef(10, 5000, True)],
            2: [timeline.RecordingRef(11, 900, False)],
        },
        revisit_call_ids=frozenset({2}),
        outbound=[
            OutboundCall(
                id=3,
                purpose="revisit",
                agent_id=8,
                number="138",
                status="ended",
                started_at=_at(60),
                failure=None,
            )
        ],
        dispatches=[
            Dispatch(
                id=6,
                company_id=4,
                dispatched_by=8,
                dispatched_at=_at(5),
                automatic=False,
                accept_by=_at(35),
                finish_by=_at(300),
                status="done",
                accepted_at=_at(20),
                done_at=_at(40),
                done_note=hostile,
            )
        ],
        revisits=[
            Revisit(
                id=7,
                at=_at(65),
                satisfaction=4,
                service_done=True,
                channel="phone",
                company_id=4,
                agent_id=8,
                comment=hostile,
                complaint=False,
            )
        ],
        companies={4: "Fix-It & Co"},
        agents={8: "Ann Agent"},
    )
    assert [(e.kind, e.title) for e in entries] == [
        ("call", "Call"),
        ("event", "Created"),
        ("event", "dispatch: new → dispatched"),
        ("dispatch", "Dispatched to Fix-It & Co"),
        ("company", "accept: dispatched → accepted"),
        ("company", "finish: accepted → done"),
        ("call", "Revisit call"),
        ("outbound", "Click-to-call (revisit)"),
        ("event", "Note"),
        ("revisit", "Revisit"),
    ]
    assert entries[0].recordings == (timeline.RecordingRef(10, 5000, True),)
    assert entries[5].actor == "Bob for Fix-It & Co" and entries[5].note == hostile
    dispatch = dict(entries[3].facts)
    assert dispatch["status"] == "done" and dispatch["accept by"] == "2026-12-07 09:35 UTC"
    assert entries[3].actor == "Ann Agent" and entries[3].note == hostile
    assert dict(entries[9].facts)["satisfaction"] == "4/5" and entries[9].note == hostile


def test_a_call_not_written_yet_sorts_first():
    placeholder = Call(
        id=5,
        node="pbx1",
        linkedid="2.2",
        started_at=None,
        caller_number="",
        disposition="in_progress",
    )
    entries = timeline.merge(events=[_event(1, 0, "create", None, "new")], calls=[placeholder])
    assert [e.kind for e in entries] == ["call", "event"]
    assert dict(entries[0].facts)["number"] == "withheld"

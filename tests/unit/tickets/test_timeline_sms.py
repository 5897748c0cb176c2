"""Texts on a ticket's timeline: in and out, each once (pure)."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from cti.tickets import timeline

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _event(id_, kind, at, note=""):
    return SimpleNamespace(
        id=id_, kind=kind, at=at, from_status="new", to_status="new", note=note,
        actor_name="SMS gateway", actor_role="agent", company_id=None,
    )  # fmt: skip


def test_texts_are_merged_and_a_text_added_as_an_event_is_shown_once():
    created = _event(1, "create", T0)
    created.from_status = None
    note = _event(2, "sms", T0 + timedelta(minutes=5), "<b>again</b>")
    first = SimpleNamespace(
        id=10, received_at=T0 - timedelta(seconds=1), sender_raw="+8613900000000",
        text="<b>first</b>", outcome="ticket", gateway_id="m-1", event_id=None,
    )  # fmt: skip
    second = SimpleNamespace(
        id=11, received_at=T0 + timedelta(minutes=5), sender_raw="+8613900000000",
        text="<b>again</b>", outcome="note", gateway_id="m-2", event_id=2,
    )  # fmt: skip
    out = SimpleNamespace(
        id=3, kind="ticket_created", status="sent", attempts=2, last_error=None,
        recipient="13900000000", text="Hotline: your request is ticket T1", created_at=T0,
        sent_at=T0 + timedelta(minutes=1),
    )  # fmt: skip
    entries = timeline.merge(events=[created, note], texts_in=[first, second], texts_out=[out])
    assert [(e.kind, e.title) for e in entries] == [
        ("sms", "Text message from +8613900000000"),
        ("event", "Created"),
        ("sms", "Text message to 13900000000"),
        ("sms", "Text message from +8613900000000"),
    ]
    assert entries[-1].note == "<b>again</b>"  # verbatim: the page escapes it
    assert ("status", "sent") in entries[2].facts and ("attempts", "2") in entries[2].facts

"""The journal writer against real Postgres: lookups, poison records, the CLI drain, the
status its process reports."""

from __future__ import annotations

import json
import secrets
import time

from cti.agi.background import STATUS_FILE
from cti.agi.cli import journal_status
from cti.agi.journal import Journal, Position, decode_line
from cti.agi.records import CallRecord
from cti.agi.rows import apply, normalised
from cti.agi.writer import JournalWriter, WriterOptions
from cti.store.users import User
from tests.integration.agi.conftest import rows_for, wait_for


def _start(node, lid, **kw) -> CallRecord:
    return CallRecord("call-start", node, lid, lid, 0.0, **kw)


def _end(node, lid, **kw) -> CallRecord:
    kw.setdefault("disposition", "answered")
    return CallRecord("call-end", node, lid, lid, 0.0, **kw)


async def _agent(session_factory) -> User:
    """An agent user with an interface of its own."""
    async with session_factory() as db:
        user = User(
            username=f"agent-{secrets.token_hex(3)}",
            display_name="Agent",
            password_hash="x",
            role="agent",
            interface=f"PJSIP/{secrets.token_hex(3)}",
        )
        db.add(user)
        await db.commit()
    return user


async def test_lookups_and_row_rules_in_sql_match_the_reference_model(
    tmp_path, session_factory, seeded, node
):
    user = await _agent(session_factory)
    records = [
        _end(
            node,
            "1.1",
            caller_name="from end",
            did="9",
            ended_at=1795711951.0,
            wait_s=2,
            talk_s=10,
            agent_interface=user.interface,
            hangup_cause=16,
            county="north",
        ),
        _start(
            node,
            "1.1",
            caller_name="Ann",
            caller_number="13800138041",
            county="north",
            started_at=1795711939.0,
        ),
        _start(node, "1.2", county="atlantis", queue="county-north"),  # unknown county
        _start(node, "1.3", county="south"),
        _start(node, "1.3", caller_name="second start"),  # a retried start
        _end(node, "1.3", disposition="abandoned", wait_s=5, talk_s=0),
        _end(node, "1.3", disposition="abandoned", wait_s=5, talk_s=0),  # and a retried end
    ]
    journal = Journal(tmp_path)
    journal.append([r.to_json() for r in records])
    writer = JournalWriter(journal, session_factory)
    assert await writer.drain_all() == len(records)

    rows = await rows_for(session_factory, node)
    reference = {}
    for record in records:
        reference[record.linkedid] = apply(reference.get(record.linkedid), record)
    for lid, expected in reference.items():
        row = rows[lid]
        for column, value in normalised(expected).items():
            if column in ("county", "queue"):  # resolved by the writer, checked below
                continue
            got = getattr(row, column)
            if column.endswith("_at") and got is not None:
                got = got.timestamp()
            assert got == value, (lid, column)
    assert rows["1.1"].agent_id == user.id and rows["1.1"].county_id is not None
    assert rows["1.1"].queue == "county-north"  # the county's queue when none was given
    assert (rows["1.2"].county_id, rows["1.2"].queue) == (None, "county-north")
    assert rows["1.3"].caller_name == "second start" and rows["1.3"].queue == "county-south"
    assert journal.load_checkpoint() == journal.read(Position(1, 0)).end


async def test_an_outbound_call_is_stored_outbound_with_its_agent_and_stays_so(
    tmp_path, session_factory, seeded, node
):
    user = await _agent(session_factory)
    outbound = {"direction": "outbound", "caller_number": "13800138000"}
    journal = Journal(tmp_path)
    writer = JournalWriter(journal, session_factory)
    # End before start, in two batches (a slow call-start), then a citizen's call.
    journal.append(
        [
            _end(
                node, "3.1", talk_s=4, wait_s=2, agent_interface=user.interface, **outbound
            ).to_json()
        ]
    )
    await writer.drain_all()
    journal.append(
        [
            _start(node, "3.1", started_at=1795710973.0, **outbound).to_json(),
            _start(node, "3.2", caller_number="13800138041").to_json(),
        ]
    )
    await writer.drain_all()
    rows = await rows_for(session_factory, node)
    assert rows["3.1"].direction == "outbound" and rows["3.2"].direction == "inbound"
    assert (rows["3.1"].agent_id, rows["3.1"].caller_number) == (user.id, "13800138000")
    assert (rows["3.1"].disposition, rows["3.1"].talk_s) == ("answered", 4)
    # A replayed start that says inbound (a journal from before outbound calls were
    # logged cannot say otherwise) does not turn the call around.
    journal.append([_start(node, "3.1", caller_name="x").to_json()])
    await writer.drain_all()
    assert (await rows_for(session_factory, node))["3.1"].direction == "outbound"


async def test_a_record_postgres_refuses_is_set_aside_and_the_rest_commit(
    tmp_path, session_factory, seeded, node
):
    good = [_start(node, f"2.{i}", caller_name=f"c{i}") for i in range(9)]
    poison = _end(node, "2.99", disposition="bogus")  # breaks a CHECK constraint (23514)
    too_long = _end(node, "2.98", disposition="x" * 17)  # varchar(16) (22001)
    journal = Journal(tmp_path)
    journal.append(
        [r.to_json() for r in good[:4]]
        + [poison.to_json(), too_long.to_json()]
        + [r.to_json() for r in good[4:]]
    )
    journal.append([b'{"not":"a record"}'])
    writer = JournalWriter(journal, session_factory)
    await writer.drain_all()
    rows = await rows_for(session_factory, node)
    assert sorted(rows) == sorted(r.linkedid for r in good)
    assert writer.stats.rejected == 3 and journal.rejected_count() == 3
    reasons = [
        json.loads(decode_line(line))["reason"]
        for line in journal.rejected_path.read_bytes().splitlines()
    ]
    assert "disposition_known" in reasons[0] and "too long" in reasons[1]
    assert "kind" in reasons[2]
    status = journal_status(journal)
    assert status["pending_records"] == 0 and status["rejected_records"] == 3


async def test_service_health_and_metrics(make_service):
    service = await make_service()
    health = service.health()
    assert health.ok and health.detail["listening"] and health.detail["database_ok"]
    lines = service.metrics()
    names = {line.split()[0] for line in lines if not line.startswith("#")}
    assert {"cti_agi_sessions_total", "cti_agi_journal_backlog_bytes"} <= names
    assert all(line.startswith("# HELP ") for line in lines[::3])


async def test_the_writer_process_reports_once_a_second_not_after_every_batch(
    make_service, session_factory, node
):
    options = WriterOptions(batch_size=10, linger=0.0, poll_interval=0.05, backoff_max=0.5)
    service = await make_service(writer_options=options)
    records = [_start(node, f"3.{i}", caller_name=f"c{i}").to_json() for i in range(1000)]
    began = time.monotonic()
    for i in range(0, len(records), 100):
        service.journal.append(records[i : i + 100])
    await wait_for(lambda: service.writer.stats.committed >= len(records))
    elapsed = time.monotonic() - began
    status = json.loads((service.journal.directory / STATUS_FILE).read_text())
    assert status["stats"]["batches"] >= 100
    # start, lock taken, one a second, idle (it used to be one per batch)
    assert status["reports"] <= 4 + 2 * elapsed, (status["reports"], elapsed)
    assert service.health().detail["journal_backlog_bytes"] == 0
    assert len(await rows_for(session_factory, node)) == len(records)


async def test_the_checkpoint_lags_the_commits_at_most_an_interval_and_catches_up_when_idle(
    tmp_path, session_factory, node
):
    records = [_start(node, f"4.{i}", caller_name=f"c{i}").to_json() for i in range(12)]
    journal = Journal(tmp_path)
    journal.append(records)
    first = journal.load_checkpoint()
    every_hour = WriterOptions(batch_size=4, checkpoint_interval=3600)
    writer = JournalWriter(journal, session_factory, every_hour)
    assert await writer.drain_once() == 4
    assert await writer.drain_once() == 4
    # Committed, but not yet worth two fsyncs: a crash now replays them (harmlessly).
    assert len(await rows_for(session_factory, node)) == 8
    assert journal.load_checkpoint() == first and writer.position != first
    await writer.drain_all()  # the last batch, then nothing to do: saved
    assert journal.load_checkpoint() == writer.position == journal.read(first).end

    # Stopping saves it too: a writer that holds the lock and has committed past it.
    more = [_start(node, f"5.{i}").to_json() for i in range(4)]
    journal.append(more)
    second = JournalWriter(journal, session_factory, every_hour)
    assert journal.try_lock_writer()
    second.stats.holds_lock = True
    assert await second.drain_once() == 4
    assert journal.load_checkpoint() != second.position
    await second.stop()
    assert journal.load_checkpoint() == second.position

    # With no interval, every batch saves it.
    journal.append(more)
    eager = JournalWriter(journal, session_factory, WriterOptions(checkpoint_interval=0))
    assert await eager.drain_once() == 4
    assert journal.load_checkpoint() == eager.position
    await eager.stop()  # hands back the connection it kept between batches
    journal.close()


async def test_the_checkpoint_is_saved_before_a_segment_is_released(
    tmp_path, session_factory, node
):
    journal = Journal(tmp_path, segment_bytes=200)  # two or three records per segment
    for i in range(12):
        journal.append([_start(node, f"6.{i}").to_json()])
    assert len(journal.segments()) > 2
    writer = JournalWriter(
        journal, session_factory, WriterOptions(batch_size=5, checkpoint_interval=3600)
    )
    assert await writer.drain_once() == 5
    # The batch moved past whole segments: they are deleted, and only after the
    # checkpoint that no longer needs them is on disk.
    assert journal.load_checkpoint() == writer.position
    assert journal.segments()[0] == writer.position.segment
    await writer.stop()
    journal.close()


async def test_a_busy_writer_keeps_its_connection_and_hands_it_back_when_idle(
    tmp_path, session_factory, node
):
    pool = session_factory.kw["bind"].pool
    journal = Journal(tmp_path)
    journal.append([_start(node, f"7.{i}").to_json() for i in range(8)])
    writer = JournalWriter(journal, session_factory, WriterOptions(batch_size=4))
    before = pool.checkedout()
    assert await writer.drain_once() == 4
    assert pool.checkedout() == before + 1  # kept: more batches may follow
    assert await writer.drain_once() == 4
    assert pool.checkedout() == before + 1  # the same one, not a second
    assert await writer.drain_all() == 0  # nothing left: handed back
    assert pool.checkedout() == before
    assert len(await rows_for(session_factory, node)) == 8
    journal.close()

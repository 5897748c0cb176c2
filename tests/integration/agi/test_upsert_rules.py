"""The writer's SQL (``cti.agi.upsert``) against the reference model (``rows.apply``):
any sequence of records, cut into batches anywhere, gives the rows that applying the
records one by one gives. Sequences are random (seeded, so a failure repeats): retried
starts and ends, ends before starts, two calls interleaved, values that come and go."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from cti.agi.records import CallRecord
from cti.agi.rows import apply, normalised
from cti.agi.upsert import Batch, apply_batch
from cti.agi.writer import upsert_payloads
from cti.store.counties import County

CASES = 120


def _maybe(rng: random.Random, *values):
    return rng.choice([None, *values])


def _record(rng: random.Random, node: str) -> CallRecord:
    linkedid = rng.choice(["1.1", "1.2"])
    county = _maybe(rng, "north", "south")
    fields = dict(
        kind=rng.choice(["call-start", "call-end"]),
        node=node,
        linkedid=linkedid,
        uniqueid=linkedid,
        received_at=0.0,
        channel=_maybe(rng, "PJSIP/a", "PJSIP/b"),
        caller_number=_maybe(rng, "1380", "1390"),
        caller_number_raw=_maybe(rng, "+1380"),
        caller_name=_maybe(rng, "Ann", "Bob"),
        did=_maybe(rng, "9615601"),
        county=county,
        # A county's own queue is the default only when none is given; the model does
        # not know counties, so a county always comes with a queue here.
        queue=rng.choice(["q1", "q2"]) if county else _maybe(rng, "q1"),
        started_at=_maybe(rng, 1.0, 2.0),
    )
    if fields["kind"] == "call-end":
        fields.update(
            ended_at=_maybe(rng, 5.0, 6.0),
            queued_at=_maybe(rng, 3.0),
            answered_at=_maybe(rng, 4.0),
            wait_s=_maybe(rng, 1, 2),
            talk_s=_maybe(rng, 10),
            disposition=rng.choice(["answered", "abandoned", "timeout"]),
            hangup_cause=_maybe(rng, 16, 17),
            agent_interface=_maybe(rng, "PJSIP/1001", "PJSIP/1002"),
        )
    return CallRecord(**fields)


def _cuts(rng: random.Random, n: int) -> list[tuple[int, int]]:
    bounds = sorted({0, n, *(rng.randint(0, n) for _ in range(rng.randint(0, 3)))})
    return list(zip(bounds, bounds[1:], strict=False))


async def test_any_batching_of_any_sequence_gives_the_model_rows(session_factory, seeded, node):
    rng = random.Random(20261127)
    async with session_factory() as db:
        codes = dict((await db.execute(select(County.id, County.code))).all())
    engine = session_factory.kw["bind"]
    tried = 0
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        for case in range(CASES):
            case_node = f"{node}-{case}"
            records = [_record(rng, case_node) for _ in range(rng.randint(1, 12))]
            for lo, hi in _cuts(rng, len(records)):
                await upsert_payloads(raw, [r.to_json() for r in records[lo:hi]])
            expected: dict[str, dict] = {}
            for record in records:
                expected[record.linkedid] = apply(expected.get(record.linkedid), record)
            rows = await raw.fetch("SELECT * FROM calls WHERE node = $1", case_node)
            got = {row["linkedid"]: row for row in rows}
            assert set(got) == set(expected), case
            for lid, model in expected.items():
                row = got[lid]
                for column, value in normalised(model).items():
                    stored = row["county_id"] if column == "county" else row[column]
                    if column == "county":
                        stored = codes.get(stored)
                    elif column.endswith("_at") and stored is not None:
                        stored = stored.timestamp()
                    assert stored == value, (case, records, lid, column)
            tried += len(records)
    assert tried > CASES  # the cases were not all empty


async def test_a_record_of_another_kind_is_refused_not_applied(session_factory, seeded, node):
    """A payload whose kind its place in the batch contradicts (it cannot begin like a
    call-start and be a call-end, but a duplicated key can) makes the batch fail."""
    start = CallRecord("call-start", node, "5.1", "5.1", 0.0, caller_name="x").to_json()
    forged = start[:-1] + b',"kind":"call-end"}'  # begins as a start, reads as an end
    engine = session_factory.kw["bind"]
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        with pytest.raises(ValueError, match="another kind"):
            async with raw.transaction():
                await apply_batch(raw.fetchrow, Batch.of([forged]))
        assert await raw.fetchval("SELECT count(*) FROM calls WHERE node = $1", node) == 0

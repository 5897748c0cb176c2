"""A call that overflows to another queue: the dialplan sends call-start again with the
new queue and the first start time (extensions.conf, cti-call-begin,requeue); the row
then names the queue that took the call, in any arrival order of the three records."""

import itertools

from cti.agi.records import CallRecord
from cti.agi.rows import apply

T0 = 1_795_712_000.0


def _records():
    first = CallRecord(
        "call-start", "n", "1.1", "1.1", T0, county="north", queue="county-north", started_at=T0
    )
    again = CallRecord(
        "call-start", "n", "1.1", "1.1", T0 + 300, county="north", queue="central", started_at=T0
    )
    end = CallRecord(
        "call-end",
        "n",
        "1.1",
        "1.1",
        T0 + 400,
        county="north",
        queue="central",
        ended_at=T0 + 400,
        disposition="answered",
        agent_interface="PJSIP/2001",
    )
    return first, again, end


def test_the_row_names_the_overflow_queue_and_keeps_the_first_start():
    first, again, end = _records()
    row = None
    for record in (first, again, end):
        row = apply(row, record)
    assert (row["queue"], row["county"], row["started_at"]) == ("central", "north", T0)


def test_the_end_may_arrive_before_the_second_start():
    """The two starts reach the journal in the order Asterisk sent them (each waits for
    the server's acknowledgement); the end may overtake the second one (retries)."""
    first, again, end = _records()
    for order in itertools.permutations((again, end)):
        row = apply(None, first)
        for record in order:
            row = apply(row, record)
        assert row["queue"] == "central"

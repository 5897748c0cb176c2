"""The project's account of the captured calls agrees with Asterisk's own (queue_log).

What the capture holds, and so what is compared here:

* ``queue_log.txt`` is the first capture's: calls (a), (b), (c), the burst (e) of 20 and
  the ``ami-actions`` caller. That capture's dialplan ran only the ``route`` FastAGI
  script, never ``call-start``/``call-end``, so the ``calls`` rows production writes (from
  those two scripts) cannot be rebuilt for any of its calls: the row-based comparison
  with a real Asterisk is ``tests/live/test_queue_log_agreement.py`` (the lab's own
  queue_log against the rows the real backend wrote for the same calls).
* ``capture2/`` holds the FastAGI sessions (its rows are checked against its ground
  truth in ``tests/integration/agi/test_replay.py``) but no queue_log file.
* Of queue_log.txt's calls, three have their AMI stream captured: (a) answered
  ``ami-answered-queue-call.txt``, (b) abandoned in queue ``ami-abandoned.txt``, and the
  ``ami-actions.txt`` caller, abandoned. (c) and the burst were kept aside (README). Those
  three streams are replayed through the project's AMI parser and call tracker (what the
  AMI listener runs, ``cti.ami.replay``); each call's end (``call_ended``: disposition,
  wait, talk) becomes a ``cti.stats.calls.Fact`` and the report is computed by
  ``cti.stats.calls.figures``, then compared field by field with ``cti.stats.queue_log``'s
  report of the same three calls.

Rounding: queue_log's figures are whole seconds; the tracker's are AMI's whole-second
``HoldTime``/``TalkTime``; the comparison allows 1 s on each wait and talk time.
"""

from __future__ import annotations

from datetime import date

import pytest

from cti.ami.replay import read_stream, replay
from cti.stats import queue_log
from cti.stats.calls import Fact, figures
from tests.conftest import TRACES_DIR

STREAMS = ("ami-answered-queue-call.txt", "ami-abandoned.txt", "ami-actions.txt")
ROUNDING_S = 1


def _project_facts() -> dict[str, Fact]:
    """The tracker's account of each captured call, by Linkedid."""
    out: dict[str, Fact] = {}
    for name in STREAMS:
        events = [e.to_dict() for e in replay(read_stream(TRACES_DIR / name))]
        queues = {e["linkedid"]: e["queue"] for e in events if e.get("queue")}
        for e in events:
            if e["type"] == "call_ended":
                out[e["linkedid"]] = Fact(
                    date(2026, 11, 26), 0, queues[e["linkedid"]], e["disposition"],
                    e["wait_s"], 1, e["talk_s"] or 0, e["talk_s"] or 0,
                )  # fmt: skip
    return out


def test_the_captured_streams_hold_three_of_the_queue_logs_calls():
    facts = _project_facts()
    logged = queue_log.calls(queue_log.parse((TRACES_DIR / "queue_log.txt").read_text()).entries)
    assert set(facts) == {"1795710920.0", "1795710933.2", "1795711071.47"}
    assert set(facts) <= {callid for callid, _ in logged}


def test_each_call_agrees_with_queue_log():
    facts = _project_facts()
    logged = queue_log.calls(queue_log.parse((TRACES_DIR / "queue_log.txt").read_text()).entries)
    for linkedid, fact in facts.items():
        call = logged[(linkedid, fact.queue)]
        assert fact.disposition == call.outcome, linkedid
        assert abs(fact.wait_s - call.wait_s) <= ROUNDING_S, linkedid
        assert abs(fact.talk_s - call.talk_s) <= ROUNDING_S, linkedid


@pytest.mark.parametrize("queue", ["county-north", "county-south"])
def test_the_report_agrees_field_by_field(queue):
    facts = [f for f in _project_facts().values() if f.queue == queue]
    logged = [
        c
        for c in queue_log.calls(
            queue_log.parse((TRACES_DIR / "queue_log.txt").read_text()).entries
        ).values()
        if c.callid in {"1795710920.0", "1795710933.2", "1795711071.47"} and c.queue == queue
    ]
    ours, theirs = figures(facts), queue_log.figures(logged)
    assert ours.offered == theirs.offered > 0
    for name in ("answered", "abandoned", "short_abandoned", "timeout", "transferred"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("avg_wait_s", "p90_wait_s", "avg_talk_s"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert abs(a - b) <= ROUNDING_S, name

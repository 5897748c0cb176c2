"""The call tracker replayed against every captured scenario, and against the synthesized
fixtures of the scenarios nobody captured (``tests/fixtures/ami``, each with a header saying
where its events come from). One test per scenario; each asserts the complete list of
domain events, in order (the way cacofonisk tests its state machine on recorded traces).

Ground truth of capture 2 (``capture2/README.md``): l-killed wait 2 talk 0, l-after 2/4,
n-answered 2/10, n-abandoned 5/0, o 2/4.
"""

from __future__ import annotations

import itertools

from cti.ami.tracker import CallTracker
from tests.unit.ami.support import (
    abandoned,
    agent,
    answered,
    blocks_of,
    ended,
    is_event,
    join,
    offered,
    run,
    split_after,
    stream_tracker,
    trace,
    withdrawn,
    without_login,
)


def test_answered_queue_call() -> None:
    """(a) 13800138000 -> DID 9615601 (north): 1001 rings 2 s, answers, talks 4 s, hangs up.

    In this capture QueueMemberStatus 2 (in use) arrives before AgentConnect."""
    assert run(trace("ami-answered-queue-call.txt")) == [
        offered(
            "1795710920.0",
            "13800138000",
            "Citizen North",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:35:20.391897+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        agent("PJSIP/1001", "in_call"),
        answered("1795710920.0", "PJSIP/1001", 2),
        agent("PJSIP/1001", "idle"),
        ended("1795710920.0", "answered", 2, 4),
    ]


def test_abandoned_in_queue_while_the_only_agent_is_paused() -> None:
    """(b) 2001 paused ('lunch'); the caller waits 8 s and hangs up: no offer at all."""
    assert run(trace("ami-abandoned.txt")) == [
        agent("PJSIP/2001", "paused"),
        abandoned("1795710933.2", "county-south", 8, 1),
        ended("1795710933.2", "abandoned", 8, 0),
        agent("PJSIP/2001", "idle"),
    ]


def test_originate_followup_is_not_a_hotline_call() -> None:
    """(d) Originate calls ring and connect 1001 but never pass a queue: no pop, no call event;
    only the agent's state follows its phone."""
    assert run(trace("ami-originate-followup.txt")) == [
        agent("PJSIP/1001", "ringing"),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
    ]


def test_action_responses_during_a_waiting_call() -> None:
    """(f) QueueStatus/CoreShowChannels/Status answers in the middle of a live call, plus
    reloads and errors: the snapshot confirms what the events said, nothing is emitted twice."""
    assert run(trace("ami-actions.txt")) == [
        agent("PJSIP/2001", "paused"),
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/1002", "idle"),
        abandoned("1795711071.47", "county-south", 7, 1),
        ended("1795711071.47", "abandoned", 7, 0),
        agent("PJSIP/2001", "idle"),
    ]


def test_hangup_handler_answered_caller_hangs_up() -> None:
    """(n-answered) answered by 1002; the caller hangs up (AgentComplete Reason caller).
    Ground truth: wait 2 s, talk 10 s."""
    assert run(trace("capture2/ami-hh-answered.txt")) == [
        offered(
            "1795711939.2",
            "13800138041",
            "Citizen HH Answered",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1002",
            "2026-11-26T16:52:19.495676+00:00",
        ),
        agent("PJSIP/1002", "ringing"),
        agent("PJSIP/1002", "in_call"),
        answered("1795711939.2", "PJSIP/1002", 2),
        agent("PJSIP/1002", "idle"),
        ended("1795711939.2", "answered", 2, 10),
    ]


def test_hangup_handler_abandoned() -> None:
    """(n-abandoned) abandoned in queue after 5 s, 2001 paused. Ground truth: wait 5 s."""
    assert run(trace("capture2/ami-hh-abandoned.txt")) == [
        agent("PJSIP/2001", "paused"),
        abandoned("1795711958.4", "county-south", 5, 1),
        ended("1795711958.4", "abandoned", 5, 0),
        agent("PJSIP/2001", "idle"),
    ]


def test_filtered_login_events_call_agent_user() -> None:
    """(o) Events: call,agent,user login: no VarSet, no FullyBooted. DID and county still
    come through (UserEvent HotlineCall). Ground truth: wait 2 s, talk 4 s."""
    assert run(trace("capture2/ami-events-call-agent-user.txt")) == [
        offered(
            "1795711974.5",
            "13800138051",
            "Citizen Filtered",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:52:54.583501+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        answered("1795711974.5", "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        ended("1795711974.5", "answered", 2, 4),
    ]


def test_member_state_changes() -> None:
    """(m) QueueAdd, pause with reason, unpause, pause-all (one QueueMemberPause per queue),
    unpause-all, qualify unavailable/available (Status 5/1), QueueRemove."""
    assert run(trace("capture2/ami-member-state-changes.txt")) == [
        agent("PJSIP/3001", "idle"),
        agent("PJSIP/3001", "paused"),
        agent("PJSIP/3001", "idle"),
        agent("PJSIP/1001", "paused"),
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/2001", "idle"),
        agent("PJSIP/3001", "unavailable"),
        agent("PJSIP/3001", "idle"),
        agent("PJSIP/3001", "unavailable"),
    ]


def test_ring_all_loser_is_withdrawn_as_answered_elsewhere() -> None:
    """Ring-all (synthesized): the loser gets DialEnd CANCEL x2 and Hangup 26, no
    AgentRingNoAnswer; its pop is withdrawn once, before the winner's call_answered."""
    assert run(trace("ring-all.txt")) == [
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        offered(
            "1795712101.10",
            "13800138061",
            "Citizen Ring All",
            "9615603",
            "ring",
            "county-ring",
            "PJSIP/1001",
            "2026-11-26T16:55:01.150905+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        offered(
            "1795712101.10",
            "13800138061",
            "Citizen Ring All",
            "9615603",
            "ring",
            "county-ring",
            "PJSIP/1002",
            "2026-11-26T16:55:01.152810+00:00",
        ),
        agent("PJSIP/1002", "ringing"),
        withdrawn("1795712101.10", "PJSIP/1001", "answered_elsewhere"),
        agent("PJSIP/1001", "idle"),
        answered("1795712101.10", "PJSIP/1002", 3),
        agent("PJSIP/1002", "in_call"),
        agent("PJSIP/1002", "idle"),
        ended("1795712101.10", "answered", 3, 5),
    ]


def test_ring_timeout_hunts_to_the_next_agent() -> None:
    """Ring timeout (synthesized): 1001 rings 8 s (AgentRingNoAnswer), 1002 answers."""
    assert run(trace("ring-timeout-hunt.txt")) == [
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        offered(
            "1795712201.20",
            "13800138071",
            "Citizen Hunt",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:56:41.250905+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        withdrawn("1795712201.20", "PJSIP/1001", "ring_timeout"),
        agent("PJSIP/1001", "idle"),
        offered(
            "1795712201.20",
            "13800138071",
            "Citizen Hunt",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1002",
            "2026-11-26T16:56:51.252100+00:00",
        ),
        agent("PJSIP/1002", "ringing"),
        answered("1795712201.20", "PJSIP/1002", 13),
        agent("PJSIP/1002", "in_call"),
        agent("PJSIP/1002", "idle"),
        ended("1795712201.20", "answered", 13, 6),
    ]


def test_ring_timeout_retries_the_same_agent_and_pops_again() -> None:
    """Retry of the same agent (synthesized): a second AgentCalled for 2001 after the
    withdrawal is a new ring, so it pops again (same call, same agent: the PopBook keys it)."""
    assert run(trace("ring-timeout-retry-same.txt")) == [
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        offered(
            "1795712201.20",
            "13900139071",
            "Citizen Hunt",
            "9615602",
            "south",
            "county-south",
            "PJSIP/2001",
            "2026-11-26T16:56:41.250905+00:00",
        ),
        agent("PJSIP/2001", "ringing"),
        withdrawn("1795712201.20", "PJSIP/2001", "ring_timeout"),
        agent("PJSIP/2001", "idle"),
        offered(
            "1795712201.20",
            "13900139071",
            "Citizen Hunt",
            "9615602",
            "south",
            "county-south",
            "PJSIP/2001",
            "2026-11-26T16:56:51.252040+00:00",
        ),
        agent("PJSIP/2001", "ringing"),
        answered("1795712201.20", "PJSIP/2001", 13),
        agent("PJSIP/2001", "in_call"),
        agent("PJSIP/2001", "idle"),
        ended("1795712201.20", "answered", 13, 6),
    ]


def test_caller_hangs_up_while_agent_rings() -> None:
    """The caller's BYE while 1001 rings (synthesized): withdrawn as caller_hangup, abandoned."""
    assert run(trace("caller-hangup-while-ringing.txt")) == [
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        offered(
            "1795712301.30",
            "13800138081",
            "Citizen Impatient",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:58:21.350905+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        withdrawn("1795712301.30", "PJSIP/1001", "caller_hangup"),
        abandoned("1795712301.30", "county-north", 3, 1),
        agent("PJSIP/1001", "idle"),
        ended("1795712301.30", "abandoned", 3, 0),
    ]


def test_blind_transfer_pops_the_new_agent() -> None:
    """Blind transfer 1001 -> 1002 (synthesized): the new leg is a plain Dial with no Agent*
    events; it rings a known queue member, so 1002 gets the pop and the call ends transferred
    (talk = first answer to hangup)."""
    assert run(trace("blind-transfer.txt")) == [
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        offered(
            "1795712401.40",
            "13800138091",
            "Citizen Blind",
            "9615604",
            "xfer",
            "county-xfer",
            "PJSIP/1001",
            "2026-11-26T17:00:01.450905+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        answered("1795712401.40", "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        offered(
            "1795712401.40",
            "13800138091",
            "Citizen Blind",
            "9615604",
            "xfer",
            "county-xfer",
            "PJSIP/1002",
            "2026-11-26T17:00:08.454341+00:00",
        ),
        agent("PJSIP/1002", "ringing"),
        answered("1795712401.40", "PJSIP/1002", 2),
        agent("PJSIP/1002", "in_call"),
        ended("1795712401.40", "transferred", 2, 14),
        agent("PJSIP/1002", "idle"),
    ]


def test_attended_transfer_pops_the_consulted_agent() -> None:
    """Attended transfer 1001 -> 1002 (synthesized): the Local;2 leg dials 1002 under the same
    Linkedid; AttendedTransfer never names 1002, the DialBegin did."""
    assert run(trace("attended-transfer.txt")) == [
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        offered(
            "1795712501.50",
            "13800138091",
            "Citizen Attended",
            "9615604",
            "xfer",
            "county-xfer",
            "PJSIP/1001",
            "2026-11-26T17:01:41.450905+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        answered("1795712501.50", "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        offered(
            "1795712501.50",
            "13800138091",
            "Citizen Attended",
            "9615604",
            "xfer",
            "county-xfer",
            "PJSIP/1002",
            "2026-11-26T17:01:47.455251+00:00",
        ),
        agent("PJSIP/1002", "ringing"),
        answered("1795712501.50", "PJSIP/1002", 2),
        agent("PJSIP/1002", "in_call"),
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/1002", "idle"),
        ended("1795712501.50", "transferred", 2, 16),
    ]


def test_hostile_caller_id_is_unescaped_and_first_header_wins() -> None:
    """AMI-escaped display name (capture2 README) and a UserEvent with smuggled County/DID
    headers: the pop shows the name as agi_calleridname would; the genuine headers win."""
    assert run(trace("hostile-callerid.txt")) == [
        offered(
            "1795711974.5",
            "13800138051",
            'O\'Brien \\"x\\";,\\\\ a\\\\nb',
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:52:54.583501+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        answered("1795711974.5", "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        ended("1795711974.5", "answered", 2, 4),
    ]


def test_streams_without_a_queue_call_give_nothing() -> None:
    """A call that never reached a queue (hangup during the AGI, DID 9615609), security
    events, failed logins: no domain event, no error."""
    for name in (
        "ami-agi-caller-hangup.txt",
        "ami-failed-login-security-events.txt",
        "ami-failed-login.txt",
        "ami-failed-login-unknown-user.txt",
    ):
        assert run(trace(name)) == [], name


def test_restart_kills_a_ringing_call() -> None:
    """(l-killed) ``core restart now`` while 2001 rings: SoftHangupRequest Cause 4 on both
    channels, then AgentRingNoAnswer and QueueCallerAbandon although nobody hung up."""
    assert run(trace("capture2/ami-restart-before.txt")) == [
        offered(
            "1795711889.34",
            "13900139031",
            "Citizen Restart",
            "9615602",
            "south",
            "county-south",
            "PJSIP/2001",
            "2026-11-26T16:51:29.707679+00:00",
        ),
        agent("PJSIP/2001", "ringing"),
        withdrawn("1795711889.34", "PJSIP/2001", "shutdown"),
        abandoned("1795711889.34", "county-south", 2, 1),
        agent("PJSIP/2001", "idle"),
        ended("1795711889.34", "abandoned", 2, 0),
    ]


def test_restart_before_and_after_on_one_tracker() -> None:
    """(l) The listener follows Asterisk through its restart: Uniqueids start over
    (1795711897.0) and channel names are reused (PJSIP/pstn-gw-00000000)."""
    assert run(
        trace("capture2/ami-restart-before.txt"), trace("capture2/ami-restart-after.txt")
    ) == [
        offered(
            "1795711889.34",
            "13900139031",
            "Citizen Restart",
            "9615602",
            "south",
            "county-south",
            "PJSIP/2001",
            "2026-11-26T16:51:29.707679+00:00",
        ),
        agent("PJSIP/2001", "ringing"),
        withdrawn("1795711889.34", "PJSIP/2001", "shutdown"),
        abandoned("1795711889.34", "county-south", 2, 1),
        agent("PJSIP/2001", "idle"),
        ended("1795711889.34", "abandoned", 2, 0),
        offered(
            "1795711897.0",
            "13800138032",
            "Citizen After Restart",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:51:37.303783+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        answered("1795711897.0", "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        ended("1795711897.0", "answered", 2, 4),
    ]


def _ringing_cut() -> tuple[bytes, bytes]:
    """Call l-after cut just after 1001's QueueMemberStatus 6 (its phone rings)."""
    return split_after(
        trace("capture2/ami-restart-after.txt"), is_event("QueueMemberStatus", Status="6")
    )


def test_reconnect_while_ringing_neither_loses_nor_repeats_the_pop() -> None:
    """The connection drops while 1001 rings and comes back; the resync finds the call
    still ringing (same leg): no second call_offered; the rest of the call follows."""
    head, tail = _ringing_cut()
    assert run(head, trace("resync-ringing.txt"), tail) == [
        offered(
            "1795711897.0",
            "13800138032",
            "Citizen After Restart",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:51:37.303783+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        answered("1795711897.0", "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        ended("1795711897.0", "answered", 2, 4),
    ]


def test_connect_while_ringing_pops_from_the_snapshot() -> None:
    """The listener (or the backend) starts while 1001 already rings: no past event is
    replayed, the pop comes from the CoreShowChannels snapshot (DID from Status's DNID,
    county from the queue name, time from the Ping answer)."""
    _, tail = _ringing_cut()
    assert run(trace("resync-ringing.txt"), tail) == [
        agent("PJSIP/1001", "ringing"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        offered(
            "1795711897.0",
            "13800138032",
            "Citizen After Restart",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:51:38.100000+00:00",
        ),
        answered("1795711897.0", "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        ended("1795711897.0", "answered", 2, 4),
    ]


def test_reconnect_after_the_call_was_answered_keeps_the_pop() -> None:
    """Disconnected while 1001 rang; meanwhile 1001 answered. The snapshot shows the leg Up
    in the bridge: call_answered (wait unknown until AgentComplete gives HoldTime)."""
    head, _ = _ringing_cut()
    _, tail = split_after(
        trace("capture2/ami-restart-after.txt"), is_event("BridgeEnter", Uniqueid="1795711897.0")
    )
    assert run(head, trace("resync-answered.txt"), tail) == [
        offered(
            "1795711897.0",
            "13800138032",
            "Citizen After Restart",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:51:37.303783+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        answered("1795711897.0", "PJSIP/1001", None),
        agent("PJSIP/1001", "idle"),
        ended("1795711897.0", "answered", 2, 4),
    ]


def test_reconnect_after_the_call_vanished_withdraws_and_ends_it() -> None:
    """Disconnected while 1001 rang; the call is gone when we are back."""
    head, _ = _ringing_cut()
    assert run(head, trace("resync-empty.txt")) == [
        offered(
            "1795711897.0",
            "13800138032",
            "Citizen After Restart",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:51:37.303783+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        withdrawn("1795711897.0", "PJSIP/1001", "vanished"),
        ended("1795711897.0", "unknown", None, None),
    ]


def test_asterisk_restart_while_disconnected() -> None:
    """We lose the connection while 2001 rings (no hangup, no Shutdown seen); Asterisk
    restarts; the resync finds nothing, then the new process's first call arrives."""
    head, _ = split_after(
        trace("capture2/ami-restart-before.txt"), is_event("QueueMemberStatus", Status="6")
    )
    assert run(
        head, trace("resync-empty.txt"), without_login(trace("capture2/ami-restart-after.txt"))
    ) == [
        offered(
            "1795711889.34",
            "13900139031",
            "Citizen Restart",
            "9615602",
            "south",
            "county-south",
            "PJSIP/2001",
            "2026-11-26T16:51:29.707679+00:00",
        ),
        agent("PJSIP/2001", "ringing"),
        agent("PJSIP/1001", "idle"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        withdrawn("1795711889.34", "PJSIP/2001", "vanished"),
        ended("1795711889.34", "unknown", None, None),
        offered(
            "1795711897.0",
            "13800138032",
            "Citizen After Restart",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:51:37.303783+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        answered("1795711897.0", "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        ended("1795711897.0", "answered", 2, 4),
    ]


def test_reused_uniqueid_closes_the_dead_call_first() -> None:
    """With no resync in between, a Newchannel for a Uniqueid we still hold (Asterisk
    restarted and counts again from .0) means the held one is dead: close it, then track
    the new call. State is keyed by Uniqueid/Linkedid, never by channel name."""
    head, _ = _ringing_cut()
    assert run(head, trace("capture2/ami-restart-after.txt")) == [
        offered(
            "1795711897.0",
            "13800138032",
            "Citizen After Restart",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:51:37.303783+00:00",
        ),
        agent("PJSIP/1001", "ringing"),
        withdrawn("1795711897.0", "PJSIP/1001", "vanished"),
        ended("1795711897.0", "unknown", None, None),
        offered(
            "1795711897.0",
            "13800138032",
            "Citizen After Restart",
            "9615601",
            "north",
            "county-north",
            "PJSIP/1001",
            "2026-11-26T16:51:37.303783+00:00",
        ),
        answered("1795711897.0", "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        ended("1795711897.0", "answered", 2, 4),
    ]


def test_two_nodes_interleaved_keep_separate_state() -> None:
    """The same Uniqueids on two nodes at once (each node counts on its own): interleaving
    their streams message by message gives each node exactly its own events."""
    from cti.ami.replay import messages

    a = list(messages(trace("capture2/ami-restart-after.txt")))
    b = list(messages(trace("ring-all.txt")))
    tracker = CallTracker(clock=lambda: 0.0)
    got: dict[str, list[dict]] = {"node-a": [], "node-b": []}
    for pair in itertools.zip_longest(a, b):
        for node, message in zip(("node-a", "node-b"), pair, strict=True):
            if message is not None:
                for event in tracker.feed(message, node):
                    data = event.to_dict()
                    got[data.pop("node")].append(data)
    assert got["node-a"] == run(trace("capture2/ami-restart-after.txt"))
    assert got["node-b"] == run(trace("ring-all.txt"))
    assert tracker.active_calls("node-a") == tracker.active_calls("node-b") == 0


def test_ring_timeout_signals_in_any_order() -> None:
    """The order of AgentRingNoAnswer, DialEnd NOANSWER and the leg's Hangup was not
    captured for a plain timeout (the restart trace has DialEnd, AgentRingNoAnswer, then the
    Hangup). In every order the pop is withdrawn exactly once, at the first of the three,
    and everything else is unchanged. The reason is ring_timeout unless the bare Hangup
    (Cause 0, no evidence) comes first, which then can only say 'cancelled'."""
    banner, blocks = blocks_of(trace("ring-timeout-hunt.txt"))
    first = next(i for i, b in enumerate(blocks) if b.startswith("Event: AgentRingNoAnswer"))
    trio = blocks[first : first + 3]
    assert [b.split("\r\n", 1)[0] for b in trio] == [
        "Event: AgentRingNoAnswer",
        "Event: DialEnd",
        "Event: Hangup",
    ]
    expected = run(trace("ring-timeout-hunt.txt"))
    timeout = withdrawn("1795712201.20", "PJSIP/1001", "ring_timeout")
    assert expected.count(timeout) == 1
    for order in itertools.permutations(trio):
        data = join(banner, blocks[:first] + list(order) + blocks[first + 3 :])
        reason = "cancelled" if order[0].startswith("Event: Hangup") else "ring_timeout"
        want = [
            withdrawn("1795712201.20", "PJSIP/1001", reason) if e == timeout else e
            for e in expected
        ]
        assert run(data) == want


def test_offer_is_never_repeated_while_ringing() -> None:
    """A duplicated AgentCalled (e.g. the same bytes delivered twice by a replaying proxy)
    does not pop again while the first offer is still open."""
    banner, blocks = blocks_of(trace("capture2/ami-events-call-agent-user.txt"))
    i = next(i for i, b in enumerate(blocks) if b.startswith("Event: AgentCalled"))
    doubled = join(banner, blocks[: i + 1] + [blocks[i]] + blocks[i + 1 :])
    assert run(doubled) == run(trace("capture2/ami-events-call-agent-user.txt"))


def test_snapshot_items_apply_only_at_complete() -> None:
    """CoreShowChannel items are buffered: nothing happens before CoreShowChannelsComplete."""
    tracker = stream_tracker()
    data = trace("resync-ringing.txt")
    banner, blocks = blocks_of(data)
    cut = next(i for i, b in enumerate(blocks) if "CoreShowChannelsComplete" in b)
    before = run(join(banner, blocks[:cut]), tracker=tracker)
    assert [e["type"] for e in before] == ["agent_state"] * 3
    assert tracker.ringing("asterisk") == []
    after = run(join(None, blocks[cut:]), tracker=tracker)
    assert [e["type"] for e in after] == ["call_offered"]
    assert tracker.ringing("asterisk") == [("1795711897.0", "PJSIP/1001")]


def _without(name: str, *events: str) -> bytes:
    banner, blocks = blocks_of(trace(name))
    return join(banner, [b for b in blocks if b.split("\r\n", 1)[0] not in events])


def test_queue_left_without_abandon_is_a_timeout() -> None:
    """Derived from (b): without its QueueCallerAbandon, the caller leaves the queue the
    way Queue() returning on its own (its timeout) looks; the wait is join to leave."""
    data = _without("ami-abandoned.txt", "Event: QueueCallerAbandon")
    assert run(data) == [
        agent("PJSIP/2001", "paused"),
        ended("1795710933.2", "timeout", 8, 0),
        agent("PJSIP/2001", "idle"),
    ]


def test_hotline_call_that_never_reached_the_queue_failed() -> None:
    """Derived from (b): the HotlineCall UserEvent was raised but no queue events follow."""
    data = _without(
        "ami-abandoned.txt",
        "Event: QueueCallerJoin",
        "Event: QueueCallerAbandon",
        "Event: QueueCallerLeave",
    )
    assert run(data) == [
        agent("PJSIP/2001", "paused"),
        ended("1795710933.2", "failed", None, 0),
        agent("PJSIP/2001", "idle"),
    ]


def test_answering_leg_lost_before_agent_connect() -> None:
    """Ring-all where the winner's leg dies between DialEnd ANSWER and AgentConnect: its
    pop is withdrawn as cancelled, not 'answered elsewhere'."""
    banner, blocks = blocks_of(trace("ring-all.txt"))
    answer = next(
        i
        for i, b in enumerate(blocks)
        if b.startswith("Event: DialEnd") and "DialStatus: ANSWER" in b
    )
    hangup = (
        "Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/1002-0000000c\r\n"
        "Uniqueid: 1795712101.12\r\nLinkedid: 1795712101.10\r\nCause: 16"
    )
    data = join(banner, blocks[: answer + 1] + [hangup])
    assert run(data)[-1] == withdrawn("1795712101.10", "PJSIP/1002", "cancelled")

"""What the agents' hub keeps pending for a (re)connecting browser, and when it forgets."""

from cti.web.hub import ANSWERED_MAX_S, RINGING_MAX_S, PendingPops


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pop(interface: str, linkedid: str) -> dict:
    pop_id = f"pbx1:{linkedid}:{interface}"
    return {
        "type": "pop",
        "interface": interface,
        "pop_id": pop_id,
        "pop": {"pop_id": pop_id, "state": "ringing", "linkedid": linkedid},
    }


def test_a_pop_nobody_withdrew_is_forgotten_once_stale():
    # The AMI process died while the phone rang: no withdraw or end ever comes. A browser
    # that reconnects later must not be shown a call that is long gone.
    clock = Clock()
    pending = PendingPops(clock)
    ringing, answered = _pop("PJSIP/1", "1.1"), _pop("PJSIP/1", "2.2")
    pending.apply(ringing)
    pending.apply(answered)
    clock.now += 60
    pending.apply({"type": "answered", "interface": "PJSIP/1", "pop_id": answered["pop_id"]})
    assert [m["pop"]["state"] for m in pending.for_interface("PJSIP/1")] == [
        "ringing",
        "answered",
    ]
    clock.now += RINGING_MAX_S  # the ringing one is stale; the answered call may go on
    assert [m["pop_id"] for m in pending.for_interface("PJSIP/1")] == [answered["pop_id"]]
    assert pending.count() == 1
    clock.now += ANSWERED_MAX_S
    assert pending.for_interface("PJSIP/1") == []
    assert pending.count() == 0


def test_a_repeated_pop_replaces_the_pending_one_and_withdraw_removes_it():
    pending = PendingPops(Clock())
    pop = _pop("PJSIP/2", "3.3")
    pending.apply(pop)
    pending.apply(pop)  # replayed after a reconnect
    assert pending.for_interface("PJSIP/2") == [pop]
    pending.apply({"type": "withdraw", "interface": "PJSIP/2", "pop_id": pop["pop_id"]})
    assert pending.for_interface("PJSIP/2") == [] and pending.count() == 0


def test_only_the_newest_ended_pops_are_held_per_interface():
    # An agent saves tickets without closing the pops: a shift's worth must not pile up.
    from cti.web.hub import MAX_ENDED

    clock = Clock()
    pending = PendingPops(clock)
    ringing = _pop("PJSIP/1", "0.0")
    pending.apply(ringing)
    ended = []
    for n in range(MAX_ENDED + 5):
        clock.now += 1
        pop = _pop("PJSIP/1", f"1.{n}")
        pending.apply(pop)
        pending.apply({"type": "ended", "interface": "PJSIP/1", "pop_id": pop["pop_id"]})
        ended.append(pop["pop_id"])
    pending.apply(_pop("PJSIP/2", "9.9"))
    held = [m["pop_id"] for m in pending.for_interface("PJSIP/1")]
    assert held == [ringing["pop_id"], *ended[-MAX_ENDED:]]  # the ringing one is kept
    assert len(pending.for_interface("PJSIP/2")) == 1  # other agents are not touched
    # Adopting recorded ended pops (an API restart) keeps the cap too.
    clock.now += 1
    late = _pop("PJSIP/1", "2.0")
    late["pop"]["state"] = "ended"
    pending.adopt([late])
    held = [m["pop_id"] for m in pending.for_interface("PJSIP/1")]
    assert held == [ringing["pop_id"], *ended[-MAX_ENDED + 1 :], late["pop_id"]]

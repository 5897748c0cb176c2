"""``Members``: the by-device index gives what a scan of every member gives, in order."""

from __future__ import annotations

import random

import pytest

from cti.wallboard.members import Member, Members


def _scan(members: Members, node: str, interface: str) -> list[tuple[str, Member]]:
    return [(q, m) for (n, i, q), m in members.items() if n == node and i == interface]


@pytest.mark.parametrize("seed", range(20))
def test_the_device_index_follows_every_add_replace_and_removal(seed):
    rng = random.Random(seed)
    members = Members()
    nodes, interfaces, queues = ["a", "b"], [f"PJSIP/{n}" for n in range(6)], ["q1", "q2", "q3"]
    for _ in range(400):
        key = (rng.choice(nodes), rng.choice(interfaces), rng.choice(queues))
        roll = rng.random()
        if roll < 0.55:
            members[key] = Member(name=str(rng.random()))  # add, or replace in place
        elif roll < 0.8:
            members.pop(key, None)
        elif key in members:
            del members[key]
        for node in nodes:
            for interface in interfaces:
                index = list(members.of_device(node, interface).items())
                assert index == _scan(members, node, interface)
        assert set(members.devices()) == {(n, i) for n, i, _q in members}
        assert len(members) == len(list(members))


def test_an_unknown_device_has_no_members():
    members = Members()
    assert members.of_device("a", "PJSIP/1") == {}
    members[("a", "PJSIP/1", "q1")] = Member()
    assert list(members.of_device("a", "PJSIP/1")) == ["q1"]
    assert members.of_device("a", "PJSIP/2") == {}
    assert members.get(("a", "PJSIP/2", "q1")) is None
    with pytest.raises(KeyError):
        del members[("a", "PJSIP/2", "q1")]

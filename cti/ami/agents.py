"""Agent state: folds queue member events into one state per agent interface.

``Status`` in ``QueueMemberStatus``/``Added``/``Pause``/``Removed`` and in the
``QueueMember`` items of ``QueueStatus`` is the device state, the same in every queue
(capture2 m and o show one event per queue the member belongs to); ``Paused`` is per
queue, and an agent is ``paused`` only when paused in every queue they are in (a pause
in one queue still lets the others ring them). ``InCall`` is ignored: it reads 0 for a
busy agent (capture2 README, "Connecting while calls are in progress"). ``QueueMember``
names the interface ``Location`` where the member events say ``Interface``. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cti.ami.events import AgentStateChanged, DomainEvent
from cti.ami.state import Agent, NodeState, QueueSnapshot, header, to_int


def emit(node: NodeState, interface: str, agent: Agent, out: list[DomainEvent]) -> None:
    """Append an ``agent_state`` event if the agent's state changed since the last one."""
    state = agent.state()
    if state != agent.emitted:
        agent.emitted = state
        out.append(AgentStateChanged(node=node.name, agent_interface=interface, state=str(state)))


def _update(node: NodeState, item: Mapping[str, Any]) -> tuple[str, Agent] | None:
    interface = header(item, "Interface") or header(item, "Location")
    queue = header(item, "Queue")
    if not interface or not queue:
        return None
    agent = node.agents.get(interface)
    if agent is None:
        agent = node.agents[interface] = Agent()
    status = to_int(header(item, "Status"))
    if status is not None:
        agent.status = status
    agent.queues[queue] = header(item, "Paused") == "1"
    return interface, agent


def on_member(node: NodeState, event: Mapping[str, Any], out: list[DomainEvent]) -> None:
    """``QueueMemberStatus``, ``QueueMemberAdded``, ``QueueMemberPause``."""
    updated = _update(node, event)
    if updated is not None:
        emit(node, *updated, out)


def on_member_removed(node: NodeState, event: Mapping[str, Any], out: list[DomainEvent]) -> None:
    interface = header(event, "Interface")
    agent = node.agents.get(interface)
    if agent is None:
        return
    agent.queues.pop(header(event, "Queue"), None)
    emit(node, interface, agent, out)
    if not agent.queues:
        del node.agents[interface]


def apply_snapshot(node: NodeState, snapshot: QueueSnapshot, out: list[DomainEvent]) -> None:
    """The members of a ``QueueStatus`` answer, applied at once at its Complete (so an
    agent paused in three queues does not flap through intermediate states). Memberships
    in the listed queues that the answer does not show are gone."""
    queues = set(snapshot.queues)
    touched: dict[str, Agent] = {}
    present: set[tuple[str, str]] = set()
    for item in snapshot.members:
        updated = _update(node, item)
        if updated is not None:
            interface, agent = updated
            present.add((interface, header(item, "Queue")))
            touched.setdefault(interface, agent)
    for interface, agent in list(node.agents.items()):
        for queue in [q for q in agent.queues if q in queues]:
            if (interface, queue) not in present:
                del agent.queues[queue]
        touched.setdefault(interface, agent)
    for interface, agent in touched.items():
        emit(node, interface, agent, out)
        if not agent.queues:
            node.agents.pop(interface, None)

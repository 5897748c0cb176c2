"""Screen-pop latency (issue #4): from the AMI event that makes the tracker offer a call to
an agent (the call's ``AgentCalled`` block) being written to the AMI listener's socket, to
the pop frame arriving at that agent's WebSocket client, with 1,000 agent sockets open
and 50 new calls/s. Target: p99 <= 15 ms.

The real pieces: a fresh Postgres database (migrated, seeded, 1,000 agent users with
their own phone ``PJSIP/<n>``, citizens with phones, past calls and open tickets); the
backend as ``cti serve`` builds it (``create_app`` with roles api+ami: AMI listener ->
tracker -> ``ScreenPopRelay`` -> in-memory bus -> ``AgentHub`` -> ``/ws/agent``) under
uvicorn in its own process; in this process a small AMI server (``tests/integration/ami/
fake_asterisk.py``) that answers the listener's Login and resync, then plays each call
from the captured ``ami-answered-queue-call.txt`` with the capture's own timing (ring,
answer 2 s later, hang up 4 s after that) and only the events the listener's login asks
for, every call with its own Uniqueids/Linkedid/channels, caller and agent; and one
WebSocket client per agent (cookie session, same-origin, permessage-deflate like a
browser). Both timestamps come from this process's ``perf_counter``.

In the same run, for comparison: the same measurement with one socket open (before the
other 999 connect), and the caller lookup alone (``lookup_caller``, in this process,
while the backend is idle).

``--nodes 2``: two fake Asterisks, each its own TCP server replaying the same captured
bytes; the backend's AMI side connects to both (``CTI_AMI_URL`` lists two URLs, each with
its ``?name=``, as for several nodes in production); the agents alternate between the
nodes, so each has half, and the calls alternate with them at the same total rate. A pop
that carries the other node's name counts as "wrong agent".

``--table``: the scaling table (issue 16): 500, 1,000, 2,000 and 5,000 agent sockets at 50
and 100 calls/s, ``--table-seconds`` of calls per row, after the 1-socket baseline at both
rates, with the backend's CPU per call (``/proc/<pid>/stat`` over the calls' whole life,
divided by the calls) and its idle cost with the sockets open.

``--write-docs`` replaces this run's own block in ``docs/performance.md``: 1,000 sockets at
50/s, 2,000 at 100/s (one node, or ``--nodes 2``) and the table each have a section of
their own, so one kind of run never overwrites another's figures.

    .venv/bin/python bench/bench_screenpop.py [--agents N] [--calls N] [--rate R] [--nodes 2]
        [--table [--table-seconds S]] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import docs  # noqa: E402
from cti.heap import own_collection_running  # noqa: E402

TARGET_P99_MS = 10.0
TARGET_MAX_MS = 50.0  # issue 16 (2,000 sockets, 100 calls/s)
ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
AMI_USER, AMI_SECRET, NODE = "hotline", "hotline-secret", "asterisk"
PASSWORD = "bench-password-1"
FIRST_EXTENSION = 10000
#: The capture's own identifiers, rewritten per call.
CAPTURED_CALLER = "13800138000"
CAPTURED_AGENT = "1001"
CAPTURED_IDS = re.compile(r"\b1795710920\.([01])\b")
TIMESTAMP = re.compile(r"^Timestamp: ([0-9.]+)$", re.M)


# --- the backend process ------------------------------------------------------------------


def serve(port: int) -> int:
    """The backend as ``cti serve`` runs it, with the roles api+ami (no AGI server, no
    recording indexer): settings from the ``CTI_*`` environment. With ``CTI_BENCH_PROBE``
    set, the backend's garbage collections and event-loop lag are recorded (``Probe``) and
    written to that file when it stops."""
    import uvicorn

    from cti import logs
    from cti.app import create_app
    from cti.settings import Settings

    settings = Settings(_env_file=None)
    logs.configure("WARNING", json_lines=False)
    assert settings.database_url
    probe_path = os.environ.get("CTI_BENCH_PROBE")
    probe = Probe() if probe_path else None  # before the app: it wraps what the app builds
    app = create_app(settings, settings.database_url, roles={"api", "ami"})
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        ws="websockets-sansio",
    )

    async def run() -> None:
        if probe is not None:
            probe.start()
        try:
            await uvicorn.Server(config).serve()
        finally:
            if probe is not None:
                probe.stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it stopped on
        pass
    finally:
        if probe is not None and probe_path:
            # What the frozen heap hid (cti.heap): the sockets are closed and the app has
            # stopped; collect what is still in view, then unfreeze and collect again --
            # the second finds what froze and then died in a cycle during the run.
            record = probe.record()
            record["exit_collected"] = gc.collect()
            gc.unfreeze()
            record["exit_hidden"] = gc.collect()
            Path(probe_path).write_text(json.dumps(record))
    return 0


class Probe:
    """What stalls the backend's event loop, measured inside it: every garbage collection
    (wall-clock start, generation, duration) through ``gc.callbacks``, and the loop's lag
    (how late a 5 ms sleep wakes up) sampled continuously."""

    TICK_S = 0.005

    def __init__(self) -> None:
        self.collections: list[tuple[float, int, float]] = []
        self.lags: list[tuple[float, float]] = []
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None
        #: pop_id -> {stage: time.time()}: lookup start/end, hub dispatch, frame written.
        self.stages: dict[str, dict[str, float]] = {}
        self.slow_publishes: list[tuple[float, str, float]] = []
        #: When the pop lookups' own pool opened a connection (time.time()).
        self.lookup_connects: list[float] = []
        #: With CTI_BENCH_CENSUS: (when, objects, top types) at each full collection.
        self.census: list[tuple[float, int, list[tuple[str, int]]]] = []
        self._patch()

    def _patch(self) -> None:
        """Wrap the pop path's stages to time them (bench only: the code is unchanged)."""
        from cti.ami import screenpop
        from cti.web import hub

        stages = self.stages
        lookup = screenpop.lookup_caller

        async def timed_lookup(factory: Any, offer: Any, **kw: Any) -> Any:
            key = screenpop.pop_id(offer.node, offer.linkedid, offer.agent_interface)
            stages.setdefault(key, {})["lookup"] = time.time()
            try:
                return await lookup(factory, offer, **kw)
            finally:
                stages[key]["looked_up"] = time.time()

        screenpop.lookup_caller = timed_lookup
        from cti.ami import tracker

        feed = tracker.CallTracker.feed

        def timed_feed(self_: Any, event: Any, node: str = "asterisk") -> Any:
            out = feed(self_, event, node)
            for domain in out:
                if isinstance(domain, screenpop.CallOffered):
                    key = screenpop.pop_id(domain.node, domain.linkedid, domain.agent_interface)
                    stages.setdefault(key, {})["tracked"] = time.time()
            return out

        tracker.CallTracker.feed = timed_feed  # type: ignore[method-assign]
        handle = screenpop.ScreenPop.handle

        async def timed_handle(self_: Any, event: Any) -> None:
            if isinstance(event, screenpop.CallOffered):
                key = screenpop.pop_id(event.node, event.linkedid, event.agent_interface)
                stages.setdefault(key, {})["handled"] = time.time()
            await handle(self_, event)

        screenpop.ScreenPop.handle = timed_handle  # type: ignore[method-assign]
        from cti.ami import relay

        call = relay.ScreenPopRelay.__call__
        slow = self.slow_publishes

        async def timed_call(self_: Any, event: Any) -> None:
            t0 = time.time()
            await call(self_, event)
            t1 = time.time()
            if t1 - t0 > 0.002:
                slow.append((t0, type(event).__name__, (t1 - t0) * 1000))

        relay.ScreenPopRelay.__call__ = timed_call  # type: ignore[method-assign]
        dispatch = hub.AgentHub.dispatch

        def timed_dispatch(self_: Any, message: dict[str, Any]) -> None:
            if message.get("type") == "pop":
                stages.setdefault(message.get("pop_id", ""), {})["hub"] = time.time()
            dispatch(self_, message)

        hub.AgentHub.dispatch = timed_dispatch  # type: ignore[method-assign]
        from sqlalchemy import event

        import cti.app

        own_pool = cti.app.own_pool
        connects = self.lookup_connects

        def counted_pool(*args: Any, **kw: Any) -> Any:
            engine = own_pool(*args, **kw)
            if engine is not None:
                event.listen(engine.sync_engine, "connect", lambda *_: connects.append(time.time()))
            return engine

        cti.app.own_pool = counted_pool  # type: ignore[assignment]

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if own_collection_running():
            return  # the heap's rebase or thaw: not a pause CPython's thresholds caused
        if phase == "start":
            if info["generation"] == 2 and os.environ.get("CTI_BENCH_CENSUS"):
                # Diagnosis only (it lengthens the pause it looks at): what the full
                # collection has to traverse, by type.
                from collections import Counter

                found = gc.get_objects(generation=2)
                kinds = Counter(type(o).__name__ for o in found).most_common(10)
                self.census.append((time.time(), len(found), kinds))
                del found
            self._gc_started = time.perf_counter()
        else:
            ms = (time.perf_counter() - self._gc_started) * 1000
            self.collections.append((time.time() - ms / 1000, info["generation"], ms))

    async def _sample(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.TICK_S)
            late = (time.perf_counter() - before - self.TICK_S) * 1000
            self.lags.append((time.time(), late))

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._sample())

    def stop(self) -> None:
        gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()

    def record(self) -> dict[str, Any]:
        return {
            "collections": self.collections,
            "lags": self.lags,
            "stages": self.stages,
            "slow_publishes": self.slow_publishes,
            "lookup_connects": self.lookup_connects,
            "census": self.census,
        }


def start_backend(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """This script in ``--serve`` mode, in a process of its own (the clients must not share
    the backend's event loop)."""
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every core spent busy (not idle, not waiting for I/O), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


Groups = Callable[[], Awaitable[dict[str, list[int]]]]


class CpuMeter:
    """CPU used during a phase, in cores: the backend, this process (the AMI server and
    the 1,000 clients), the Postgres backends of the bench database, and everything else
    on the machine (other people's work disturbs the figures: it is shown). A process
    that ends during the phase is not counted; one that starts counts from its start."""

    def __init__(self, groups: Groups) -> None:
        self.groups = groups

    async def _read(self) -> tuple[dict[tuple[str, int], float], float]:
        groups = await self.groups()
        per_pid = {(name, pid): cpu_seconds(pid) for name, pids in groups.items() for pid in pids}
        return per_pid, machine_busy_seconds()

    async def start(self) -> None:
        self._start, self._machine = await self._read()
        self._wall = time.perf_counter()

    async def cores(self) -> dict[str, float]:
        end, machine = await self._read()
        wall = time.perf_counter() - self._wall
        used = {name: 0.0 for name, _ in end}
        for key, seconds in end.items():
            used[key[0]] += max(0.0, seconds - self._start.get(key, 0.0)) / wall
        used["machine"] = (machine - self._machine) / wall
        used["others"] = max(0.0, used["machine"] - sum(used[name] for name, _ in end))
        return used


# --- the database -------------------------------------------------------------------------


@dataclass
class Population:
    """What the database holds about callers, and who the agents are."""

    known_numbers: list[str]
    extensions: list[int]
    citizens: int = 0
    phones: int = 0
    past_calls: int = 0
    tickets: int = 0
    open_tickets: int = 0
    tokens: list[str] = field(default_factory=list)


def fresh_number(rng: random.Random) -> str:
    return "139" + "".join(rng.choice("0123456789") for _ in range(8))


async def populate(url: str, agents: int, citizens: int, rng: random.Random) -> Population:
    """Seed the reference data, then bulk-load agents, citizens, their phones, past calls
    and tickets (COPY; one argon2 hash shared by every agent)."""
    import asyncpg

    from cti import accounts
    from cti.bus import libpq_dsn
    from cti.seed import seed
    from cti.store.db import make_engine, make_session_factory
    from cti.store.tickets import STATUS_VALUES

    engine = make_engine(url)
    async with make_session_factory(engine)() as db:
        await seed(db)
        await db.commit()
    await engine.dispose()

    conn = await asyncpg.connect(libpq_dsn(url))
    try:
        county_ids = [r["id"] for r in await conn.fetch("SELECT id FROM counties ORDER BY id")]
        category_ids = [
            r["id"] for r in await conn.fetch("SELECT id FROM service_categories ORDER BY id")
        ]
        password_hash = accounts.hash_password(PASSWORD)
        extensions = [FIRST_EXTENSION + k for k in range(agents)]
        await conn.copy_records_to_table(
            "users",
            columns=["username", "display_name", "password_hash", "role", "county_id"]
            + ["interface", "active"],
            records=[
                (f"agent{ext}", f"Agent {ext}", password_hash, "agent", rng.choice(county_ids))
                + (f"PJSIP/{ext}", True)
                for ext in extensions
            ],
        )
        now = datetime.now(UTC)
        flags = [[], [], [], ["elderly"], ["elderly-alone"], ["hearing"], ["vip"]]
        await conn.copy_records_to_table(
            "citizens",
            columns=["id", "name", "address", "county_id", "notes", "flags"],
            records=[
                (
                    i,
                    f"Citizen {i}",
                    f"{rng.randint(1, 300)} Elm Road, block {rng.randint(1, 40)}",
                    rng.choice(county_ids),
                    "Prefers calls in the morning; hard of hearing." if i % 9 == 0 else None,
                    rng.choice(flags),
                )
                for i in range(1, citizens + 1)
            ],
        )
        phones: list[tuple[int, str, str]] = []
        numbers: set[str] = set()
        for i in range(1, citizens + 1):
            for label in ("mobile", "home")[: 1 + (rng.random() < 0.3)]:
                number = fresh_number(rng)
                numbers.add(number)
                phones.append((i, number, label))
        await conn.copy_records_to_table(
            "citizen_phones", columns=["citizen_id", "number", "label"], records=phones
        )
        known = sorted(numbers)
        calls = []
        for i in range(1, citizens * 5 + 1):
            on_file = rng.random() < 0.85
            number = rng.choice(known) if on_file else fresh_number(rng)
            started = now - timedelta(seconds=rng.randint(3600, 2 * 365 * 86400))
            answered = rng.random() < 0.9
            wait, talk = rng.randint(2, 120), rng.randint(30, 900) if answered else None
            calls.append(
                (NODE, f"1700000000.{i}", f"1700000000.{i}", number, number, "9615601")
                + ("county-north", f"PJSIP/{rng.choice(extensions)}" if answered else None)
                + (started, "answered" if answered else "abandoned", wait, talk, "inbound")
            )
        await conn.copy_records_to_table(
            "calls",
            columns=["node", "linkedid", "uniqueid", "caller_number", "caller_number_raw"]
            + ["did", "queue", "agent_interface", "started_at", "disposition", "wait_s"]
            + ["talk_s", "direction"],
            records=calls,
        )
        tickets = []
        open_count = 0
        for i in range(1, citizens * 3 // 2 + 1):
            status = rng.choice(STATUS_VALUES)
            open_count += status in ("open", "in_progress", "dispatched")
            created = now - timedelta(seconds=rng.randint(3600, 365 * 86400))
            tickets.append(
                (f"T2026-{i:06d}", rng.randint(1, citizens), rng.randint(1, len(calls)))
                + (rng.choice(category_ids), rng.choice(county_ids), status)
                + ("Nanny for twins, weekday mornings; call back before noon. " * 3, created)
            )
        await conn.copy_records_to_table(
            "tickets",
            columns=["number", "citizen_id", "call_id", "category_id", "county_id", "status"]
            + ["description", "created_at"],
            records=tickets,
        )
        for table in ("citizens", "citizen_phones", "calls", "tickets"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
            await conn.execute(f"ANALYZE {table}")
        # Every agent but the first (who logs in through the real form) gets a session
        # row the way cti.web.sessions.open_session writes one: 999 argon2 verifications
        # would take minutes and measure nothing of the pop's path.
        user_ids = {
            r["interface"]: r["id"]
            for r in await conn.fetch("SELECT id, interface FROM users WHERE role = 'agent'")
        }
        tokens = [""] + [secrets.token_urlsafe(32) for _ in extensions[1:]]
        await conn.copy_records_to_table(
            "web_sessions",
            columns=["token_hash", "user_id", "csrf_token", "created_at", "last_seen_at"]
            + ["expires_at"],
            records=[
                (hashlib.sha256(token.encode()).hexdigest(), user_ids[f"PJSIP/{ext}"])
                + (secrets.token_urlsafe(32), now, now, now + timedelta(hours=8))
                for ext, token in zip(extensions[1:], tokens[1:], strict=True)
            ],
        )
    finally:
        await conn.close()
    return Population(
        known_numbers=known,
        extensions=extensions,
        citizens=citizens,
        phones=len(phones),
        past_calls=len(calls),
        tickets=len(tickets),
        open_tickets=open_count,
        tokens=tokens,
    )


# --- the calls ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    offset: float  # seconds after the call's first event
    text: str
    agent_called: bool


def call_template() -> list[Block]:
    """The captured answered call, as Asterisk sends it to our login (``Events:
    call,agent,user,system``: dialplan, agi and reporting events are not sent)."""
    from cti.ami.connection import LOGIN_EVENTS
    from cti.ami.protocol import parse_message
    from tests.unit.ami.support import blocks_of, trace, without_login

    classes = set(LOGIN_EVENTS.split(","))
    _, blocks = blocks_of(without_login(trace("ami-answered-queue-call.txt")))
    kept = []
    for block in blocks:
        message = parse_message(block)
        if not classes & set(message.get("Privilege", "").split(",")):
            continue
        kept.append((float(message["Timestamp"]), block, message.get("Event") == "AgentCalled"))
    assert sum(called for _, _, called in kept) == 1, "one AgentCalled per call"
    first = kept[0][0]
    return [Block(ts - first, text, called) for ts, text, called in kept]


@dataclass
class Call:
    index: int
    linkedid: str
    interface: str
    number: str
    known: bool
    #: Which fake Asterisk plays it (``--nodes``): the one its agent is on.
    node: int = 0
    sent_at: float | None = None  # perf_counter when its AgentCalled block was written
    sent_wall: float | None = None  # the same moment, time.time()


def render_call(template: list[Block], call: Call, ext: int, start_epoch: float) -> list[str]:
    """One call's blocks with its own ids, channels, caller, agent and wall-clock
    Timestamps (the capture's timing, shifted to ``start_epoch``)."""
    i = call.index
    ids = {"0": call.linkedid, "1": f"{call.linkedid.split('.')[0]}.{2 * i + 1}"}
    replacements = [
        ("PJSIP/pstn-gw-00000000", f"PJSIP/pstn-gw-{2 * i:08x}"),
        (f"PJSIP/{CAPTURED_AGENT}-00000001", f"PJSIP/{ext}-{2 * i + 1:08x}"),
        (f"PJSIP/{CAPTURED_AGENT}", f"PJSIP/{ext}"),
        (f"Agent {CAPTURED_AGENT}", f"Agent {ext}"),
        (f": {CAPTURED_AGENT}\r", f": {ext}\r"),
        (CAPTURED_CALLER, call.number),
    ]
    out = []
    for block in template:
        text = block.text + "\r\n\r\n"
        for old, new in replacements:
            text = text.replace(old, new)
        text = CAPTURED_IDS.sub(lambda m: ids[m[1]], text)
        text = TIMESTAMP.sub(f"Timestamp: {start_epoch + block.offset:.6f}", text, count=1)
        out.append(text)
    return out


def node_name(k: int) -> str:
    """The name of fake Asterisk ``k`` (``?name=`` in its AMI URL; the pops carry it)."""
    return NODE if k == 0 else f"{NODE}{k + 1}"


def node_of(ext: int, nodes: int) -> int:
    """Which node agent ``ext`` is on: the agents alternate, so each node has half."""
    return (ext - FIRST_EXTENSION) % nodes


def plan_calls(
    first: int,
    count: int,
    extensions: list[int],
    pop: Population,
    rng: random.Random,
    nodes: int = 1,
) -> list[Call]:
    """Calls ``first..first+count-1``, round-robin over ``extensions``, each played by its
    agent's node; 70% of the callers are on file (citizen phones), the others call for
    the first time."""
    calls = []
    for i in range(first, first + count):
        ext = extensions[(i - first) % len(extensions)]
        known = rng.random() < 0.7
        number = rng.choice(pop.known_numbers) if known else fresh_number(rng)
        call = Call(i, f"1795800000.{2 * i}", f"PJSIP/{ext}", number, known)
        call.node = node_of(ext, nodes)
        calls.append(call)
    return calls


async def play_calls(
    sessions: list[Any], template: list[Block], calls: list[Call], rate: float
) -> None:
    """Write every call's blocks at its time (call ``k`` starts at ``k / rate`` s, whatever
    node plays it: the total rate is ``rate``) to its node's session; the ``AgentCalled``
    block's write time is the call's ``sent_at``."""
    lead = 0.3
    start_epoch = time.time() + lead
    schedule: list[tuple[float, int, str, Call, bool]] = []
    for k, call in enumerate(calls):
        begins = k / rate
        ext = int(call.interface.split("/")[1])
        texts = render_call(template, call, ext, start_epoch + begins)
        for seq, (block, text) in enumerate(zip(template, texts, strict=True)):
            schedule.append((begins + block.offset, seq, text, call, block.agent_called))
    schedule.sort(key=lambda item: (item[0], item[1]))
    start = time.perf_counter() + max(0.0, start_epoch - time.time())
    writers = [session.writer for session in sessions]
    i, n = 0, len(schedule)
    while i < n:
        now = time.perf_counter() - start
        due = schedule[i][0]
        if due > now:
            await asyncio.sleep(due - now)
            continue
        batches: dict[int, list[str]] = {}
        called: dict[int, list[Call]] = {}
        while i < n and schedule[i][0] <= now:
            _, _, text, call, agent_called = schedule[i]
            batches.setdefault(call.node, []).append(text)
            if agent_called:
                called.setdefault(call.node, []).append(call)
            i += 1
        for node, batch in batches.items():
            sent = time.perf_counter()
            writers[node].write("".join(batch).encode())
            wall = time.time()
            for call in called.get(node, ()):
                call.sent_at = sent
                call.sent_wall = wall
        await asyncio.gather(*(writers[node].drain() for node in batches))


# --- the agents' sockets ------------------------------------------------------------------


class Agents:
    """One WebSocket client per agent; every frame is timestamped on arrival."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.sockets: dict[str, Any] = {}
        self.tasks: list[asyncio.Task[None]] = []
        #: (arrival perf_counter, socket's interface, message) of every ``pop`` frame.
        self.pops: list[tuple[float, str, dict[str, Any]]] = []
        self.other_frames = 0
        self.changed = asyncio.Event()

    async def connect(self, interface: str, token: str) -> None:
        from websockets.asyncio.client import connect

        from cti.web.sessions import COOKIE_NAME

        ws = await connect(
            self.base.replace("http", "ws", 1) + "/ws/agent",
            additional_headers={"Cookie": f"{COOKIE_NAME}={token}"},
            origin=self.base,
            proxy=None,
            open_timeout=60,
            ping_interval=None,  # a browser does not ping; the server does
        )
        hello = json.loads(await ws.recv())
        assert hello == {"type": "hello", "interface": interface, "pop_ids": []}, hello
        self.sockets[interface] = ws
        self.tasks.append(asyncio.create_task(self._listen(ws, interface)))

    async def _listen(self, ws: Any, interface: str) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                arrived = time.perf_counter()
                message = json.loads(raw)
                if message.get("type") == "pop":
                    self.pops.append((arrived, interface, message))
                    self.changed.set()
                else:
                    self.other_frames += 1

    async def connect_all(self, pairs: list[tuple[str, str]], parallel: int = 50) -> None:
        gate = asyncio.Semaphore(parallel)

        async def one(interface: str, token: str) -> None:
            async with gate:
                await self.connect(interface, token)

        await asyncio.gather(*(one(i, t) for i, t in pairs))

    async def wait_for_pops(self, count: int, within: float) -> None:
        deadline = time.perf_counter() + within
        while len(self.pops) < count and time.perf_counter() < deadline:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), deadline - time.perf_counter())

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets.values()), return_exceptions=True)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def real_login(base: str, username: str) -> str:
    """Log in through the form (double-submit CSRF cookie), as a browser does."""
    import httpx

    from cti.web.sessions import COOKIE_NAME

    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text[:200]
        response = await client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token[1]},
        )
        assert response.status_code == 303, response.status_code
        return client.cookies[COOKIE_NAME]


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Result:
    calls: int
    sockets: int
    latencies_ms: list[float]
    lost: int
    wrong: int
    duplicates: int
    lookup_failed: int
    known_with_history: int
    known: int
    cpu: dict[str, float]  # cores used during the calls: backend, bench, postgres, others
    #: Seconds from the first ring to the last hang-up and the last pop read, and the
    #: cores used over them (``cpu`` is while the calls play).
    played_s: float = 0.0
    spent: dict[str, float] = field(default_factory=dict)
    #: (seconds since the first call, latency ms, caller on file) per pop, for --dump.
    samples: list[tuple[float, float, bool]] = field(default_factory=list)
    #: Full (generation 2) garbage collections in the bench process during the calls, ms.
    bench_gc_pauses_ms: list[float] = field(default_factory=list)
    #: Wall-clock (time.time) start and end of the calls, to cut the backend's probe.
    window: tuple[float, float] = (0.0, 0.0)
    #: What the backend's probe saw in ``window`` (``probe_summary``), once it stopped.
    probe: dict[str, Any] = field(default_factory=dict)
    #: (pop_id, AgentCalled written, pop frame read) per pop, time.time().
    timeline: list[tuple[str, float, float]] = field(default_factory=list)

    def cpu_ms_per_call(self, group: str = "backend", idle_cores: float = 0.0) -> float:
        """CPU milliseconds ``group`` spent per call, over the calls' whole life; less
        ``idle_cores`` (what it uses with no calls) for the calls' own share."""
        return (self.spent[group] - idle_cores) * self.played_s * 1000 / max(1, self.calls)

    def quantile(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, max(0, round(q * len(data)) - 1))]


async def run_phase(
    sessions: list[Any],
    agents: Agents,
    template: list[Block],
    calls: list[Call],
    rate: float,
    groups: Groups,
) -> Result:
    first_pop = len(agents.pops)
    meter = CpuMeter(groups)
    # The bench process holds the population it loaded and 1,000 client sockets: a full
    # collection of that heap pauses it for ~0.2 s, and a paused client reads its frames
    # late (measured: one such pause put 3% of the pops at 0.1-0.5 s). It keeps its heap
    # as the backend does (cti.heap: frozen now, and what each full collection keeps), so
    # collections during the calls only scan what the calls create, and records the ones
    # that still happen, so the figure says whether the harness got in the way.
    async with _full_collections() as pauses:
        await meter.start()
        window_start = time.time()
        played = time.perf_counter()
        await play_calls(sessions, template, calls, rate)
    cpu = await meter.cores()
    await agents.wait_for_pops(first_pop + len(calls), within=10.0)
    # What these calls cost: from the first ring to the last hang-up written and the last
    # pop read (a backend that fell behind is still working when the hang-ups are written).
    spent = await meter.cores()
    played = time.perf_counter() - played
    window = (window_start, time.time())
    await asyncio.sleep(0.5)  # anything late or duplicated still counts
    by_linkedid = {call.linkedid: call for call in calls}
    latencies, seen, samples = [], set(), []
    timeline: list[tuple[str, float, float]] = []
    first_sent = min(call.sent_at or 0.0 for call in calls)
    wrong = duplicates = failed = with_history = 0
    for arrived, interface, message in agents.pops[first_pop:]:
        pop = message["pop"]
        call = by_linkedid.get(pop.get("linkedid"))
        if (
            call is None
            or interface != call.interface
            or pop.get("agent_interface") != interface
            or message.get("interface") != interface
            or pop.get("node") != node_name(call.node)
        ):
            wrong += 1
            continue
        if call.linkedid in seen:
            duplicates += 1
            continue
        seen.add(call.linkedid)
        assert call.sent_at is not None
        latencies.append((arrived - call.sent_at) * 1000)
        assert call.sent_wall is not None
        read_wall = call.sent_wall + arrived - call.sent_at
        timeline.append((message["pop_id"], call.sent_wall, read_wall))
        samples.append((call.sent_at - first_sent, latencies[-1], call.known))
        failed += bool(pop.get("lookup_failed"))
        if call.known and pop.get("known") and pop.get("citizens"):
            with_history += 1
    return Result(
        calls=len(calls),
        sockets=len(agents.sockets),
        latencies_ms=latencies,
        lost=len(calls) - len(seen),
        wrong=wrong,
        duplicates=duplicates,
        lookup_failed=failed,
        known_with_history=with_history,
        known=sum(call.known for call in calls),
        cpu=cpu,
        played_s=played,
        spent=spent,
        samples=samples,
        bench_gc_pauses_ms=pauses,
        window=window,
        timeline=timeline,
    )


#: The pop's path cut at the probe's stages: AMI bytes written -> lookup starts (socket,
#: parser, tracker, publish queue) -> lookup ends (pool + Postgres) -> hub dispatch
#: (build_pop, bus) -> frame read by the client (hub queue, WebSocket write, client).
STAGES = (("read", None, "tracked"), ("queue", "tracked", "handled"))
STAGES += (("task", "handled", "lookup"), ("lookup", "lookup", "looked_up"))
STAGES += (("bus", "looked_up", "hub"), ("ws", "hub", None))


def probe_summary(record: dict[str, Any], result: Result) -> dict[str, Any]:
    """The backend's collections and loop lag during ``result``'s calls: count and longest
    pause per generation, the lag's quantiles and how often it passed 10 and 50 ms; and
    each stage's p99 and max over its pops."""
    start, end = result.window
    out: dict[str, Any] = {}
    per_stage: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    for key, sent, arrived in result.timeline:
        marks = record["stages"].get(key)
        if not marks or not all(
            m in marks for m in ("tracked", "handled", "lookup", "looked_up", "hub")
        ):
            continue
        for name, a, b in STAGES:
            t0 = sent if a is None else marks[a]
            t1 = arrived if b is None else marks[b]
            per_stage[name].append((t1 - t0) * 1000)
    out["stages"] = {
        name: (quantile(values, 0.5), quantile(values, 0.99), max(values, default=0.0))
        for name, values in per_stage.items()
    }
    out["lookup_connects"] = sum(start <= at <= end for at in record.get("lookup_connects", ()))
    for generation in (0, 1, 2):
        pauses = [
            ms for at, gen, ms in record["collections"] if gen == generation and start <= at <= end
        ]
        out[f"gc{generation}"] = (len(pauses), max(pauses, default=0.0), sum(pauses))
    lags = sorted(ms for at, ms in record["lags"] if start <= at <= end)
    if lags:
        out["lag"] = {
            "p50": lags[len(lags) // 2],
            "p99": lags[min(len(lags) - 1, round(0.99 * len(lags)) - 1)],
            "max": lags[-1],
            "over10": sum(ms > 10 for ms in lags),
            "over50": sum(ms > 50 for ms in lags),
            "samples": len(lags),
        }
    return out


def probe_line(result: Result) -> str:
    probe = result.probe
    if not probe:
        return "backend probe: none"
    gcs = ", ".join(
        f"gen{g} {probe[f'gc{g}'][0]} (max {probe[f'gc{g}'][1]:.1f} ms)" for g in (0, 1, 2)
    )
    lag = probe.get("lag")
    lag_text = (
        f"loop lag p50 {lag['p50']:.1f} / p99 {lag['p99']:.1f} / max {lag['max']:.1f} ms, "
        f"{lag['over10']} of {lag['samples']} ticks > 10 ms, {lag['over50']} > 50 ms"
        if lag
        else "no lag samples"
    )
    stages = "; ".join(
        f"{name} p50 {a:.1f} / p99 {b:.1f} / max {c:.1f}"
        for name, (a, b, c) in probe.get("stages", {}).items()
    )
    return (
        f"backend during the calls: collections {gcs}; {lag_text}; lookup pool connections "
        f"opened {probe.get('lookup_connects', 0)}\n  stages (ms): {stages}"
    )


def hidden_line(record: dict[str, Any] | None) -> str:
    """What the backend's frozen heap kept from the collector over the whole run."""
    if not record or "exit_hidden" not in record:
        return "backend at exit: not measured"
    return (
        f"backend at exit, all sockets closed: a full collection of the frozen heap freed "
        f"{record['exit_hidden']:,} objects (froze, then died in a cycle: what "
        f"CTI_GC_THAW_HOURS gives back); {record['exit_collected']:,} were in view"
    )


def quantile(values: list[float], q: float) -> float:
    data = sorted(values)
    if not data:
        return float("nan")
    return data[min(len(data) - 1, max(0, round(q * len(data)) - 1))]


@contextlib.asynccontextmanager
async def _full_collections() -> Any:
    """Durations (ms) of the generation-2 collections of this process inside the block,
    whose heap is kept as the backend's is (``cti.heap.Heap``, never thawed)."""
    from cti.heap import Heap

    pauses: list[float] = []
    started: list[float] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2 or own_collection_running():
            return  # the heap's rebase: not one of the full collections counted here
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses.append((time.perf_counter() - started.pop()) * 1000)

    heap = Heap(thaw_every_s=None)
    await heap.start()
    gc.callbacks.insert(0, watch)  # before the heap's own: it times the pause, not the freeze
    try:
        yield pauses
    finally:
        gc.callbacks.remove(watch)
        await heap.stop()


async def lookup_alone(url: str, calls: list[Call], pre_ping: bool = False) -> list[float]:
    """``lookup_caller`` + ``build_pop`` for the same callers, one after the other, in
    this process (pooled engine made like the backend's lookup pool: no ping before each
    use; ``pre_ping`` for the comparison with the ping), in ms."""
    from cti.ami.events import CallOffered
    from cti.ami.screenpop import Pop, build_pop, lookup_caller, pop_id
    from cti.store.db import make_engine, make_session_factory

    engine = make_engine(url, pool_pre_ping=pre_ping)
    factory = make_session_factory(engine)
    times = []
    try:
        for call in calls:
            offer = CallOffered(
                node=NODE,
                linkedid=call.linkedid,
                uniqueid=call.linkedid,
                caller_number=call.number,
                caller_name="Citizen North",
                did="9615601",
                county="north",
                queue="county-north",
                agent_interface=call.interface,
                at=datetime.now(UTC),
            )
            started = time.perf_counter()
            lookup = await lookup_caller(factory, offer)
            build_pop(Pop(pop_id(NODE, call.linkedid, call.interface), offer), lookup)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        await engine.dispose()
    return times


def cores(result: Result) -> str:
    cpu = result.cpu
    return (
        f"backend {cpu['backend']:.2f}, Postgres {cpu['postgres']:.2f}, "
        f"AMI server + clients {cpu['bench']:.2f}, other processes {cpu['others']:.2f}"
    )


def summary(result: Result) -> str:
    q = result.quantile
    gc_note = (
        f"; bench-side full GCs {len(result.bench_gc_pauses_ms)}"
        f" (max {max(result.bench_gc_pauses_ms):.0f} ms)"
        if result.bench_gc_pauses_ms
        else ""
    )
    return (
        f"p50 {q(0.50):.1f} ms, p95 {q(0.95):.1f} ms, p99 {q(0.99):.1f} ms, "
        f"max {max(result.latencies_ms, default=float('nan')):.1f} ms{gc_note}"
    )


# --- the run --------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> tuple[list[str], bool, dict[str, Result]]:
    from tests.databases import throwaway_database

    async with throwaway_database(ADMIN_URL, "cti_bench_pop") as url:
        if args.table:
            return await table(args, url)
        return await standard(args, url)


@dataclass
class Rig:
    """The running bench: database, fake Asterisk sessions, the backend, the agents'
    sockets. ``record`` is the backend's probe record, once the rig has stopped."""

    args: argparse.Namespace
    population: Population
    template: list[Block]
    sessions: list[Any]
    agents: Agents
    groups: Groups
    rng: random.Random
    url: str
    load_before: str
    record: dict[str, Any] | None = None
    next_call: int = 0

    def plan(self, count: int, extensions: list[int]) -> list[Call]:
        calls = plan_calls(
            self.next_call, count, extensions, self.population, self.rng, len(self.sessions)
        )
        self.next_call += count
        return calls

    async def phase(self, calls: list[Call], rate: float) -> Result:
        return await run_phase(self.sessions, self.agents, self.template, calls, rate, self.groups)

    async def connect(self, upto: int) -> float:
        """Open agent sockets until the first ``upto`` agents have one; seconds taken."""
        pop = self.population
        have = len(self.agents.sockets)
        started = time.perf_counter()
        await self.agents.connect_all(
            [
                (f"PJSIP/{ext}", token)
                for ext, token in zip(pop.extensions[have:upto], pop.tokens[have:upto], strict=True)
            ]
        )
        return time.perf_counter() - started

    async def idle_cores(self, seconds: float) -> dict[str, float]:
        """Cores used with the sockets open and no calls (keep-alive pings and the like)."""
        meter = CpuMeter(self.groups)
        await meter.start()
        await asyncio.sleep(seconds)
        return await meter.cores()


@contextlib.asynccontextmanager
async def running(args: argparse.Namespace, url: str) -> Any:
    """Populate ``url``, start ``args.nodes`` fake Asterisks and the backend (its AMI side
    connected to every one, as to several nodes in production: ``CTI_AMI_URL`` lists them,
    each with its ``?name=``), log the first agent in, connect its socket and warm up."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from cti.store.db import make_engine
    from tests.integration.ami.fake_asterisk import FakeAsterisk
    from tests.unit.ami.support import trace

    rng = random.Random(args.seed)
    load_before = f"{os.getloadavg()[0]:.2f}"
    name = make_url(url).database
    # For pg_stat_activity (which backends are the measured database's), from outside it.
    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=False)
    data_dir = Path(tempfile.mkdtemp(prefix="cti-bench-pop-"))
    server: subprocess.Popen[bytes] | None = None
    asterisks = [FakeAsterisk() for _ in range(args.nodes)]
    agents: Agents | None = None
    rig: Rig | None = None
    try:
        population = await populate(url, args.agents, args.citizens, rng)
        template = call_template()
        for asterisk in asterisks:
            await asterisk.start()
        port = free_port()
        ami_urls = ",".join(
            f"ami://{AMI_USER}:{AMI_SECRET}@127.0.0.1:{asterisk.port}?name={node_name(k)}"
            for k, asterisk in enumerate(asterisks)
        )
        env = {
            **os.environ,
            "CTI_DATABASE_URL": url,
            "CTI_AMI_URL": ami_urls,
            "CTI_DATA_DIR": str(data_dir),
            "CTI_BENCH_PROBE": str(data_dir / "probe.json"),
        }
        server = start_backend(port, env, data_dir / "server.log")
        sessions = []
        for asterisk in asterisks:
            session = await asterisk.next_session(wait=60)
            assert await session.login(AMI_USER, AMI_SECRET)
            session.serve_actions(trace("resync-empty.txt"))
            sessions.append(session)
        for session in sessions:
            await asyncio.wait_for(session.resynced.wait(), 30)
        base = f"http://127.0.0.1:{port}"
        await wait_for_port(port)

        first = population.extensions[0]
        population.tokens[0] = await real_login(base, f"agent{first}")
        agents = Agents(base)
        await agents.connect(f"PJSIP/{first}", population.tokens[0])

        async def groups() -> dict[str, list[int]]:
            async with admin.connect() as conn:
                rows = await conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                )
                postgres = [row[0] for row in rows]
            assert server is not None
            return {"backend": [server.pid], "bench": [os.getpid()], "postgres": postgres}

        rig = Rig(args, population, template, sessions, agents, groups, rng, url, load_before)
        # Warm-up (not counted): connection pool, first queries, code paths.
        await rig.phase(rig.plan(max(20, int(args.rate)), [first]), args.rate)
        yield rig
    finally:
        if agents is not None:
            await agents.close()
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
        probe_file = data_dir / "probe.json"
        if probe_file.exists() and rig is not None:
            rig.record = json.loads(probe_file.read_text())
        for asterisk in asterisks:
            await asterisk.stop()
        await admin.dispose()
        if sys.exc_info()[0] is not None or (
            server is not None and server.returncode not in (0, -signal.SIGINT)
        ):
            print((data_dir / "server.log").read_text()[-5000:], file=sys.stderr)
        if args.server_log:
            shutil.copyfile(data_dir / "server.log", args.server_log)
        shutil.rmtree(data_dir, ignore_errors=True)


def add_probes(rig: Rig, *results: Result) -> None:
    if rig.record is not None:
        for result in results:
            result.probe = probe_summary(rig.record, result)


def verdict(result: Result) -> bool:
    return (
        result.quantile(0.99) <= TARGET_P99_MS
        and max(result.latencies_ms, default=float("inf")) <= TARGET_MAX_MS
        and result.lost == 0
        and result.wrong == 0
        and result.duplicates == 0
        and result.lookup_failed == 0
    )


def machine_line(rig: Rig) -> str:
    nodes = (
        f"AMI side connected to {rig.args.nodes} fake Asterisks ({rig.args.nodes} nodes)"
        if rig.args.nodes > 1
        else "one AMI node"
    )
    return (
        f"machine: {os.cpu_count()} cores (shared), load average {rig.load_before} before, "
        f"{os.getloadavg()[0]:.2f} after; Postgres 127.0.0.1; backend: uvicorn, roles api+ami, "
        f"one process, Postgres bus, {nodes}"
    )


def data_line(population: Population) -> str:
    return (
        f"data: {population.citizens:,} citizens, {population.phones:,} phones, "
        f"{population.past_calls:,} past calls, {population.tickets:,} tickets "
        f"({population.open_tickets:,} open); 70% of callers on file"
    )


async def standard(args: argparse.Namespace, url: str) -> tuple[list[str], bool, dict[str, Result]]:
    """``args.agents`` sockets at ``args.rate``, with the 1-socket baseline first."""
    async with running(args, url) as rig:
        population = rig.population
        first = population.extensions[0]
        single = await rig.phase(rig.plan(args.baseline_calls, [first]), args.rate)
        await asyncio.sleep(7)  # the baseline's calls hang up
        connect_s = await rig.connect(args.agents)
        main_calls = rig.plan(args.calls, population.extensions)
        async with profiled(args.profile, rig):
            main = await rig.phase(main_calls, args.rate)
        await asyncio.sleep(7)
        sample = rng_sample(rig.rng, main_calls, 300)
        lookups = await lookup_alone(url, sample)
        pinged = sorted(await lookup_alone(url, sample, pre_ping=True))
    add_probes(rig, single, main)
    for at, objects, kinds in (rig.record or {}).get("census", []):
        print(f"backend full collection at {at:.1f}: {objects:,} objects, {kinds}", file=sys.stderr)
    if args.dump and rig.record is not None:
        args.dump.with_suffix(".probe.json").write_text(
            json.dumps({**rig.record, "timeline": main.timeline})
        )
    ok = verdict(main)
    per_node = (
        " (half the agents on each node, calls alternating between them)" if args.nodes > 1 else ""
    )
    lookups.sort()
    lines = [
        machine_line(rig),
        data_line(population),
        f"{main.sockets:,} agent WebSockets open (connected in {connect_s:.1f} s), "
        f"{main.calls:,} calls at {args.rate:g}/s in all, each ringing one agent{per_node}",
        f"pops received {len(main.latencies_ms):,}, lost {main.lost}, wrong agent {main.wrong}, "
        f"duplicates {main.duplicates}, lookup failures {main.lookup_failed}; "
        f"callers on file shown with their record {main.known_with_history}/{main.known}",
        f"AgentCalled -> pop frame: {summary(main)}  "
        f"(target p99 <= {TARGET_P99_MS:g} ms, max <= {TARGET_MAX_MS:g} ms: "
        f"{'meets' if ok else 'MISSES'})",
        "CPU during the calls, in cores: "
        + cores(main)
        + f"; backend {main.cpu_ms_per_call():.2f} ms CPU per call",
        probe_line(main),
        f"baseline, 1 socket open, {single.calls} calls at {args.rate:g}/s: {summary(single)}"
        f"  (lost {single.lost}, wrong {single.wrong}; cores: {cores(single)})",
        "baseline " + probe_line(single),
        hidden_line(rig.record),
        f"caller lookup + build_pop alone, sequential, idle backend: "
        f"p50 {statistics.median(lookups):.1f} ms, "
        f"p99 {lookups[min(len(lookups) - 1, round(0.99 * len(lookups)) - 1)]:.1f} ms; "
        f"with a ping before each (pool_pre_ping): p50 {statistics.median(pinged):.1f} ms, "
        f"p99 {pinged[min(len(pinged) - 1, round(0.99 * len(pinged)) - 1)]:.1f} ms",
    ]
    return lines, ok, {"main": main, "one_socket": single}


#: ``--profile``'s sampler, from the same environment (``pip install -e ".[dev]"``).
PY_SPY = Path(sys.executable).with_name("py-spy")


@contextlib.asynccontextmanager
async def profiled(path: Path | None, rig: Rig) -> Any:
    """With ``--profile``: py-spy samples the backend while the measured calls play
    (collapsed stacks, ``--format raw``: one line per stack with its sample count)."""
    if path is None:
        yield
        return
    (pid,) = (await rig.groups())["backend"]
    spy = await asyncio.create_subprocess_exec(
        str(PY_SPY),
        *("record", "--pid", str(pid), "--rate", "250", "--format", "raw"),
        *("--output", str(path), "--nonblocking"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        await spy.wait()


def rng_sample(rng: random.Random, calls: list[Call], most: int) -> list[Call]:
    return rng.sample(calls, min(most, len(calls)))


#: The scaling table (issue 16): agent sockets x new calls per second.
TABLE_SIZES = (500, 1000, 2000, 5000)
TABLE_RATES = (50.0, 100.0)
IDLE_S = 5.0


@dataclass
class Row:
    label: str
    rate: float
    result: Result
    idle: dict[str, float]
    load: float


def progress(row: Row) -> None:
    """A row as it is measured, on stderr (stdout holds the final figures only)."""
    r = row.result
    print(
        f"{row.label} sockets, {row.rate:g} calls/s: p99 {r.quantile(0.99):.1f} ms, "
        f"lost {r.lost}, backend {r.cpu['backend']:.2f} cores, load {row.load:.2f}",
        file=sys.stderr,
        flush=True,
    )


def table_lines(rows: list[Row]) -> list[str]:
    """The scaling table as fixed-width text (pure: figures in, lines out)."""
    head = (
        f"{'sockets':>8} {'calls/s':>7} {'calls':>6} {'p50':>7} {'p95':>7} {'p99':>8} "
        f"{'max':>8} {'lost/wrong/dup':>14} {'backend':>7} {'ms CPU':>6} {'net ms':>6} "
        f"{'PG ms':>6} {'idle':>5} {'lookup':>7} {'lag':>6} {'gen2':>6} {'others':>6} "
        f"{'load':>5}"
    )
    units = (
        f"{'':>8} {'':>7} {'':>6} {'ms':>7} {'ms':>7} {'ms':>8} {'ms':>8} {'':>14} "
        f"{'cores':>7} {'/call':>6} {'/call':>6} {'/call':>6} {'cores':>5} {'p99 ms':>7} "
        f"{'max':>6} {'max ms':>6} {'cores':>6} {'1-min':>5}"
    )
    out = [head, units]
    for row in rows:
        r = row.result
        stages = r.probe.get("stages", {})
        lookup = stages.get("lookup", (float("nan"),) * 3)[1]
        lag = r.probe.get("lag", {}).get("max", float("nan"))
        gen2 = r.probe.get("gc2", (0, float("nan"), 0.0))[1]
        out.append(
            f"{row.label:>8} {row.rate:>7g} {r.calls:>6} {r.quantile(0.5):>7.1f} "
            f"{r.quantile(0.95):>7.1f} {r.quantile(0.99):>8.1f} "
            f"{max(r.latencies_ms, default=float('nan')):>8.1f} "
            f"{f'{r.lost}/{r.wrong}/{r.duplicates}':>14} {r.cpu['backend']:>7.2f} "
            f"{r.cpu_ms_per_call():>6.2f} "
            f"{r.cpu_ms_per_call(idle_cores=row.idle.get('backend', 0.0)):>6.2f} "
            f"{r.cpu_ms_per_call('postgres'):>6.2f} "
            f"{row.idle.get('backend', float('nan')):>5.2f} {lookup:>7.1f} {lag:>6.1f} "
            f"{gen2:>6.1f} "
            f"{r.cpu['others']:>6.2f} {row.load:>5.2f}"
        )
    return out


async def table(args: argparse.Namespace, url: str) -> tuple[list[str], bool, dict[str, Result]]:
    """Every size of ``TABLE_SIZES`` at every rate of ``TABLE_RATES`` for
    ``args.table_seconds`` of calls each, after the 1-socket baseline at each rate."""
    rows: list[Row] = []
    started = time.perf_counter()
    stopped = ""
    async with running(args, url) as rig:
        population = rig.population
        first = population.extensions[0]
        plan: list[tuple[str, float, list[int]]] = [("1", rate, [first]) for rate in TABLE_RATES]
        plan += [
            (f"{size:,}", rate, population.extensions[:size])
            for size in args.table_sizes
            for rate in TABLE_RATES
        ]
        idle: dict[str, float] = {}
        for label, rate, extensions in plan:
            if not idle or len(rig.agents.sockets) < len(extensions):
                await rig.connect(len(extensions))
                idle = await rig.idle_cores(IDLE_S)
            calls = rig.plan(int(rate * args.table_seconds), extensions)
            try:
                result = await rig.phase(calls, rate)
            except (ConnectionError, OSError) as error:
                # The backend dropped the AMI link (its Ping answer came more than 5 s
                # late, behind the events it had not read yet): the rest is not measured.
                stopped = (
                    f"stopped at {label} sockets, {rate:g} calls/s: the backend closed the "
                    f"AMI link ({type(error).__name__}; its log says why)"
                )
                print(stopped, file=sys.stderr)
                break
            rows.append(Row(label, rate, result, idle, os.getloadavg()[0]))
            progress(rows[-1])
            await asyncio.sleep(2)
    add_probes(rig, *(row.result for row in rows))
    elapsed = time.perf_counter() - started
    lines = [
        machine_line(rig),
        data_line(population),
        f"each row: {args.table_seconds:g} s of new calls, each ringing one agent (round-robin "
        "over the open sockets), played to the last hang-up; run took "
        f"{elapsed / 60:.1f} min",
        "columns: AgentCalled -> pop frame quantiles; backend cores while the calls play; "
        "CPU ms per call of the backend (first ring to last hang-up and last pop), net of its "
        "idle cost, "
        "and of Postgres; idle: backend cores with the sockets open and no calls; lookup: "
        "the probe's lookup stage (pool + Postgres); lag: event-loop lag; gen2: the backend's "
        "longest full collection; others: other "
        "processes' cores; load: 1-min load average at the row's end",
        *table_lines(rows),
        *([stopped] if stopped else []),
    ]
    ok = not stopped and all(verdict(row.result) for row in rows if row.label != "1")
    return lines, ok, {f"{row.label}@{row.rate:g}": row.result for row in rows}


#: Which section of docs/performance.md a run's figures belong to (each its own block,
#: so one kind of run never overwrites another's figures).
SECTIONS = {
    ("standard", 1, 1000, 50.0): "Screen-pop latency",
    ("standard", 1, 2000, 100.0): "Screen-pop at 2,000 sockets and 100 calls/s (issue 16)",
    ("standard", 2, 2000, 100.0): "Screen-pop on two AMI nodes (issue 16)",
    ("table", 1, None, None): "Screen-pop scaling table (issue 16)",
}


def section_of(args: argparse.Namespace) -> str | None:
    if args.table:
        if tuple(args.table_sizes) != TABLE_SIZES:
            return None
        return SECTIONS.get(("table", args.nodes, None, None))
    return SECTIONS.get(("standard", args.nodes, args.agents, args.rate))


def docs_command(args: argparse.Namespace) -> str:
    """The command line written above the figures (it reproduces them)."""
    words = ["$ .venv/bin/python bench/bench_screenpop.py"]
    if args.table:
        words.append(f"--table --table-seconds {args.table_seconds:g}")
    else:
        words.append(f"--agents {args.agents} --calls {args.calls} --rate {args.rate:g}")
    if args.nodes != 1:
        words.append(f"--nodes {args.nodes}")
    words.append("--write-docs")
    return " ".join(words)


async def wait_for_port(port: int, within: float = 30.0) -> None:
    deadline = time.perf_counter() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.perf_counter() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000, help="agent sockets (default 1000)")
    parser.add_argument("--calls", type=int, default=1000, help="calls measured (default 1000)")
    parser.add_argument("--rate", type=float, default=50.0, help="new calls per second")
    parser.add_argument("--baseline-calls", type=int, default=250)
    parser.add_argument("--citizens", type=int, default=20000)
    parser.add_argument(
        "--nodes", type=int, default=1, choices=(1, 2), help="fake Asterisks (AMI nodes)"
    )
    parser.add_argument(
        "--table",
        action="store_true",
        help="the scaling table: 500/1,000/2,000/5,000 sockets at 50 and 100 calls/s",
    )
    parser.add_argument(
        "--table-seconds", type=float, default=20.0, help="seconds of calls per table row"
    )
    parser.add_argument(
        "--table-sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=list(TABLE_SIZES),
        help="socket counts of the table (default 500,1000,2000,5000)",
    )
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--dump", type=Path, help="write every pop's latency here (JSON)")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--server-log", type=Path, help="keep the backend's log here")
    parser.add_argument(
        "--profile", type=Path, help="py-spy the backend during the measured calls (raw stacks)"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser


def main() -> int:
    parser = arguments()
    args = parser.parse_args()
    if args.table:
        args.agents = max(args.table_sizes)
    raise_fd_limit(args.agents * 2 + 1024)
    if args.serve:
        return serve(args.serve)
    if args.profile and (args.table or not PY_SPY.exists()):
        parser.error(
            "--profile samples one run's measured calls (not --table) with py-spy "
            f"({PY_SPY}: pip install py-spy)"
        )
    section = section_of(args)
    if args.write_docs and section is None:
        parser.error(
            "--write-docs publishes 1,000 sockets at 50/s, 2,000 at 100/s (one node or "
            "--nodes 2) or --table (one node); these options have no section"
        )
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

    lines, ok, results = asyncio.run(bench(args))
    if args.dump:
        args.dump.write_text(json.dumps({k: r.samples for k, r in results.items()}))
    print("\n".join(lines))
    if args.write_docs and section is not None:
        docs.publish(section, docs_command(args), "\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

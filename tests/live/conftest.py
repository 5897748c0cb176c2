"""The live suite's session: a real Asterisk 22 with the project's ``asterisk_conf/``
(``pbx.site_conf`` says what changed), ``cti serve`` against it on a fresh database, SIPp
phones for the five agents (registered with their digest credentials) and for the
citizen a revisit call reaches, and each agent's browser socket.

Skipped, with one line saying why, where no Asterisk is installed (``pbx.missing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti import accounts
from cti.seed import seed
from cti.store.calls import Call
from cti.store.db import make_engine, make_session_factory
from cti.store.recordings import Recording
from tests.databases import throwaway_database
from tests.live import backend, pbx, sipp

#: The agents of asterisk_conf (pjsip.conf endpoints, queues.conf members) and their county.
AGENTS = {"1001": "north", "1002": "north", "2001": "south", "3001": "east", "4001": "west"}
DIDS = {"north": "9615601", "south": "9615602", "east": "9615603", "west": "9615604"}
PASSWORD = "live suite password"

#: What the phones do, by the caller's number (each scenario calls from its own prefix).
RING_TIMEOUT = "1390002"  # the first agent rung (1001) never answers; 1002 does
RINGING_ABANDON = "1390003"  # nobody answers: the caller gives up while it rings
BURST = "1390006"  # answered quickly, short talk
REVISIT_AGENT_RING = "9615601"  # the revisit's agent leg shows the north hotline's number


#: Where the suite cannot run, this scenario file says why (its module-level skip) and the
#: others are not collected: one line for the whole suite (each still skips on its own
#: when named on the command line).
SAYS_WHY = "test_calls.py"


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    if (
        collection_path.parent == Path(__file__).parent
        and collection_path.name.startswith("test_")
        and collection_path.name != SAYS_WHY
        and pbx.missing()
    ):
        return True
    return None


def _rules(endpoint: str) -> list[tuple[str, sipp.Behaviour]]:
    rules: list[tuple[str, sipp.Behaviour]] = [
        (RINGING_ABANDON, sipp.Ignore()),
        (BURST, sipp.Answer(ring_ms=300, talk_ms=1000)),
        (REVISIT_AGENT_RING, sipp.Answer(ring_ms=500, talk_ms=6000)),
    ]
    if endpoint == "1001":
        rules.insert(0, (RING_TIMEOUT, sipp.Ignore()))
    return rules


@dataclass
class Live:
    site: pbx.Site
    asterisk: pbx.Asterisk
    backend: backend.Backend
    db: async_sessionmaker[AsyncSession]
    sockets: dict[str, backend.AgentSocket]
    phones: dict[str, sipp.Phone]
    work: Path
    usernames: dict[str, str] = field(default_factory=dict)
    _numbers: dict[str, int] = field(default_factory=dict)

    def caller(self, prefix: str) -> str:
        """A caller number of 11 digits under ``prefix``, unique in the run."""
        n = self._numbers[prefix] = self._numbers.get(prefix, 0) + 1
        return f"{prefix}{n:0{11 - len(prefix)}d}"

    async def call(self, calls: list[tuple[str, str]], hold_ms: int, rate: int = 1, tag="calls"):
        result = await sipp.place_calls(
            self.site, self.work, calls, hold_ms=hold_ms, rate_per_s=rate, tag=tag
        )
        assert result.returncode == 0, result.errors[-3000:]
        return result

    async def ended_call(self, caller: str, timeout: float = 20.0, **where: Any) -> Call:
        """The one row of the call from ``caller``, once its end is logged."""
        deadline = time.monotonic() + timeout
        while True:
            async with self.db() as db:
                rows = (
                    await db.scalars(
                        select(Call).where(Call.caller_number == caller).filter_by(**where)
                    )
                ).all()
            if len(rows) > 1:
                raise AssertionError(f"{len(rows)} rows for {caller}: one per Linkedid expected")
            if rows and rows[0].ended_at is not None and rows[0].disposition != "in_progress":
                return rows[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no ended call row for {caller}: {rows}")
            await asyncio.sleep(0.3)

    async def recording_of(self, call: Call, timeout: float = 30.0) -> Recording:
        """The indexed recording linked to ``call`` (the service waits for the file to
        settle after the hangup, ``cti.recordings.files.SETTLE_S``)."""
        deadline = time.monotonic() + timeout
        while True:
            async with self.db() as db:
                found = (
                    await db.scalars(select(Recording).where(Recording.call_id == call.id))
                ).all()
            if found:
                assert len(found) == 1, found
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no recording indexed for call {call.linkedid}")
            await asyncio.sleep(0.5)

    def frames_for(self, linkedid: str) -> dict[str, list[str]]:
        """Which agent sockets received frames about the call, and their types in order."""
        out: dict[str, list[str]] = {}
        for endpoint, sock in self.sockets.items():
            kinds = [f["type"] for f in sock.for_call(linkedid)]
            if kinds:
                out[endpoint] = kinds
        return out

    async def frames_settled(self, linkedid: str, last: str = "ended", timeout: float = 10.0):
        """``frames_for`` once the call's last frame (``ended`` or ``withdraw``) arrived."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.frames_for(linkedid)
            if any(kinds and kinds[-1] == last for kinds in seen.values()):
                await asyncio.sleep(0.3)  # a frame to someone else would be here by now
                return self.frames_for(linkedid)
            if time.monotonic() > deadline:
                return seen
            await asyncio.sleep(0.2)

    def frame(self, linkedid: str, endpoint: str, kind: str) -> dict[str, Any]:
        return next(f for f in self.sockets[endpoint].for_call(linkedid) if f["type"] == kind)

    async def wait_pop(self, endpoint: str, caller: str, timeout: float = 30.0) -> dict:
        """The pop of a call from ``caller`` on ``endpoint``'s socket, once it arrives."""
        deadline = time.monotonic() + timeout
        while True:
            for frame in self.sockets[endpoint].frames:
                if frame.get("type") == "pop" and frame["pop"]["caller"]["number"] == caller:
                    return frame
            if time.monotonic() > deadline:
                raise AssertionError(f"no pop for {caller} on {endpoint}")
            await asyncio.sleep(0.1)

    def no_errors(self) -> None:
        """Asterisk's log has no ERROR line since it started."""
        errors = self.asterisk.error_lines()
        assert errors == [], "\n".join(errors)

    def pause(self, endpoint: str, queue: str, paused: bool = True) -> None:
        verb = "pause" if paused else "unpause"
        out = self.asterisk.cli(f"queue {verb} member PJSIP/{endpoint} queue {queue}")
        assert "paused" in out.lower(), out

    def routing(self, rules_yaml: str) -> None:
        """Import rules and apply them with the product's own commands."""
        path = self.work / f"rules-{time.monotonic_ns()}.yaml"
        path.write_text(rules_yaml)
        imported = self.backend.command("routing", "import", str(path))
        assert imported.returncode == 0, imported.stderr
        applied = self.backend.command("routing", "apply")
        assert applied.returncode == 0, applied.stdout + applied.stderr


def _wait_registered(asterisk: pbx.Asterisk, endpoints: list[str], timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        out = asterisk.cli("pjsip show contacts")
        if all(
            f"{e}/sip:{e}@" in out and "Avail" in out.split(f"{e}/sip:")[1].split("\n")[0]
            for e in endpoints
        ):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"phones not registered:\n{out}")
        time.sleep(0.3)


@pytest.fixture(scope="session")
async def live(admin_url: str) -> AsyncIterator[Live]:
    reason = pbx.missing()
    if reason:
        pytest.skip(f"live suite skipped: {reason}")
    site = pbx.new_site()
    pbx.site_conf(site)
    work = site.root / "work"
    work.mkdir()
    phones: dict[str, sipp.Phone] = {}
    asterisk = pbx.Asterisk(site)
    failed = True
    try:
        async with throwaway_database(admin_url, "cti_live") as url:
            engine = make_engine(url)
            served = backend.Backend(
                backend.environment(site, url, site.root / "cti-data"), site.root / "cti.log"
            )
            try:
                factory = make_session_factory(engine)
                usernames = await _agents(factory)
                # The citizen's phone behind the trunk (revisit calls reach it); up before
                # Asterisk qualifies the trunk.
                phones["trunk"] = sipp.Phone(
                    site, work, "trunk", host=pbx.TRUNK_HOST, port=site.trunk_port,
                    default=sipp.Answer(ring_ms=1000, talk_ms=20000),
                )  # fmt: skip
                phones["trunk"].start()
                try:
                    asterisk.start()
                except pbx.CpuUnsupported as e:  # the machine, not the project: say so
                    failed = False
                    pytest.skip(f"live suite skipped: {e}")
                await served.start()
                for endpoint in AGENTS:
                    phones[endpoint] = sipp.Phone(
                        site, work, endpoint, host=pbx.AGENT_HOST,
                        password=site.passwords[endpoint], rules=_rules(endpoint),
                    )  # fmt: skip
                    phones[endpoint].start()
                _wait_registered(asterisk, list(AGENTS))
                async with contextlib.AsyncExitStack() as stack:
                    sockets = {}
                    for endpoint in AGENTS:
                        sockets[endpoint] = await stack.enter_async_context(
                            backend.agent_socket(
                                served.base, usernames[endpoint], PASSWORD, f"PJSIP/{endpoint}"
                            )
                        )
                    yield Live(site, asterisk, served, factory, sockets, phones, work, usernames)
                failed = False
            finally:
                for phone in phones.values():
                    phone.stop()
                served.stop()
                asterisk.stop()
                await engine.dispose()
    finally:
        if failed or os.environ.get("CTI_LIVE_KEEP"):
            print(f"\nlive suite files kept in {site.root}")
        else:
            shutil.rmtree(site.root, ignore_errors=True)


async def _agents(factory: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """The reference data and one agent account per phone; their usernames."""
    usernames: dict[str, str] = {}
    async with factory() as db:
        await seed(db)
        for endpoint, county in AGENTS.items():
            user = await accounts.create_user(
                db,
                username=f"agent{endpoint}",
                role="agent",
                password=PASSWORD,
                county=county,
                interface=f"PJSIP/{endpoint}",
            )
            usernames[endpoint] = user.username
        await db.commit()
    return usernames

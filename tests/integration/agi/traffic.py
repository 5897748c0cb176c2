"""Synthetic hotline calls for the outage, crash and load tests: each call is a
call-start and a call-end request, delivered the way the dialplan does it (again and
again until the server acknowledges)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cti.agi.protocol import format_environment
from tests.integration.agi.fake_asterisk import play

BASE = 1_795_720_000


def linkedid(i: int) -> str:
    return f"{BASE + i // 1000}.{i}"


def environment(i: int, script: str, context: str) -> bytes:
    """The AGI environment of call ``i``'s request ``script`` (path and query), as
    Asterisk 22 sends it."""
    lid = linkedid(i)
    return format_environment(
        {
            "network": "yes",
            "network_script": script,
            "request": f"agi://127.0.0.1:4573/{script}",
            "channel": f"PJSIP/trunk-{i:08x}",
            "language": "en",
            "type": "PJSIP",
            "uniqueid": lid,
            "version": "22.10.1",
            "callerid": f"138{i:08d}",
            "calleridname": f"Citizen {i}",
            "callingpres": "0",
            "callingani2": "0",
            "callington": "0",
            "callingtns": "0",
            "dnid": "9615601",
            "rdnis": "unknown",
            "context": context,
            "extension": "s",
            "priority": "5",
            "enhanced": "0.0",
            "accountcode": "",
            "threadid": "140079777580736",
        }
    )


def started(i: int) -> int:
    return BASE + i // 1000


def start_query(i: int) -> str:
    """call-start's parameters as the dialplan in asterisk_conf/ sends them."""
    return (
        f"linkedid={linkedid(i)}&county=north&queue=county-north&did=9615601&node=&afterhours="
        f"&t={started(i)}"
    )


def end_query(i: int) -> str:
    """call-end's parameters for an answered call: waited 5 s, talked 30 s, agent 1001."""
    return (
        f"linkedid={linkedid(i)}&county=north&queue=county-north&did=9615601"
        f"&node=&afterhours=&started={started(i)}&queued={started(i)}&cause=16&answered=30&dialed=35"
        f"&hold=5&member=PJSIP%2F1001&queuestatus=&blindxfer=&attxfer=&t={started(i) + 35}"
    )


def start_env(i: int) -> bytes:
    return environment(i, f"call-start?{start_query(i)}", "hotline-call")


def end_env(i: int) -> bytes:
    return environment(i, f"call-end?{end_query(i)}", "cti-call-end")


async def deliver(port: int, raw: bytes, *, attempts: int = 600, pause: float = 0.02) -> int:
    """Send until acknowledged (the dialplan's retry, or its classic fallback); returns
    how many attempts failed first."""
    for attempt in range(attempts):
        try:
            exchange = await play(port, [raw], timeout=5)
            if exchange.status == "OK":
                return attempt
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(pause)
    raise AssertionError(f"request not acknowledged after {attempts} attempts")


async def stream(
    port: int,
    calls: range,
    *,
    concurrency: int = 20,
    on_ack: Callable[[int], None] | None = None,
) -> int:
    """Deliver every call's start and end; returns the number of failed attempts."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in calls:
        queue.put_nowait(i)
    retries = 0
    acked = 0

    async def worker() -> None:
        nonlocal retries, acked
        while not queue.empty():
            i = queue.get_nowait()
            for raw in (start_env(i), end_env(i)):
                retries += await deliver(port, raw)
                acked += 1
                if on_ack is not None:
                    on_ack(acked)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return retries

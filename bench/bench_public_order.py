"""Public order submission (``POST /site/order``) at a steady 200 requests/s against the
API in its own process (uvicorn, real Postgres), with a baseline in the same run (``GET
/site/status``, a page that reads no database, at the same rate), then the same orders
again while the FastAGI and AMI benches' core loads run side by side. Prints figures; it
is not a test.

Each order is a full one: the guard (a form token issued by the bench with the server's
secret, five seconds old; the honeypot; sizes; the per-address and per-phone limits, the
address limit raised for the run since every request comes from 127.0.0.1), the checks,
a new citizen, a ticket (channel ``web``) with its event, note, audit row and SMS outbox
row (``cti.tickets.intake``: two statements), and ``auto_dispatch`` where the county has it.
Every order is then counted in Postgres.

The load is open-loop: request i is due at t0 + i/rate whatever the answers before it
did, so a slow answer cannot slow the offered rate; 32 keep-alive connections carry it.
Latency is from a request's due time to its whole answer (waiting for a free connection
included); "late" is that wait alone.

Side by side: the FastAGI load is call-start + call-end requests at ``--agi-rate`` a second
(200: the two requests of 100 calls/s, the hotline at twice its design size, as the
screen-pop's 2,000 agents; its own target is p99 < 10 ms), open loop, one connection per
request as Asterisk makes them, against ``python -m cti.agi run`` on the same database,
for as long as the orders run; the AMI load is ``bench/bench_ami.py --pace`` (parse +
tracker + pop decision over the captured traces in 4 KiB reads at ``--ami-rate`` events a
second, 15,000: about 100 calls/s of unfiltered events, twice the screen-pop's design
load) in its own process. Each prints its solo figure (measured first, alone) next to its
side-by-side figure. Both are operating points, not capacities: a load that runs flat out
takes a core whatever the orders do, and on two cores nothing beside it keeps a latency.

    .venv/bin/python bench/bench_public_order.py [--rate 200] [--seconds 15] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench import docs  # noqa: E402
from bench.bench_agi import _AsteriskSide, free_port, quantile_ms, stage, wait_port  # noqa: E402
from cti.public.guard import issue_token  # noqa: E402
from cti.public.site import PublicSite  # noqa: E402
from cti.seed import seed  # noqa: E402
from cti.store.db import make_engine, make_session_factory  # noqa: E402
from cti.store.tickets import Ticket  # noqa: E402
from tests.databases import throwaway_database  # noqa: E402
from tests.integration.agi.traffic import end_env, start_env  # noqa: E402

AMI_PACED = re.compile(r"ours paced at [\d,]+ events/s: (.*)")


def loadavg() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def orders(secret: bytes, n: int) -> list[dict[str, str]]:
    """``n`` order forms, each for a phone of its own, tokens five seconds old."""
    served = time.time() - 5
    return [
        {
            "token": issue_token(secret, "order", served),
            "website": "",
            "lang": "en",
            "county": "north",
            "category": "maintenance.water",
            "description": f"Bench order {i}: the tap drips <b>all night</b>",
            "address": f"{i} Bench Road",
            "preferred_date": "",
            "preferred_slot": "morning",
            "name": f"Bench Citizen {i}",
            "phone": "13" + "".join(secrets.choice("0123456789") for _ in range(9)),
        }
        for i in range(n)
    ]


class Connection:
    """One keep-alive HTTP/1.1 connection, the cheapest client there is: the request's
    bytes out, the status line, the headers and ``Content-Length`` bytes back (httpx
    costs the two shared cores more than the server it measures)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


def post_form(path: str, form: dict[str, str]) -> bytes:
    body = urlencode(form).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def paced(
    ports: list[int], requests: list[bytes], rate: float, expect: bytes, connections: int = 32
) -> dict[str, float]:
    """Send ``requests`` at ``rate`` a second (open loop: request i is due at t0 + i/rate)
    over ``connections`` keep-alive connections, spread over the API processes' ``ports``.
    Latency is from the request's due time to its whole answer, so waiting for a free
    connection counts; "late" is how long requests waited for one."""
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    late: list[float] = []
    failures = 0
    pool = [await Connection.open(ports[i % len(ports)]) for i in range(connections)]

    async def worker(conn: Connection) -> None:
        nonlocal failures
        while (item := await queue.get()) is not None:
            i, due = item
            late.append(time.perf_counter() - due)
            status, body = await conn.request(requests[i])
            latencies.append(time.perf_counter() - due)
            failures += status != 200 or expect not in body

    workers = [asyncio.create_task(worker(c)) for c in pool]
    t0 = time.perf_counter() + 0.1
    for i in range(len(requests)):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, due))
    for _ in pool:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - t0
    for conn in pool:
        conn.close()
    return {
        "rate": len(requests) / elapsed,
        "p50": quantile_ms(latencies, 0.5),
        "p99": quantile_ms(latencies, 0.99),
        "max": max(latencies) * 1000,
        "late_p99": quantile_ms(late, 0.99),
        "failures": failures,
    }


class _PacedSide(_AsteriskSide):
    """A FastAGI request due at ``due``: its latency runs from then, so a request that
    waited for the machine counts (open loop, as Asterisk's calls do not wait)."""

    def __init__(self, env: bytes, done: asyncio.Future[None], latencies: list[float], due: float):
        super().__init__(env, done, latencies)
        self.due = due

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.sent = self.due


async def agi_paced(port: int, rate: float, stop: asyncio.Event, first: int) -> dict[str, float]:
    """FastAGI call-start and call-end requests at ``rate`` a second (open loop: request i
    is due at t0 + i/rate, each on its own connection as Asterisk makes them) until
    ``stop``; the rate served and the latency from each request's due time to its answer."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    failures = 0

    async def one(env: bytes, due: float) -> None:
        nonlocal failures
        done = loop.create_future()
        try:
            await loop.create_connection(
                lambda: _PacedSide(env, done, latencies, due), "127.0.0.1", port
            )
            await done
        except (OSError, RuntimeError):
            failures += 1

    tasks: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter() + 0.05
    i = 0
    while not stop.is_set():
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        call = first + i // 2
        task = asyncio.create_task(one(start_env(call) if i % 2 == 0 else end_env(call), due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    await asyncio.gather(*tasks)
    return {
        "rate": i / (time.perf_counter() - t0),
        "p50": quantile_ms(latencies, 0.5),
        "p99": quantile_ms(latencies, 0.99),
        "failures": failures,
    }


async def ami_paced(copies: int, rate: float, seconds: float) -> str:
    """``bench_ami.py --pace``: the AMI pipeline fed ``rate`` events a second in its own
    process for ``seconds``; its figure line."""
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, str(ROOT / "bench" / "bench_ami.py"), "--copies", str(copies)),
        *("--pace", str(rate), "--seconds", str(seconds)),
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    found = AMI_PACED.search(out.decode())
    if found is None:
        raise RuntimeError(f"bench_ami.py printed no figures: {out.decode()[-400:]}")
    return found.group(1)


def line(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:<34} {r['rate']:6.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
        f"max {r['max']:7.1f} ms  (client late p99 {r['late_p99']:.1f} ms, "
        f"{int(r['failures'])} failed)"
    )


def agi_line(name: str, r: dict[str, float]) -> str:
    meets = "meets" if r["p99"] < 10 and not r["failures"] else "MISSES"
    return (
        f"{name:<34} {r['rate']:6.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
        f"({int(r['failures'])} failed)  [its target p99 < 10 ms: {meets}]"
    )


async def main(args: argparse.Namespace) -> int:
    key = secrets.token_urlsafe(32)
    secret = PublicSite(secret_source=lambda: key).secret
    n = int(args.rate * args.seconds)
    report: list[str] = [
        f"cores: {os.cpu_count()}; API processes: {args.api_workers}; at start: {loadavg()}"
    ]
    async with throwaway_database(args.admin_url, "cti_bench") as url:
        engine = make_engine(url)
        async with make_session_factory(engine)() as db:
            await seed(db)
            await db.commit()
        with tempfile.TemporaryDirectory() as tmp:
            api_ports, agi_port = [free_port() for _ in range(args.api_workers)], free_port()
            env = {
                **os.environ,
                "CTI_DATABASE_URL": url,
                "CTI_DATA_DIR": str(Path(tmp) / "data"),
                "CTI_SECRET_KEY": key,
                "CTI_AGI_BIND": f"127.0.0.1:{agi_port}",
                "CTI_NODE_NAME": "bench",
                "CTI_LOG_LEVEL": "ERROR",
                "CTI_PUBLIC_SUBMITS_PER_IP_HOUR": str(10**9),
            }
            apis = [
                await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "cti.cli", "serve", "--role", "api"),
                    *("--port", str(port)),
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
                for port in api_ports
            ]
            agi = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "cti.agi", "run"),
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
            try:
                for port in api_ports:
                    await wait_port(port)
                await wait_port(agi_port)
                forms = orders(secret, 2 * n + 200)
                page = [get("/site/status")] * n
                posts = [post_form("/site/order", f) for f in forms]
                done, shown = b"ticket-number", b"status-form"
                stage("warming up")
                await paced(api_ports, posts[2 * n : 2 * n + 200], 200, done)
                await paced(api_ports, page[:200], 200, shown)
                stage(f"baseline: GET /site/status, {n} at {args.rate}/s")
                baseline = await paced(api_ports, page, args.rate, shown)
                stage(f"orders alone: {n} at {args.rate}/s")
                alone = await paced(api_ports, posts[:n], args.rate, done)
                stage(f"FastAGI alone, {args.agi_rate:.0f} requests/s")
                stop = asyncio.Event()
                agi_task = asyncio.create_task(agi_paced(agi_port, args.agi_rate, stop, 0))
                await asyncio.sleep(args.seconds)
                stop.set()
                agi_alone = await agi_task
                stage(f"AMI alone, {args.ami_rate:.0f} events/s")
                ami_alone = await ami_paced(args.ami_copies, args.ami_rate, args.seconds)
                stage(f"orders with FastAGI and AMI side by side: {n} at {args.rate}/s")
                during = loadavg()
                stop = asyncio.Event()
                agi_task = asyncio.create_task(agi_paced(agi_port, args.agi_rate, stop, 10**6))
                ami_task = asyncio.create_task(
                    ami_paced(args.ami_copies, args.ami_rate, args.seconds)
                )
                together = await paced(api_ports, posts[n : 2 * n], args.rate, done)
                stop.set()
                agi_together = await agi_task
                ami_together = await ami_task
                during += f" (at the start of the side-by-side run); now {loadavg()}"
                async with make_session_factory(engine)() as db:
                    web = await db.scalar(
                        select(func.count()).select_from(Ticket).where(Ticket.channel == "web")
                    )
            finally:
                for proc in (*apis, agi):
                    proc.send_signal(signal.SIGTERM)
                for proc in (*apis, agi):
                    await asyncio.wait_for(proc.wait(), 30)
                await engine.dispose()

    expected = 2 * n + 200 - int(alone["failures"] + together["failures"])
    meets = lambda r: "meets" if r["p99"] < 50 and r["rate"] >= 0.98 * args.rate else "MISSES"  # noqa: E731
    report += [
        f"offered {args.rate:.0f} requests/s for {args.seconds} s ({n} requests) per phase",
        line("baseline GET /site/status", baseline),
        line("POST /site/order alone", alone) + f"  [target p99 < 50 ms: {meets(alone)}]",
        line("POST /site/order + FastAGI + AMI", together)
        + f"  [target p99 < 50 ms: {meets(together)}]",
        agi_line("FastAGI alone:", agi_alone),
        agi_line("FastAGI beside the orders:", agi_together),
        f"AMI at {args.ami_rate:,.0f} events/s alone:      {ami_alone}",
        f"AMI at {args.ami_rate:,.0f} events/s beside:     {ami_together}",
        f"web tickets in Postgres: {web} (expected {expected})",
        during,
    ]
    print("\n".join(report))
    if args.write_docs:
        command = (
            f"$ .venv/bin/python bench/bench_public_order.py --rate {args.rate:.0f} "
            f"--seconds {args.seconds}"
            + (f" --api-workers {args.api_workers}" if args.api_workers != 1 else "")
            + (f" --agi-rate {args.agi_rate:.0f}" if args.agi_rate != 200 else "")
            + " --write-docs"
        )
        docs.publish("Public order submission", command, "\n".join(report))
    return 0 if web == expected else 1


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests a second offered")
    parser.add_argument("--seconds", type=int, default=15, help="length of each phase")
    parser.add_argument("--ami-copies", type=int, default=20)
    parser.add_argument(
        "--ami-rate",
        type=float,
        default=15000.0,
        help="AMI events a second beside the orders (2,000 agents at 100 calls/s)",
    )
    parser.add_argument(
        "--agi-rate",
        type=float,
        default=200.0,
        help="FastAGI requests a second beside the orders (200: call-start and call-end of "
        "100 calls/s, the screen-pop's 2,000 agents; 1,000 is FastAGI's own figure)",
    )
    parser.add_argument(
        "--api-workers", type=int, default=1, help="API processes (connections spread over them)"
    )
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "CTI_TEST_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--write-docs", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(arguments())))

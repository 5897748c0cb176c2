"""FastAGI throughput and answer latency against real Postgres, and in the same run the
rate of the classic process-per-call pyst2 scripts doing the same work. Prints figures;
it is not a test.

The server is ``python -m cti.agi run`` in its own process (uvloop, journal fsync'd, the
writer draining into Postgres meanwhile), on a fresh database with the migrations applied
and the counties seeded. The client plays Asterisk over loopback TCP: for each call it
sends a ``call-start`` and then a ``call-end`` environment exactly as the dialplan in
asterisk_conf/ produces them, waits for ``SET VARIABLE CTI_AGI_STATUS "OK"``, answers
``200 result=1`` and waits for the close. Answer latency is the time from the last byte
of the environment to the acknowledgement. Every call is then checked in Postgres.

The classic scripts are run as Asterisk runs them (a new process per request, the
environment on stdin), several at once.

    .venv/bin/python bench/bench_agi.py [--calls N] [--concurrency C] [--rounds R]
                                        [--sweep C,C,...] [--classic-requests N]
                                        [--write-docs]

``--concurrency`` is the number of requests in flight, i.e. calls starting or ending at
the same moment on the PBX; the headline figures use it (medians of ``--rounds``
measurements), and ``--sweep`` prints a few other values for context. ``--write-docs``
replaces the output block under "## FastAGI" in docs/performance.md (bench/docs.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import docs  # noqa: E402
from cti.seed import load_counties, seed_counties  # noqa: E402
from cti.store.calls import Call  # noqa: E402
from cti.store.db import make_engine, make_session_factory  # noqa: E402
from tests.databases import throwaway_database  # noqa: E402
from tests.integration.agi.traffic import (  # noqa: E402  (the same synthetic calls)
    end_env,
    environment,
    start_env,
    start_query,
)

ACK = b'SET VARIABLE CTI_AGI_STATUS "OK"\n'


class _AsteriskSide(asyncio.Protocol):
    """One request as Asterisk makes it: send the environment, answer the server's
    acknowledgement with ``200 result=1``, wait for the close. (A Protocol, not streams:
    the client shares the machine's two cores with the server and Postgres, so it must
    cost little.)"""

    def __init__(self, env: bytes, done: asyncio.Future[None], latencies: list[float]) -> None:
        self.env, self.done, self.latencies = env, done, latencies
        self.buffer = b""
        self.answered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.env)  # type: ignore[attr-defined]
        self.sent = time.perf_counter()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.answered and b"\n" in self.buffer:
            self.latencies.append(time.perf_counter() - self.sent)
            self.answered = True
            if not self.buffer.startswith(ACK) and not self.done.done():
                self.done.set_exception(RuntimeError(f"unexpected answer {self.buffer!r}"))
            self.transport.write(b"200 result=1\n")  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if self.answered:
                self.done.set_result(None)
            else:
                self.done.set_exception(RuntimeError("closed without an answer"))


async def fastagi_run(port: int, calls: range, concurrency: int) -> tuple[float, list[float]]:
    """Run ``calls`` (start + end each) with ``concurrency`` requests in flight."""
    loop = asyncio.get_running_loop()
    requests = []
    for i in calls:
        requests.append((start_env(i), end_env(i)))
    latencies: list[float] = []
    pending = iter(requests)

    async def worker() -> None:
        for pair in pending:
            for env in pair:
                done = loop.create_future()
                await loop.create_connection(
                    lambda env=env, done=done: _AsteriskSide(env, done, latencies),
                    "127.0.0.1",
                    port,
                )
                await done

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began, latencies


def classic_run(requests: int, concurrency: int, data_dir: Path) -> float:
    """Run the pyst2 scripts as Asterisk would; returns requests per second."""
    script = ROOT / "agi_scripts" / "call_start.py"
    env = {**os.environ, "CTI_DATA_DIR": str(data_dir), "CTI_NODE_NAME": "bench-classic"}

    def one(i: int) -> None:
        proc = subprocess.Popen(
            [sys.executable, str(script), start_query(i)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert proc.stdin and proc.stdout
        classic = environment(i, "", "hotline-call").replace(b"agi_network: yes\n", b"")
        proc.stdin.write(classic)
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line.startswith(b'SET VARIABLE "CTI_AGI_STATUS" "OK"'):
            raise RuntimeError(f"classic script answered {line!r}")
        proc.stdin.write(b"200 result=1\n")
        proc.stdin.close()
        proc.wait()

    from concurrent.futures import ThreadPoolExecutor

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    return requests / (time.perf_counter() - began)


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                out += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    return out


def _postgres_pids(database: str) -> list[int]:
    """Postgres's own processes and the backends of ``database`` (not other databases':
    other work on this machine is not ours to count)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if not cmdline.startswith("postgres"):
            continue
        backend = re.match(r"postgres: [^:]+: (\S+) (\S+) ", cmdline)
        if backend is None or backend.group(2) == database:
            pids.append(int(entry))
    return pids


def cpu_snapshot(server_pid: int, database: str) -> dict[str, float]:
    """CPU seconds used so far by the client (this process), the FastAGI server, its
    writer child and Postgres."""
    usage = os.times()
    return {
        "client": usage.user + usage.system,
        "server": _cpu_seconds(server_pid),
        "writer": sum(_cpu_seconds(c) for c in _children(server_pid)),
        "postgres": sum(_cpu_seconds(p) for p in _postgres_pids(database)),
    }


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all processes, all cores)."""
    with open("/proc/stat") as handle:
        ticks = [int(t) for t in handle.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICK  # minus idle and iowait


def loop_ms(steps: int = 1_000_000, tries: int = 5) -> float:
    """How long this machine takes for a fixed pure-Python loop now (best of ``tries``,
    in ms): the speed of these shared cores drifts by a factor of 2 or more between
    hours and days, so a run's figures are comparable with another's only at a similar
    value."""
    best = float("inf")
    for _ in range(tries):
        began = time.perf_counter()
        total = 0
        for i in range(steps):
            total += i
        best = min(best, time.perf_counter() - began)
    return best * 1000


def quantile_ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def stage(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_port(port: int) -> None:
    for _ in range(300):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return
    raise RuntimeError("server did not start")


@dataclass(frozen=True, slots=True)
class Measured:
    """One measured run: its duration, every answer's latency, the CPU seconds each of
    client, server, writer and Postgres used meanwhile, and what other processes used."""

    elapsed: float
    latencies: list[float]
    cpu: dict[str, float]
    other: float


async def measured_run(
    port: int, calls: range, concurrency: int, server_pid: int, database: str
) -> Measured:
    """``fastagi_run`` with the CPU each side used during it (``cpu_snapshot``)."""
    before = cpu_snapshot(server_pid, database)
    busy = machine_busy()
    elapsed, latencies = await fastagi_run(port, calls, concurrency)
    after = cpu_snapshot(server_pid, database)
    busy = machine_busy() - busy
    used = {k: after[k] - before[k] for k in before}
    return Measured(elapsed, latencies, used, busy - sum(used.values()))


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new database with the migrations applied and the counties seeded, dropped
    afterwards; yields its URL."""
    stage("migrating a fresh database")
    async with throwaway_database(admin_url, "cti_bench") as url:
        engine = make_engine(url)
        async with make_session_factory(engine)() as db:
            await seed_counties(db, load_counties())
            await db.commit()
        await engine.dispose()
        yield url


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000, help="calls (2 requests each)")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="requests in flight (calls starting at once)"
    )
    parser.add_argument(
        "--sweep", default="2,16,32", help="other concurrencies to print, for context"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="headline measurements (medians are reported: one run on a shared machine "
        "can be far off the next)",
    )
    parser.add_argument("--classic-requests", type=int, default=60)
    parser.add_argument("--classic-concurrency", type=int, default=4)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "CTI_TEST_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--write-docs", action="store_true")
    return parser


def docs_command(args: argparse.Namespace) -> str:
    """The command line above the figures in docs/performance.md: it reproduces the run
    (the options that change the report, the others only when they are not the
    defaults)."""
    defaults = arguments()
    extra = "".join(
        f" --{name.replace('_', '-')} {shlex.quote(str(getattr(args, name)))}"
        for name in ("sweep", "classic_concurrency")
        if getattr(args, name) != defaults.get_default(name)
    )
    return (
        f"$ .venv/bin/python bench/bench_agi.py --calls {args.calls} "
        f"--concurrency {args.concurrency} --rounds {args.rounds} "
        f"--classic-requests {args.classic_requests}{extra} --write-docs"
    )


async def main() -> None:
    args = arguments().parse_args()

    speed_before = loop_ms()
    async with fresh_database(args.admin_url) as url:
        name = make_url(url).database or ""
        engine = make_engine(url)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                port = free_port()
                env = {
                    **os.environ,
                    "CTI_DATABASE_URL": url,
                    "CTI_DATA_DIR": str(Path(tmp) / "server"),
                    "CTI_AGI_BIND": f"127.0.0.1:{port}",
                    "CTI_NODE_NAME": "bench",
                    "CTI_LOG_LEVEL": "ERROR",
                }
                server = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "cti.agi",
                    "run",
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
                try:
                    await wait_port(port)
                    stage("warming up")
                    warm_up = range(10**7, 10**7 + 200)  # other calls than measured
                    await fastagi_run(port, warm_up, args.concurrency)
                    rounds: list[Measured] = []
                    cpu = dict.fromkeys(cpu_snapshot(server.pid, name), 0.0)
                    other_cpu = 0.0
                    for round_ in range(args.rounds):
                        stage(f"{args.calls} calls, round {round_ + 1} of {args.rounds}")
                        await asyncio.sleep(0.5)  # the writer drains the previous round first
                        first = round_ * args.calls
                        run = await measured_run(
                            port,
                            range(first, first + args.calls),
                            args.concurrency,
                            server.pid,
                            name,
                        )
                        rounds.append(run)
                        other_cpu += run.other
                        cpu = {k: cpu[k] + run.cpu[k] for k in cpu}
                    sweep = []
                    offset = args.rounds * args.calls + 1000
                    for concurrency in [int(c) for c in args.sweep.split(",") if c]:
                        n = args.calls // 4
                        sweep.append(
                            (
                                concurrency,
                                *await fastagi_run(port, range(offset, offset + n), concurrency),
                                n,
                            )
                        )
                        offset += n
                    stage("waiting for Postgres")
                    drain_began = time.perf_counter()
                    async with make_session_factory(engine)() as db:
                        target = args.rounds * args.calls + 200 + sum(n for *_, n in sweep)
                        while True:
                            done = await db.scalar(
                                select(func.count())
                                .select_from(Call)
                                .where(Call.node == "bench", Call.disposition == "answered")
                            )
                            if done >= target:
                                break
                            await asyncio.sleep(0.05)
                        total = await db.scalar(
                            select(func.count()).select_from(Call).where(Call.node == "bench")
                        )
                        if total != target:
                            raise RuntimeError(f"{total} rows for {target} calls")
                    drained_after = time.perf_counter() - drain_began
                finally:
                    server.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(server.wait(), 30)
                stage(f"classic scripts: {args.classic_requests} requests")
                classic_rate = classic_run(
                    args.classic_requests, args.classic_concurrency, Path(tmp) / "classic"
                )
            finally:
                await engine.dispose()

    speed = (speed_before + loop_ms()) / 2
    requests = 2 * args.calls
    rates = [requests / r.elapsed for r in rounds]
    p50s = [quantile_ms(r.latencies, 0.5) for r in rounds]
    p99s = [quantile_ms(r.latencies, 0.99) for r in rounds]
    rate, p50, p99 = (statistics.median(x) for x in (rates, p50s, p99s))
    elapsed = sum(r.elapsed for r in rounds)
    ratio = rate / classic_rate
    meets = lambda ok: "meets" if ok else "MISSES"  # noqa: E731
    spread = lambda xs, f: "-".join(f.format(x) for x in (min(xs), max(xs)))  # noqa: E731
    report = "\n".join(
        [
            f"cores: {os.cpu_count()}, Postgres: {make_url(args.admin_url).host}, "
            f"{args.calls} calls = {requests} FastAGI requests per round, "
            f"concurrency {args.concurrency}, medians of {args.rounds} rounds",
            f"machine speed: a 1M-step Python loop takes {speed:.0f} ms (before and after; "
            "figures compare only at a similar value)",
            f"FastAGI:        {rate:8,.0f} requests/s (target >= 3,000: {meets(rate >= 3000)})",
            f"answer latency: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
            f"(target p99 < 5 ms: {meets(p99 < 5)})",
            f"  (rounds: {spread(rates, '{:,.0f}')} requests/s, p50 {spread(p50s, '{:.2f}')} "
            f"ms, p99 {spread(p99s, '{:.2f}')} ms)",
            "CPU per request: "
            + ", ".join(f"{k} {v / (requests * args.rounds) * 1e6:.0f} us" for k, v in cpu.items())
            + f" (total {sum(cpu.values()) / (requests * args.rounds) * 1e6:.0f} us; "
            f"{sum(cpu.values()) / elapsed:.2f} cores busy with them, "
            f"{max(other_cpu, 0) / elapsed:.2f} with other processes)",
            *(
                f"  (concurrency {c:2}: {2 * n / el:6,.0f} requests/s, "
                f"p50 {quantile_ms(lt, 0.5):.2f} ms, p99 {quantile_ms(lt, 0.99):.2f} ms)"
                for c, el, lt, n in sweep
            ),
            "every call checked in Postgres (answered, exactly once); the last was committed "
            f"{drained_after:.2f} s after the last answer",
            f"classic pyst2:  {classic_rate:8,.1f} requests/s "
            f"({args.classic_requests} requests, {args.classic_concurrency} at a time)",
            f"ratio:          {ratio:8,.0f}x (target >= 500x: {meets(ratio >= 500)})",
        ]
    )
    print(report)
    if args.write_docs:
        docs.publish("FastAGI", docs_command(args), report)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())

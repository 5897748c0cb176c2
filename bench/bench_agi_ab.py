"""A/B of the FastAGI server on a shared machine: two (or more) versions of the code, or of
the event loop, measured alternately in the same run, several rounds, so that what the
rest of the machine does at the time weighs on each about equally. Prints figures; it is
not a test.

Each variant is a source tree (a checkout, or ``git archive <rev> | tar -x -C DIR``) and
options: ``asyncio`` runs its server without uvloop (``import uvloop`` fails, so the
fallback of ``cti.agi.cli.run_event_loop`` is what runs), ``si=S`` sets the server's
``sys.setswitchinterval(S)``. Every measurement starts that tree's
``python -m cti.agi run`` with a journal of its own against one fresh database (its own
node name, so rows never collide), warms it up, plays ``--calls`` calls
(``bench_agi.fastagi_run``: the same client, uvloop, for every variant) and stops it. The
order of the variants is reversed every other round.

    git archive HEAD | (mkdir -p /tmp/base && tar -x -C /tmp/base)
    .venv/bin/python bench/bench_agi_ab.py --rounds 6 base=/tmp/base new=. loop=.:asyncio

Per variant and round: requests/s, answer p50/p99, CPU per request of the server, its
writer child, the client and Postgres, the cores other processes used meanwhile and the
load average; then the medians over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from bench import bench_agi  # noqa: E402

_RUN = "from cti.agi.__main__ import main; raise SystemExit(main(['run']))"


def loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def server_code(options: list[str]) -> str:
    """The ``python -c`` program that runs one variant's server."""
    code = ""
    for option in options:
        if option == "asyncio":
            code += "import sys; sys.modules['uvloop'] = None; "
        elif option.startswith("si="):
            code += f"import sys; sys.setswitchinterval({float(option[3:])}); "
        elif option:
            raise SystemExit(f"unknown variant option {option!r}")
    return code + _RUN


async def measure(
    tree: Path, options: list[str], url: str, calls: int, concurrency: int, node: str, tmp: Path
) -> dict[str, float]:
    port = bench_agi.free_port()
    env = {
        **os.environ,
        "CTI_DATABASE_URL": url,
        "CTI_DATA_DIR": str(tmp / node),
        "CTI_AGI_BIND": f"127.0.0.1:{port}",
        "CTI_NODE_NAME": node,
        "CTI_LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(tree),
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        server_code(options),
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    database = make_url(url).database or ""
    try:
        await bench_agi.wait_port(port)
        await bench_agi.fastagi_run(port, range(calls, calls + 300), concurrency)  # warm-up
        await asyncio.sleep(0.3)
        run = await bench_agi.measured_run(port, range(calls), concurrency, server.pid, database)
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 30)
    requests = 2 * calls
    return {
        "rps": requests / run.elapsed,
        "p50": bench_agi.quantile_ms(run.latencies, 0.5),
        "p99": bench_agi.quantile_ms(run.latencies, 0.99),
        **{k: v / requests * 1e6 for k, v in run.cpu.items()},
        "other": max(run.other, 0) / run.elapsed,
    }


def line(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:10} {r['rps']:6,.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms | "
        f"CPU/request: server {r['server']:.0f} us, writer {r['writer']:.0f}, "
        f"client {r['client']:.0f}, postgres {r['postgres']:.0f} | "
        f"other processes {r['other']:.2f} cores"
    )


Variant = tuple[str, Path, list[str]]


def parse_args() -> tuple[argparse.Namespace, list[Variant]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", metavar="NAME=TREE[:OPTION,...]")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=5000, help="calls (2 requests each)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "CTI_TEST_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    variants = []
    for spec in args.variants:
        name, _, rest = spec.partition("=")
        tree, _, options = rest.partition(":")
        server_code(options.split(","))  # refuse unknown options before starting
        variants.append((name, Path(tree).resolve(), options.split(",")))
    return args, variants


async def main(args: argparse.Namespace, variants: list[Variant]) -> None:
    results: dict[str, list[dict[str, float]]] = {v[0]: [] for v in variants}
    print(
        f"cores: {os.cpu_count()}, {args.calls} calls = {2 * args.calls} requests per "
        f"measurement, concurrency {args.concurrency}, {args.rounds} rounds; "
        f"load average before: {loadavg()}",
        flush=True,
    )
    async with bench_agi.fresh_database(args.admin_url) as url:
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.rounds):
                for vname, tree, options in variants if round_ % 2 == 0 else variants[::-1]:
                    result = await measure(
                        tree,
                        options,
                        url,
                        args.calls,
                        args.concurrency,
                        f"{vname}-{round_}",
                        Path(tmp),
                    )
                    results[vname].append(result)
                    print(f"round {round_} {line(vname, result)} | load {loadavg()}", flush=True)
                    await asyncio.sleep(1)
    print(f"medians over {args.rounds} rounds (load average after: {loadavg()}):")
    for vname, rounds in results.items():
        median = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        spread = f"{min(r['rps'] for r in rounds):,.0f}-{max(r['rps'] for r in rounds):,.0f}"
        print(f"  {line(vname, median)} (req/s {spread})")


if __name__ == "__main__":
    arguments = parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(*arguments))
    else:
        uvloop.run(main(*arguments))

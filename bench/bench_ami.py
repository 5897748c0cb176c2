"""AMI throughput: events/s through our parse + call tracker + pop decision (PopBook),
against raw panoramisk 1.4 parsing (``AMIProtocol.data_received``) of the same bytes, in
the same run, on one core. Target: ours >= 0.7 x raw.

The stream is built from the real captures in ``../shared/asterisk-traces`` (the queue
calls of both captures, unfiltered logins: VarSet, Newexten, AGIExec... included, as a
default ``read=all`` login receives them) plus synthesized ring-all/transfer fixtures, repeated
with the Uniqueids/Linkedids shifted per copy so every call is a distinct call. It is fed
in 64 KiB reads, like a socket. "events" counts every message in the stream, for both.

    .venv/bin/python bench/bench_ami.py [--copies N] [--rounds R] [--write-docs]
    .venv/bin/python bench/bench_ami.py --pace 15000 --seconds 15   (an operating point)
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

from panoramisk.ami_protocol import AMIProtocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import docs  # noqa: E402
from cti.ami.protocol import AmiFramer, event_name, parse_message  # noqa: E402
from cti.ami.replay import read_stream  # noqa: E402
from cti.ami.screenpop import PopBook  # noqa: E402
from cti.ami.tracker import CallTracker  # noqa: E402

TRACES = ROOT.parent / "shared" / "asterisk-traces"
FIXTURES = ROOT / "tests" / "fixtures" / "ami"
SOURCES = [
    TRACES / "ami-answered-queue-call.txt",
    TRACES / "ami-abandoned.txt",
    TRACES / "capture2" / "ami-hh-answered.txt",
    TRACES / "capture2" / "ami-hh-abandoned.txt",
    TRACES / "capture2" / "ami-restart-after.txt",
    TRACES / "capture2" / "ami-events-call-agent-user.txt",
    FIXTURES / "ring-all.txt",
    FIXTURES / "blind-transfer.txt",
    FIXTURES / "ring-timeout-hunt.txt",
]
_ID = re.compile(rb"^(\w*(?:Uniqueid|Linkedid|UniqueId)): (\d+)\.(\d+)\r$", re.M)
CHUNK = 65536


def body(path: Path) -> bytes:
    """A capture without its banner and login response (one stream, one login)."""
    data = read_stream(path)
    start = data.find(b"Event: ")
    return data[start:]


def build_stream(copies: int) -> bytes:
    parts = [b"Asterisk Call Manager/11.0.0\r\n"]
    bodies = [body(p) for p in SOURCES]
    for i in range(copies):
        shift = (i + 1) * 1000

        def renumber(m: re.Match[bytes], shift: int = shift) -> bytes:
            return b"%s: %d.%s\r" % (m[1], int(m[2]) + shift, m[3])

        parts.extend(_ID.sub(renumber, data) for data in bodies)
    return b"".join(parts)


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def run_panoramisk(reads: list[bytes]) -> int:
    count = 0

    class Factory:
        def dispatch(self, message: object) -> None:
            nonlocal count
            count += 1

    proto = AMIProtocol()
    proto.connection_made(transport=None)
    proto.factory = Factory()
    proto.encoding = "utf8"
    for read in reads:
        proto.data_received(read)
    return count


def run_ours(reads: list[bytes], prefilter: bool = True) -> tuple[int, int, int]:
    tracker = CallTracker(clock=lambda: 0.0)
    book = PopBook()
    wanted = tracker.wanted_events if prefilter else None
    framer = AmiFramer()
    feed, apply = tracker.feed, book.apply
    events = domain = pops = 0
    for read in reads:
        for block in framer.feed(read):
            name = event_name(block)
            if name is None:
                continue
            events += 1
            if wanted is not None and name not in wanted:
                continue
            for event in feed(parse_message(block), "bench"):
                domain += 1
                pops += len(apply(event))
    return events, domain, pops


def run_paced(data: bytes, rate: float, seconds: float) -> dict[str, float]:
    """The same pipeline fed at ``rate`` events a second for ``seconds`` (the stream in
    4 KiB reads, each due at its share of the rate, open loop: a read waits for its
    time, never for the one before to be done), as a listener at an operating point
    rather than flat out. The stream restarts with a fresh tracker when it runs out.
    Returns the events/s served, the lag of each read (due time to processed) and the
    CPU this process used, in cores."""
    reads = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    per_read = run_ours(reads)[0] / len(reads)
    interval = per_read / rate
    lags: list[float] = []
    events = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    i = 0
    while time.perf_counter() - t0 < seconds:
        tracker, book, framer = CallTracker(clock=lambda: 0.0), PopBook(), AmiFramer()
        wanted = tracker.wanted_events
        for read in reads:
            due = t0 + i * interval
            i += 1
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            for block in framer.feed(read):
                name = event_name(block)
                if name is None:
                    continue
                events += 1
                if name in wanted:
                    for event in tracker.feed(parse_message(block), "bench"):
                        book.apply(event)
            lags.append(time.perf_counter() - due)
            if due - t0 >= seconds:
                break
    elapsed = time.perf_counter() - t0
    lags.sort()
    return {
        "rate": events / elapsed,
        "p50": lags[len(lags) // 2] * 1000,
        "p99": lags[int(len(lags) * 0.99)] * 1000,
        "max": lags[-1] * 1000,
        "cores": (time.process_time() - cpu0) / elapsed,
    }


def best_rate(fn, reads: list[bytes], rounds: int) -> tuple[float, int]:
    rates = []
    count = 0
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn(reads)
        elapsed = time.perf_counter() - start
        count = result if isinstance(result, int) else result[0]
        rates.append(count / elapsed)
    return statistics.median(rates), count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--pace", type=float, help="feed this many events a second instead (operating point)"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="how long --pace runs")
    args = parser.parse_args()

    data = build_stream(args.copies)
    if args.pace:
        r = run_paced(data, args.pace, args.seconds)
        print(
            f"ours paced at {args.pace:,.0f} events/s: {r['rate']:,.0f} events/s served, "
            f"read lag p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, max {r['max']:.1f} ms, "
            f"{r['cores']:.2f} cores"
        )
        return 0
    reads = chunks(data)
    raw_rate, raw_events = best_rate(run_panoramisk, reads, args.rounds)
    ours_rate, ours_events = best_rate(run_ours, reads, args.rounds)
    full_rate, _ = best_rate(lambda r: run_ours(r, prefilter=False), reads, args.rounds)
    _, domain, pops = run_ours(reads)
    ratio = ours_rate / raw_rate
    full_ratio = full_rate / raw_rate
    verdict = "meets" if ratio >= 0.7 else "MISSES"
    lines = [
        f"stream: {len(data) / 1e6:.1f} MB, {ours_events} events "
        f"({args.copies} copies of {len(SOURCES)} call traces), {domain} domain events, "
        f"{pops} pop actions",
        f"raw panoramisk parse:                 {raw_rate:>10,.0f} events/s",
        f"ours, parse+tracker+PopBook:          {ours_rate:>10,.0f} events/s  "
        f"({ratio:.2f}x raw, target >= 0.7x: {verdict})",
        f"ours, same but parsing every event:   {full_rate:>10,.0f} events/s  "
        f"({full_ratio:.2f}x raw)",
    ]
    assert raw_events == ours_events, (raw_events, ours_events)
    print("\n".join(lines))
    if args.write_docs:
        command = (
            f"$ .venv/bin/python bench/bench_ami.py --copies {args.copies} "
            f"--rounds {args.rounds} --write-docs"
        )
        docs.publish("AMI", command, "\n".join(lines))
    return 0 if ratio >= 0.7 else 1


if __name__ == "__main__":
    raise SystemExit(main())

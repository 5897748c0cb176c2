"""Routing benchmark: render + lint + write for 5,000 rules, and simulator decisions/s.

    .venv/bin/python bench/bench_routing.py [--rules 5000]

Pure parts only (no database, no Asterisk): check, compile, render, asterisklint on a
private copy of extensions.conf, atomic write (fsync + rename) into a temporary folder.
Target (issue #5): apply of 5,000 rules in under 1 s before the reload.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cti.routing.apply import write_atomic
from cti.routing.decide import compile_table, decide
from cti.routing.lint import lint
from cti.routing.render import FILENAME, render
from cti.routing.rules import Catalog, check

ROOT = Path(__file__).resolve().parents[1]
COUNTIES = {c: f"county-{c}" for c in ("north", "south", "east", "west")}


def rules(n: int, rng: random.Random, global_share: float, n_dids: int | None = None) -> dict:
    count = n // 5 if n_dids is None else n_dids
    dids = [{"did": f"96{i:05d}", "county": rng.choice(list(COUNTIES))} for i in range(count)]
    prefixes, seen = [], set()
    while len(prefixes) < n - len(dids):
        prefix = "1" + "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 7)))
        did = None if rng.random() < global_share else rng.choice(dids)["did"]
        if (prefix, did) not in seen:
            seen.add((prefix, did))
            prefixes.append({"prefix": prefix, "county": rng.choice(list(COUNTIES)), "did": did})
    return {"dids": dids, "prefixes": prefixes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=5000)
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument(
        "--global-share",
        type=float,
        default=0.0,
        help="share of prefix rules that apply to every DID (each is rendered once)",
    )
    parser.add_argument("--dids", type=int, default=None, help="DIDs among the rules (rules/5)")
    args = parser.parse_args()
    rng = random.Random(5)
    data = rules(args.rules, rng, args.global_share, args.dids)
    catalog = Catalog(COUNTIES)
    c0 = time.process_time()
    t0 = time.perf_counter()
    checked = check(data, catalog)
    t1 = time.perf_counter()
    table = compile_table(checked, catalog)
    rendered = render(table)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copyfile(ROOT / "asterisk_conf" / "extensions.conf", folder / "extensions.conf")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = lint(rendered.text, folder, timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        t3 = time.perf_counter()
        write_atomic(folder / FILENAME, rendered.text.encode())
        t4 = time.perf_counter()
    c4 = time.process_time()
    assert result.ok, result.output[:500]
    lines = rendered.text.count("\n")
    print(f"rules: {len(checked.dids)} DIDs + {len(checked.prefixes)} prefixes")
    print(
        f"dialplan: {lines} lines, {len(rendered.text)} bytes, {len(rendered.entries)} priorities"
    )
    print(f"validate {1000 * (t1 - t0):.0f} ms, compile+render {1000 * (t2 - t1):.0f} ms, "
          f"lint {1000 * (t3 - t2):.0f} ms, write {1000 * (t4 - t3):.1f} ms; "
          f"total {1000 * (t4 - t0):.0f} ms")  # fmt: skip
    # CPU time as well as wall time: on a shared host the wall time includes waiting for
    # a core; the lint runs in a child process, so its CPU comes from RUSAGE_CHILDREN
    lint_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"CPU: validate+render+write {1000 * (c4 - c0):.0f} ms (this process), "
          f"asterisklint {1000 * lint_cpu:.0f} ms (child process); "
          f"sum {1000 * (c4 - c0 + lint_cpu):.0f} ms")  # fmt: skip
    dids = list(table.dids)
    start = datetime(2027, 1, 4, tzinfo=UTC)
    calls = [
        (
            "1" + "".join(rng.choice("0123456789") for _ in range(10)),
            rng.choice(dids),
            start + timedelta(minutes=rng.randint(0, 10_000)),
        )
        for _ in range(args.decisions)
    ]
    t5 = time.perf_counter()
    for caller, did, at in calls:
        decide(table, caller=caller, did=did, at=at)
    t6 = time.perf_counter()
    print(f"simulator: {args.decisions / (t6 - t5):,.0f} decisions/s")


if __name__ == "__main__":
    main()

"""``scripts/lab``: the live suite's setup by hand. Starts Asterisk (the project's
``asterisk_conf/``, site data changed by ``pbx.site_conf``), ``cti serve`` on a fresh
database, and two agent phones (SIPp, 1001 and 1002 of North County, registered with their
credentials, answering after 2 s and talking 20 s), then prints how to place a call.
Ctrl-C stops everything and drops the database."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys

from tests.conftest import _admin_url
from tests.databases import throwaway_database
from tests.live import backend, pbx, sipp
from tests.live.conftest import PASSWORD, _agents

LAB_PHONES = ("1001", "1002")


async def main() -> int:
    reason = pbx.missing()
    if reason:
        print(f"lab: {reason}", file=sys.stderr)
        return 1
    site = pbx.new_site()
    pbx.site_conf(site)
    work = site.root / "work"
    work.mkdir()
    asterisk = pbx.Asterisk(site)
    phones: list[sipp.Phone] = []
    async with throwaway_database(_admin_url(), "cti_lab") as url:
        from cti.store.db import make_engine, make_session_factory

        engine = make_engine(url)
        served = backend.Backend(
            backend.environment(site, url, site.root / "cti-data"), site.root / "cti.log"
        )
        try:
            usernames = await _agents(make_session_factory(engine))
            trunk = sipp.Phone(site, work, "trunk", host=pbx.TRUNK_HOST, port=site.trunk_port)
            trunk.start()
            phones.append(trunk)
            asterisk.start()
            await served.start()
            for endpoint in LAB_PHONES:
                phone = sipp.Phone(
                    site, work, endpoint, host=pbx.AGENT_HOST,
                    password=site.passwords[endpoint],
                    default=sipp.Answer(ring_ms=2000, talk_ms=20000),
                )  # fmt: skip
                phone.start()
                phones.append(phone)
            (work / "call.xml").write_text(sipp.citizen_scenario(60000))
            (work / "call.csv").write_text("SEQUENTIAL\n13800138000;9615601;\n")
            print(
                f"""
Hotline lab running (files in {site.root}).
  backend   {served.base}   agents: {", ".join(usernames[e] for e in LAB_PHONES)}
            (password "{PASSWORD}"; open /agent to see the screen-pop)
  Asterisk  SIP udp 127.0.0.1:{site.sip_port}, AMI 127.0.0.1:{site.ami_port}
            CLI: {pbx.BINARY} -C {site.etc}/asterisk.conf -r
  log       {site.messages_log}   backend log {site.root}/cti.log

Place a citizen's call to North County (DID 9615601) from the trunk's address:
  cd {work} && sipp 127.0.0.1:{site.sip_port} -sf call.xml -inf call.csv -i {pbx.TRUNK_HOST} -m 1

Ctrl-C stops everything.""",
                flush=True,
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            for phone in phones:
                phone.stop()
            served.stop()
            asterisk.stop()
            await engine.dispose()
    with contextlib.suppress(OSError):
        shutil.rmtree(site.root)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

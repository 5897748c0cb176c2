"""``cti reports monthly --month YYYY-MM [--county CODE] [--out FILE]``: the supervising
authority's monthly XLSX (``cti.stats.service.monthly_workbook``); ``cti/cli.py`` calls
``register`` once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_monthly(args: argparse.Namespace) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    from cti.settings import Settings
    from cti.stats.queries import Period
    from cti.stats.service import monthly_workbook
    from cti.store.counties import UnknownCounty, county_id_by_code
    from cti.store.db import with_session

    try:
        period = Period.parse_month(args.month)
    except ValueError as e:
        print(f"cti reports: {e}", file=sys.stderr)
        return 2

    async def work(session: AsyncSession) -> bytes | None:
        try:
            county = await county_id_by_code(session, args.county)
        except UnknownCounty:
            return None
        return await monthly_workbook(session, period, None if county is None else [county])

    data = with_session(Settings(), work)
    if data is None:
        print(f"cti reports: no county {args.county!r}", file=sys.stderr)
        return 1
    out = Path(args.out or f"hotline-monthly-{period.start:%Y-%m}.xlsx")
    out.write_bytes(data)
    print(out)
    return 0


def register(cmd: argparse._SubParsersAction) -> None:
    reports = cmd.add_parser("reports", help="statistics reports")
    sub = reports.add_subparsers(dest="reports_cmd", required=True)
    monthly = sub.add_parser("monthly", help="write the authority's monthly report (XLSX)")
    monthly.add_argument("--month", required=True, help="YYYY-MM")
    monthly.add_argument("--county", help="one county's code (default: every county)")
    monthly.add_argument("--out", help="file to write (default hotline-monthly-YYYY-MM.xlsx)")
    monthly.set_defaults(func=cmd_monthly)

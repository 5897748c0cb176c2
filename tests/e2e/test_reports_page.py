"""A supervisor opens /reports in a real browser, sees the chart and the table, and
downloads the CSV and the XLSX, which are read back."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.integration.web.test_reports import MONTH, calls  # noqa: F401 (fixture)
from tests.live import live_server


async def test_supervisor_downloads_the_csv_and_the_xlsx(
    app,
    browser,
    make_user,
    calls,  # noqa: F811 (the fixture imported above)
    tmp_path,
):
    supervisor = await make_user("supervisor", county="north")
    north, south = calls["north"].name, calls["south"].name
    async with live_server(app) as base:
        page = await browser_login(browser, base, supervisor, PASSWORD)
        await page.click("nav >> text=Reports")
        await page.fill("input[name=month]", MONTH)
        await page.click("form[data-testid=report-filters] button[type=submit]")
        await page.wait_for_url(lambda url: f"month={MONTH}" in url)
        assert await page.locator("[data-testid=chart-bars] svg rect").count() >= 1
        table = await page.locator("[data-testid=report-table]").inner_text()
        assert north in table and south not in table

        async with page.expect_download() as csv_download:
            await page.click("[data-testid=download-csv]")
        csv_path = Path(tmp_path / "report.csv")
        await (await csv_download.value).save_as(csv_path)
        rows = {
            r["county"]: r
            for r in csv.DictReader(io.StringIO(await asyncio.to_thread(csv_path.read_text)))
        }
        assert set(rows) == {north, "total"}
        assert (rows[north]["offered"], rows[north]["answered"]) == ("3", "2")

        async with page.expect_download() as xlsx_download:
            await page.click("[data-testid=download-xlsx]")
        xlsx_path = Path(tmp_path / "report.xlsx")
        await (await xlsx_download.value).save_as(xlsx_path)
        sheet = (await asyncio.to_thread(load_workbook, xlsx_path)).active
        body = {r[0]: r for r in sheet.iter_rows(min_row=3, values_only=True)}
        assert set(body) == {north, "total"}
        assert body[north][1:3] == (3, 2)
        await page.context.close()

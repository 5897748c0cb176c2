"""A supervisor opens /reports in a real browser, sees the service section (charts,
tables, a hostile company name shown as text) and downloads the service CSV and XLSX,
which are read back."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.integration.web.test_reports_service import MONTH, service  # noqa: F401 (fixture)
from tests.live import live_server


async def test_supervisor_reads_and_downloads_the_service_report(
    app,
    browser,
    make_user,
    service,  # noqa: F811 (the fixture imported above)
    tmp_path,
):
    supervisor = await make_user("supervisor", county="north")
    north = service["counties"]["north"].name
    async with live_server(app) as base:
        page = await browser_login(browser, base, supervisor, PASSWORD)
        await page.goto(f"{base}/reports?month={MONTH}")
        section = page.locator("[data-testid=service-section]")
        assert await section.locator("[data-testid=chart-service-category] svg rect").count() >= 1
        companies = await page.locator("[data-testid=service-companies]").inner_text()
        assert service["company"] in companies  # the <script> in its name is text
        assert await page.evaluate("window.__xss === undefined")
        counties = await page.locator("[data-testid=service-county]").inner_text()
        assert north in counties and service["counties"]["south"].name not in counties

        async with page.expect_download() as csv_download:
            await page.click("[data-testid=download-service-csv]")
        csv_path = Path(tmp_path / "service.csv")
        await (await csv_download.value).save_as(csv_path)
        rows = list(csv.reader(io.StringIO(await asyncio.to_thread(csv_path.read_text))))
        by_county = rows[rows.index(["Tickets by county"]) + 2 :][:2]
        assert by_county == [[north, "2"], ["total", "2"]]

        async with page.expect_download() as xlsx_download:
            await page.click("[data-testid=download-service-xlsx]")
        xlsx_path = Path(tmp_path / "service.xlsx")
        await (await xlsx_download.value).save_as(xlsx_path)
        book = await asyncio.to_thread(load_workbook, xlsx_path)
        cells = [c for row in book["Service"].iter_rows(values_only=True) for c in row if c]
        assert north in cells and "'" + service["company"] in cells
        await page.context.close()

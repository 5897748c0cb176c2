"""Reports as files: CSV, XLSX, and the monthly workbook for the supervising authority.

XLSX through openpyxl (a well-kept, pure-Python writer whose native charts open in Excel
and LibreOffice). Cells that begin like a formula are written as text, never evaluated:
county and agent names are typed by admins.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference

from cti.stats.report import Report
from cti.stats.service_report import ServiceReport

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # shown as text by every spreadsheet
    return value


def to_csv(report: Report) -> str:
    """The report's table as CSV (header first, the total last)."""
    header, body = report.table()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in body:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return out.getvalue()


def _sheet(book: Workbook, report: Report, name: str, chart: str | None) -> None:
    sheet = book.create_sheet(name[:31])
    header, body = report.table()
    sheet.append([report.title])
    sheet.append(header)
    for row in body:
        sheet.append([_cell(v) for v in row])
    if chart is None or not report.rows:
        return
    first, last = 3, 2 + len(report.rows)
    cats = Reference(sheet, min_col=1, min_row=first, max_row=last)
    if chart == "bars":
        c = BarChart()
        c.type, c.grouping, c.overlap = "col", "stacked", 100
        for column in ("answered", "abandoned", "short abandoned", "overflowed/timeout"):
            col = header.index(column) + 1
            c.add_data(
                Reference(sheet, min_col=col, min_row=2, max_row=last), titles_from_data=True
            )
    else:
        c = LineChart()
        col = header.index("offered") + 1
        c.add_data(Reference(sheet, min_col=col, min_row=2, max_row=last), titles_from_data=True)
    c.set_categories(cats)
    c.title = report.title
    c.width, c.height = 24, 10
    sheet.add_chart(c, f"A{last + 3}")


def service_csv(report: ServiceReport) -> str:
    """The service report's tables as CSV, one after the other: each a title row, its
    header and its rows, then an empty row."""
    out = io.StringIO()
    writer = csv.writer(out)
    for table in report.tables:
        writer.writerow([table.title])
        writer.writerow(table.header)
        for row in table.rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])
        writer.writerow([])
    return out.getvalue()


def _service_sheet(book: Workbook, report: ServiceReport, name: str = "Service") -> None:
    """The service tables on one sheet, one under the other, and a bar chart of the
    tickets by category beside them."""
    sheet = book.create_sheet(name[:31])
    sheet.append([report.title])
    for table in report.tables:
        sheet.append([])
        sheet.append([table.title])
        sheet.append(table.header)
        first = sheet.max_row + 1
        for row in table.rows:
            sheet.append([_cell(v) for v in row])
        if table.key == "category" and len(table.rows) > 1:
            c = BarChart()
            last = sheet.max_row - 1  # not the total
            c.add_data(
                Reference(sheet, min_col=2, min_row=first - 1, max_row=last),
                titles_from_data=True,
            )
            c.set_categories(Reference(sheet, min_col=1, min_row=first, max_row=last))
            c.title = table.title
            c.width, c.height = 18, 9
            sheet.add_chart(c, "L2")


def to_xlsx(
    reports: Sequence[tuple[Report, str, str | None]], service: ServiceReport | None = None
) -> bytes:
    """A workbook with one sheet per (report, sheet name, chart kind: bars, line or None),
    and a ``Service`` sheet when ``service`` is given."""
    book = Workbook()
    book.remove(book.active)
    for report, name, chart in reports:
        _sheet(book, report, name, chart)
    if service is not None:
        _service_sheet(book, service)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

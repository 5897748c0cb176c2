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


def to_xlsx(reports: Sequence[tuple[Report, str, str | None]]) -> bytes:
    """A workbook with one sheet per (report, sheet name, chart kind: bars, line or None)."""
    book = Workbook()
    book.remove(book.active)
    for report, name, chart in reports:
        _sheet(book, report, name, chart)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

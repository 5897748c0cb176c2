"""``cti reports monthly`` as an operator runs it: a real process, the file read back."""

from __future__ import annotations

from openpyxl import load_workbook

from tests.integration.test_cli import _cti, _env


async def test_monthly_writes_the_workbook(database_url, seeded, tmp_path):
    env = _env(database_url, tmp_path)
    out = tmp_path / "nov.xlsx"
    done = await _cti(env, "reports", "monthly", "--month", "2026-11", "--out", str(out))
    assert done.returncode == 0, done.stderr
    book = load_workbook(out)
    assert book.sheetnames[0] == "By county"
    assert book["By county"]["A1"].value == "Calls 2026-11-01 to 2026-12-01 by county"
    assert book["By county"]["B2"].value == "offered"


async def test_monthly_refuses_a_bad_month_or_county(database_url, seeded, tmp_path):
    env = _env(database_url, tmp_path)
    bad = await _cti(env, "reports", "monthly", "--month", "2026-13")
    assert bad.returncode == 2 and "not a month" in bad.stderr
    unknown = await _cti(env, "reports", "monthly", "--month", "2026-11", "--county", "atlantis")
    assert unknown.returncode == 1 and "no county" in unknown.stderr

"""What the ticket search builder produces: one SELECT, every value bound, keyset order."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy.dialects import postgresql

from cti.tickets import access, search

EVERYTHING = access.Scope(everything=True)


def _sql(filters: search.Filters, scope=EVERYTHING, **kw) -> tuple[str, dict]:
    compiled = search.page_query(filters, scope, **kw).compile(dialect=postgresql.dialect())
    # asyncpg-style casts on the bound parameters say nothing about the query's shape
    sql = re.sub(r"::(TIMESTAMP WITH TIME ZONE|INTEGER|VARCHAR)", "", str(compiled))
    return sql, compiled.params


def test_no_filter_is_newest_first_with_one_extra_row():
    sql, params = _sql(search.Filters())
    assert "WHERE" not in sql
    assert sql.rstrip().endswith(
        "ORDER BY tickets.created_at DESC, tickets.id DESC \n LIMIT %(param_1)s"
    )
    assert params["param_1"] == search.PAGE_SIZE + 1


def test_every_filter_is_a_bound_parameter():
    hostile = "'); DROP TABLE tickets;--"
    filters = search.Filters(
        number=" t2026-000042 ",
        citizen="50%_off\\",
        phone="+86 138-0013-8000",
        category_id=4,
        county_id=2,
        status="new",
        company_id=7,
        since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 2, 1, tzinfo=UTC),
        text=hostile,
    )
    sql, params = _sql(filters)
    assert hostile not in sql  # values never in the SQL text
    values = set(map(str, params.values()))
    assert "T2026-000042" in values  # trimmed, upper-cased
    assert "%50\\%\\_off\\\\%" in values  # LIKE wildcards typed by the user are literal
    assert "13800138000" in values  # the phone normalised like a caller ID
    assert hostile in values
    assert "websearch_to_tsquery('simple'::regconfig" in sql
    assert "citizen_phones.number" in sql
    # by company: read from that company's dispatches, in their tickets' order
    assert "JOIN dispatches ON dispatches.ticket_id = tickets.id AND dispatches.company_id" in sql
    assert "ORDER BY dispatches.ticket_created_at DESC, dispatches.ticket_id DESC" in sql
    assert "dispatches.ticket_created_at >= " in sql and "dispatches.ticket_created_at < " in sql
    assert "tickets.category_id = " in sql and "tickets.county_id = " in sql


def test_a_phone_that_is_no_number_matches_nothing():
    _, params = _sql(search.Filters(phone="<script>"))
    assert "" in params.values()  # the empty key: no stored number equals it
    _, blank = _sql(search.Filters(phone="   "))
    assert "citizen_phones" not in _sql(search.Filters(phone="   "))[0] and blank


def test_scope_and_cursor():
    sql, params = _sql(
        search.Filters(),
        access.Scope(county_id=3, owner_id=9),
        after=(datetime(2026, 5, 1, tzinfo=UTC), 41),
        limit=10,
    )
    assert "(tickets.county_id = %(county_id_1)s OR tickets.owner_id = %(owner_id_1)s)" in sql
    assert "(tickets.created_at, tickets.id) < (%(param_1)s, %(param_2)s)" in sql
    assert params["param_3"] == 11
    nothing, _ = _sql(search.Filters(), access.Scope(nothing=True))
    assert "false" in nothing


def test_cursor_round_trip_and_forgeries():
    at = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    assert search.decode_cursor(search.encode_cursor(at, 12)) == (at, 12)
    for forged in ("", "!!!", "bm90IGEgY3Vyc29y", search.encode_cursor(at, 1)[:-3] + "A"):
        with pytest.raises(search.InvalidCursor):
            search.decode_cursor(forged)


def test_tabs():
    now = datetime(2026, 12, 7, tzinfo=UTC)
    typed = search.Filters(text="leak")
    assert search.tab_filters(search.Tab.MINE, 5, 2, now, typed) == search.Filters(
        open_only=True, owner_id=5
    )
    assert search.tab_filters(search.Tab.COUNTY, 5, 2, now, typed).county_id == 2
    assert search.tab_filters(search.Tab.OVERDUE, 5, None, now, typed).overdue_at == now
    assert search.tab_filters(search.Tab.SEARCH, 5, None, now, typed) is typed
    overdue_sql, _ = _sql(search.Filters(overdue_at=now))
    assert "dispatches.accept_by <" in overdue_sql and "dispatches.finish_by <" in overdue_sql


def _where(filters, scope) -> str:
    return _sql(filters, scope)[0].split("WHERE", 1)[1]


def test_scope_is_simplified_by_the_filters():
    agent = access.Scope(county_id=3, owner_id=9)
    own_county, _ = _where(search.Filters(county_id=3), agent), None
    assert "owner_id" not in own_county and "tickets.county_id = " in own_county
    other_county, _ = _where(search.Filters(county_id=4), agent), None
    assert " OR " not in other_county and "tickets.owner_id = " in other_county
    mine, _ = _where(search.Filters(owner_id=9), agent), None
    assert " OR " not in mine and "county_id" not in mine
    someone_elses, _ = _where(search.Filters(owner_id=10), agent), None
    assert "(tickets.county_id = %(county_id_1)s OR tickets.owner_id = %(owner_id_1)s)" in (
        someone_elses
    )
    supervisor_elsewhere, _ = _where(search.Filters(county_id=4), access.Scope(county_id=3)), None
    assert "false" in supervisor_elsewhere


def test_a_company_search_says_its_date_range_once_on_the_dispatches():
    """Said on both tables, the planner multiplies the two ranges' selectivities (1/24th
    of the rows it will find for a month) and sorts a whole month of the company's
    tickets instead of walking them newest first; measured in bench_ticket_search."""
    month = {
        "since": datetime(2026, 3, 1, tzinfo=UTC),
        "until": datetime(2026, 4, 1, tzinfo=UTC),
    }
    sql, _ = _sql(search.Filters(company_id=7, **month))
    assert "dispatches.ticket_created_at >= " in sql and "dispatches.ticket_created_at < " in sql
    assert "tickets.created_at >=" not in sql and "tickets.created_at <" not in sql
    sql, _ = _sql(search.Filters(**month))  # without a company: on the tickets
    assert "tickets.created_at >= " in sql and "tickets.created_at < " in sql

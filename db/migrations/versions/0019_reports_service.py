"""Reports: the service figures' monthly rollup, kept per ticket change by triggers (issue 14).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 09:40:00

The service figures (``cti.stats.service_figures``) read tickets, their dispatches, their
revisits, their answer events and the articles those cited; a month's report over the raw
rows of two million tickets takes seconds. So each ticket's *contribution* to the month's
figures -- counted once under the month of the timestamp each figure is keyed on (created,
dispatched, done, revisited) and the ticket's county -- is kept in
``service_ticket_contributions``, and their sums in ``service_rollup_monthly``.

``service_rollup_refresh(ticket)`` takes the ticket's recorded contribution out of the
rollup, computes it again from the rows as they are now (``service_contributions``) and
puts that in. Triggers on every table a figure reads call it for the ticket a written row
belongs to (and for the complaint tickets about it, whose company is its last dispatch's),
in the writing transaction: any writer keeps the rollup right and a change shows at once.
The contribution table has no foreign key, so a deleted ticket's contribution is still
there to be taken out. Refreshes of one ticket are serialised by a lock on the ticket's
row (``FOR NO KEY UPDATE``), so two writers of the same ticket never take the same old
contribution out twice.

Rows: ``metric`` with a text key ``k1`` and a number key ``k2``: tickets, category (k2 the
category), channel / status (k1), information, with_article; to_dispatch, to_accept,
to_finish (k2 the whole minutes, ``total`` the exact seconds: the exact average, and the
90th percentile to the minute below); jobs, declined, done, on_time, rated (``total`` the
satisfaction sum), upheld (k2 the company); coverage (k2 the whole days, rounded up, from
the job's end to the first revisit after it, -1 for none: "revisited within N days" is
``0 <= k2 <= N`` for any N).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MONTH = "date_trunc('month', {} AT TIME ZONE 'UTC')::date"

# The SQL below is built from this module's constants only.
_CONTRIBUTIONS = f"""
CREATE FUNCTION service_contributions(tid int)
RETURNS TABLE (month date, county_id int, metric text, k1 text, k2 int, n int, total float8)
LANGUAGE sql STABLE AS $$
WITH t AS (
    SELECT id, created_at, {_MONTH.format("created_at")} AS month,
           COALESCE(county_id, 0) AS county_id, COALESCE(category_id, 0) AS category_id,
           channel, status, complaint_of_id, complaint_upheld
    FROM tickets WHERE id = tid
), answered AS (
    SELECT EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = tid AND e.kind = 'answer')
           AS yes,
           EXISTS (SELECT 1 FROM ticket_article_answers a WHERE a.ticket_id = tid) AS article
), d AS (
    SELECT dd.*, {_MONTH.format("dd.dispatched_at")} AS dmonth
    FROM dispatches dd WHERE dd.ticket_id = tid
), first_dispatch AS (SELECT min(dispatched_at) AS at FROM d),
r AS (SELECT * FROM revisits WHERE ticket_id = tid),
o AS (
    SELECT COALESCE(o.county_id, 0) AS county_id,
           (SELECT dd.company_id FROM dispatches dd WHERE dd.ticket_id = o.id
            ORDER BY dd.id DESC LIMIT 1) AS company_id
    FROM t JOIN tickets o ON o.id = t.complaint_of_id WHERE t.complaint_upheld
)
SELECT month, county_id, 'tickets', '', 0, 1, 0::float8 FROM t
UNION ALL SELECT month, county_id, 'category', '', category_id, 1, 0 FROM t
UNION ALL SELECT month, county_id, 'channel', channel, 0, 1, 0 FROM t
UNION ALL SELECT month, county_id, 'status', status, 0, 1, 0 FROM t
UNION ALL SELECT month, county_id, 'information', '', 0, 1, 0 FROM t, answered WHERE answered.yes
UNION ALL SELECT month, county_id, 'with_article', '', 0, 1, 0 FROM t, answered
    WHERE answered.yes AND answered.article
UNION ALL SELECT t.month, t.county_id, 'to_dispatch', '', floor(s.s / 60)::int, 1, s.s
    FROM t, first_dispatch f,
         LATERAL (SELECT GREATEST(0, EXTRACT(epoch FROM f.at - t.created_at))::float8 AS s) s
    WHERE f.at IS NOT NULL
UNION ALL SELECT d.dmonth, t.county_id, 'to_accept', '', floor(s.s / 60)::int, 1, s.s
    FROM t, d,
         LATERAL (SELECT GREATEST(0, EXTRACT(epoch FROM d.accepted_at - d.dispatched_at))::float8
                  AS s) s
    WHERE d.accepted_at IS NOT NULL
UNION ALL SELECT d.dmonth, t.county_id, 'to_finish', '', floor(s.s / 60)::int, 1, s.s
    FROM t, d,
         LATERAL (SELECT GREATEST(0, EXTRACT(epoch FROM d.done_at - d.accepted_at))::float8
                  AS s) s
    WHERE d.accepted_at IS NOT NULL AND d.done_at IS NOT NULL
UNION ALL SELECT d.dmonth, t.county_id, 'jobs', '', d.company_id, 1, 0 FROM t, d
UNION ALL SELECT d.dmonth, t.county_id, 'declined', '', d.company_id, 1, 0 FROM t, d
    WHERE d.declined_at IS NOT NULL
UNION ALL SELECT d.dmonth, t.county_id, 'done', '', d.company_id, 1, 0 FROM t, d
    WHERE d.done_at IS NOT NULL
UNION ALL SELECT d.dmonth, t.county_id, 'on_time', '', d.company_id, 1, 0 FROM t, d
    WHERE d.done_at IS NOT NULL AND d.done_at <= d.finish_by
UNION ALL SELECT {_MONTH.format("r.at")}, t.county_id, 'rated', '', r.company_id, 1,
                 r.satisfaction
    FROM t, r WHERE r.company_id IS NOT NULL
UNION ALL SELECT {_MONTH.format("r.at")}, t.county_id, 'upheld', '', r.company_id, 1, 0
    FROM t, r WHERE r.company_id IS NOT NULL AND r.complaint_upheld
UNION ALL SELECT t.month, o.county_id, 'upheld', '', o.company_id, 1, 0
    FROM t, o WHERE o.company_id IS NOT NULL
UNION ALL SELECT {_MONTH.format("d.done_at")}, t.county_id, 'coverage', '',
                 COALESCE((SELECT ceil(EXTRACT(epoch FROM min(r.at) - d.done_at) / 86400)::int
                           FROM r WHERE r.at >= d.done_at), -1), 1, 0
    FROM t, d WHERE d.done_at IS NOT NULL
$$
"""  # noqa: S608

_APPLY = """
INSERT INTO service_rollup_monthly AS r (month, county_id, metric, k1, k2, n, total)
SELECT month, county_id, metric, k1, k2, {sign} sum(n), {sign} sum(total)
FROM service_ticket_contributions WHERE ticket_id = tid GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (month, county_id, metric, k1, k2) DO UPDATE
    SET n = r.n + EXCLUDED.n, total = r.total + EXCLUDED.total;
"""

_REFRESH = f"""
CREATE FUNCTION service_rollup_refresh(tid int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF tid IS NULL THEN
        RETURN;
    END IF;
    -- One refresh of a ticket at a time: a concurrent writer of the same ticket waits
    -- here until this transaction ends, then reads the contribution it left. A row lock,
    -- kept in the row itself: an advisory lock per ticket took a slot of the shared lock
    -- table each, so one transaction writing more than a few thousand tickets (an import,
    -- this revision's own backfill) failed with "out of shared memory". NO KEY: the
    -- foreign-key checks of rows inserted for the ticket are not blocked by it.
    PERFORM 1 FROM tickets WHERE id = tid FOR NO KEY UPDATE;
    {_APPLY.format(sign="-")}
    DELETE FROM service_ticket_contributions WHERE ticket_id = tid;
    INSERT INTO service_ticket_contributions
        (ticket_id, month, county_id, metric, k1, k2, n, total)
    SELECT tid, month, county_id, metric, k1, k2, sum(n), sum(total)
    FROM service_contributions(tid) GROUP BY 2, 3, 4, 5, 6;
    {_APPLY.format(sign="")}
END $$
"""  # noqa: S608

#: A ticket and the complaint tickets about it (their company is its last dispatch's).
_REFRESH_WITH_COMPLAINTS = """
CREATE FUNCTION service_rollup_refresh_all(tid int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM service_rollup_refresh(tid);
    PERFORM service_rollup_refresh(c.id) FROM tickets c WHERE c.complaint_of_id = tid;
END $$
"""

#: One trigger function per table: the ticket the old and the new row belong to.
_TRIGGERS = {
    "tickets": ("id", "created_at, county_id, category_id, channel, status, complaint_of_id, "
                "complaint_upheld"),
    "dispatches": ("ticket_id", "ticket_id, company_id, dispatched_at, finish_by, accepted_at, "
                   "declined_at, done_at"),
    "revisits": ("ticket_id", "ticket_id, company_id, at, satisfaction, complaint_upheld"),
    "ticket_events": ("ticket_id", "ticket_id, kind"),
    "ticket_article_answers": ("ticket_id", "ticket_id"),
}  # fmt: skip

_TRIGGER_FUNCTION = """
CREATE FUNCTION {table}_service_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    done int;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') {old_filter} THEN
        PERFORM service_rollup_refresh_all(OLD.{column});
        done := OLD.{column};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') {new_filter} AND NEW.{column} IS DISTINCT FROM done THEN
        PERFORM service_rollup_refresh_all(NEW.{column});
    END IF;
    RETURN NULL;
END $$
"""


def _filters(table: str) -> tuple[str, str]:
    if table == "ticket_events":  # only answers count
        return "AND OLD.kind = 'answer'", "AND NEW.kind = 'answer'"
    return "", ""


def upgrade() -> None:
    op.create_table(
        "service_rollup_monthly",
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("county_id", sa.Integer, nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("k1", sa.String(32), nullable=False),
        sa.Column("k2", sa.Integer, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("total", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("month", "county_id", "metric", "k1", "k2"),
    )
    op.create_table(
        "service_ticket_contributions",
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("county_id", sa.Integer, nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("k1", sa.String(32), nullable=False),
        sa.Column("k2", sa.Integer, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("total", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "month", "county_id", "metric", "k1", "k2"),
    )
    op.execute(_CONTRIBUTIONS)
    op.execute(_REFRESH)
    op.execute(_REFRESH_WITH_COMPLAINTS)
    for table, (column, columns) in _TRIGGERS.items():
        old_filter, new_filter = _filters(table)
        op.execute(
            _TRIGGER_FUNCTION.format(
                table=table, column=column, old_filter=old_filter, new_filter=new_filter
            )
        )
        op.execute(
            f"CREATE TRIGGER service_rollup AFTER INSERT OR DELETE OR UPDATE OF {columns} "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_service_rollup()"
        )
    # Tickets written before this revision count too.
    op.execute("SELECT service_rollup_refresh(id) FROM tickets")


def downgrade() -> None:
    for table in _TRIGGERS:
        op.execute(f"DROP TRIGGER service_rollup ON {table}")
        op.execute(f"DROP FUNCTION {table}_service_rollup()")
    op.execute("DROP FUNCTION service_rollup_refresh_all(int)")
    op.execute("DROP FUNCTION service_rollup_refresh(int)")
    op.execute("DROP FUNCTION service_contributions(int)")
    op.drop_table("service_ticket_contributions")
    op.drop_table("service_rollup_monthly")

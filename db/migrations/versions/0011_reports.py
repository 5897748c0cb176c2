"""Reports: call rollups kept per call end by a trigger on ``calls`` (issue 14, reports).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:00:00

A rollup written by a trigger on ``calls`` (AFTER INSERT, UPDATE, DELETE): the
row's old contribution is taken away and its new one added, in the transaction that writes
the call, so a late or corrected call-end shows in the next report (no nightly rebuild).
A trigger rather than a statement in the writer: every path that writes ``calls``
(FastAGI writer, classic AGI, an admin's fix, a test) keeps the rollups right.

``call_rollup_daily`` counts inbound calls by (day, county, queue, disposition, wait
second). Keeping the wait second in the key lets a report apply any service-level or
short-abandon threshold, bucket abandons and take an exact 90th percentile at read time.
The agent and hour-of-day views read the calls themselves (``cti.stats.queries``).

Days are UTC (``started_at``, else ``ended_at``). ``county_service_levels``
holds N of "answered within N s" per county (20 s when a county has no row).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = """
CREATE FUNCTION calls_rollup_add(r calls, sign int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    at timestamptz := COALESCE(r.started_at, r.ended_at);
BEGIN
    IF r.direction <> 'inbound' OR r.disposition = 'in_progress' OR at IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO call_rollup_daily AS d
        (day, county_id, queue, disposition, wait_s, calls, talk_s, handle_s)
    VALUES (
        (at AT TIME ZONE 'UTC')::date, COALESCE(r.county_id, 0), COALESCE(r.queue, ''),
        r.disposition, COALESCE(r.wait_s, 0), sign,
        sign * COALESCE(r.talk_s, 0),
        sign * COALESCE(EXTRACT(epoch FROM r.ended_at - r.answered_at)::int, 0)
    )
    ON CONFLICT (day, county_id, queue, disposition, wait_s) DO UPDATE SET
        calls = d.calls + EXCLUDED.calls,
        talk_s = d.talk_s + EXCLUDED.talk_s,
        handle_s = d.handle_s + EXCLUDED.handle_s;
END $$
"""
_TRIGGER_FUNCTION = """
CREATE FUNCTION calls_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM calls_rollup_add(OLD, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM calls_rollup_add(NEW, 1);
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    # county_id 0 / queue '' / agent_id 0 stand for "none": a primary key has no nulls.
    op.create_table(
        "call_rollup_daily",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("county_id", sa.Integer, nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("wait_s", sa.Integer, nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("talk_s", sa.BigInteger, nullable=False),
        sa.Column("handle_s", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("day", "county_id", "queue", "disposition", "wait_s"),
    )
    op.create_table(
        "county_service_levels",
        sa.Column(
            "county_id",
            sa.Integer,
            sa.ForeignKey("counties.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("answer_within_s", sa.Integer, nullable=False, server_default="20"),
        sa.CheckConstraint("answer_within_s BETWEEN 1 AND 600", name="answer_within_range"),
    )
    op.execute(_FUNCTION)
    op.execute(_TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER calls_rollup AFTER INSERT OR UPDATE OR DELETE ON calls "
        "FOR EACH ROW EXECUTE FUNCTION calls_rollup()"
    )
    # Calls written before this revision count too.
    op.execute("UPDATE calls SET disposition = disposition WHERE disposition <> 'in_progress'")


def downgrade() -> None:
    op.execute("DROP TRIGGER calls_rollup ON calls")
    op.execute("DROP FUNCTION calls_rollup()")
    op.execute("DROP FUNCTION calls_rollup_add(calls, int)")
    op.drop_table("county_service_levels")
    op.drop_table("call_rollup_daily")

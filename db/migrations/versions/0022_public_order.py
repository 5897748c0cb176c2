"""The service rollup's rows are locked in one order (issue 15: public orders at 200/s).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 12:40:00

``service_rollup_refresh`` (revision 0019) upserts a ticket's contributions into
``service_rollup_monthly`` straight from a ``GROUP BY``, whose output order is the hash
table's. Two new tickets of one county and month touch the same rows (tickets, category,
channel, status), so two transactions refreshing at once could lock them in opposite
orders and deadlock; at 200 web orders a second that happened a few times in 2,000. The
upserts now go in key order, so any two refreshes queue on their first common row instead.
Nothing else changes: the same function, with ``ORDER BY`` on both upserts.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPLY = """
INSERT INTO service_rollup_monthly AS r (month, county_id, metric, k1, k2, n, total)
SELECT month, county_id, metric, k1, k2, {sign} sum(n), {sign} sum(total)
FROM service_ticket_contributions WHERE ticket_id = tid GROUP BY 1, 2, 3, 4, 5{order}
ON CONFLICT (month, county_id, metric, k1, k2) DO UPDATE
    SET n = r.n + EXCLUDED.n, total = r.total + EXCLUDED.total;
"""

# Revision 0019's function, with the upserts' order given (``{order}``).
_REFRESH = """
CREATE OR REPLACE FUNCTION service_rollup_refresh(tid int) RETURNS void LANGUAGE plpgsql AS $$
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
    {take_out}
    DELETE FROM service_ticket_contributions WHERE ticket_id = tid;
    INSERT INTO service_ticket_contributions
        (ticket_id, month, county_id, metric, k1, k2, n, total)
    SELECT tid, month, county_id, metric, k1, k2, sum(n), sum(total)
    FROM service_contributions(tid) GROUP BY 2, 3, 4, 5, 6;
    {put_in}
END $$
"""

#: Key order: two refreshes that share rollup rows lock them in the same order.
KEY_ORDER = "\nORDER BY 1, 2, 3, 4, 5"


def _function(order: str) -> str:
    return _REFRESH.format(
        take_out=_APPLY.format(sign="-", order=order),
        put_in=_APPLY.format(sign="", order=order),
    )


def upgrade() -> None:
    op.execute(_function(KEY_ORDER))


def downgrade() -> None:
    op.execute(_function(""))

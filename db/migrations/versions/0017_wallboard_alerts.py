"""Wallboard alerts: per-county thresholds, alert log, email (issue 14).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:40:00

``county_service_levels`` (0011) becomes the county's wallboard settings: the N of
"answered within N s" (shared by the reports and the wallboard) and the alert thresholds
(calls waiting above, longest wait above, no agent logged in during opening hours; null or
false: that alert is off) and whether alerts are emailed. ``wallboard_alerts`` logs each
alert with the time it was raised and cleared. ``users.email`` is where a county's
supervisors get the alerts emailed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("county_service_levels", sa.Column("alert_waiting_above", sa.Integer))
    op.add_column("county_service_levels", sa.Column("alert_longest_wait_s", sa.Integer))
    op.add_column(
        "county_service_levels",
        sa.Column("alert_no_agent", sa.Boolean, nullable=False, server_default="false"),
    )
    op.add_column(
        "county_service_levels",
        sa.Column("alert_email", sa.Boolean, nullable=False, server_default="false"),
    )
    op.create_check_constraint(
        "alert_waiting_range",
        "county_service_levels",
        "alert_waiting_above IS NULL OR alert_waiting_above BETWEEN 0 AND 999",
    )
    op.create_check_constraint(
        "alert_longest_wait_range",
        "county_service_levels",
        "alert_longest_wait_s IS NULL OR alert_longest_wait_s BETWEEN 5 AND 3600",
    )
    op.add_column("users", sa.Column("email", sa.String(254)))
    op.create_table(
        "wallboard_alerts",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "county_id",
            sa.Integer,
            sa.ForeignKey("counties.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True)),
        #: What was seen when raised (calls waiting, seconds waited, agents) and the limit.
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Integer),
        #: How many supervisors it was emailed to (0: not emailed).
        sa.Column("emailed", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint(
            "kind IN ('waiting', 'longest_wait', 'no_agent')", name="wallboard_alert_kind"
        ),
    )
    op.create_index(
        "ix_wallboard_alerts_county_raised", "wallboard_alerts", ["county_id", "raised_at"]
    )
    op.create_index(
        "ix_wallboard_alerts_open",
        "wallboard_alerts",
        ["county_id"],
        postgresql_where=sa.text("cleared_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_wallboard_alerts_open", table_name="wallboard_alerts")
    op.drop_index("ix_wallboard_alerts_county_raised", table_name="wallboard_alerts")
    op.drop_table("wallboard_alerts")
    op.drop_column("users", "email")
    op.drop_constraint("alert_longest_wait_range", "county_service_levels", type_="check")
    op.drop_constraint("alert_waiting_range", "county_service_levels", type_="check")
    for column in ("alert_email", "alert_no_agent", "alert_longest_wait_s", "alert_waiting_above"):
        op.drop_column("county_service_levels", column)

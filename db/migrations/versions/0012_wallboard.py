"""Supervisor wallboard: assignments, thresholds and alerts (issue 14, wallboard).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:00:00

Released empty, and it stays empty: a database already past it would never run new
contents. The work it was reserved for has its own later revision.
"""

from collections.abc import Sequence

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

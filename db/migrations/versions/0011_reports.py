"""Reports: call and service rollups kept per call end (issue 14, reports).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:00:00

Reserved in the chain so that parallel work can each fill one migration; a revision left
empty changes nothing.
"""

from collections.abc import Sequence

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""Text messages: inbound webhook, outbound gateway, replies as revisit scores (issue 15, SMS).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:00:00

Reserved in the chain so that parallel work can each fill one migration; a revision left
empty changes nothing.
"""

from collections.abc import Sequence

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

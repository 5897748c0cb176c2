"""Ticket search: index for free text with status and category (issue 13).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 09:40:00

Reserved in the chain so that parallel work can each fill one migration; a revision left
empty changes nothing.
"""

from collections.abc import Sequence

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

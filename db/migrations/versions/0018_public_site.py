"""Public web site: volunteer sign-ups and refusal counters (issue 15).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:40:00

Reserved in the chain so that parallel work can each fill one migration; a revision left
empty changes nothing.
"""

from collections.abc import Sequence

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

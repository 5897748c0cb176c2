"""Public site and SMS intake (issue 15, public site and text messages).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:00:00

Released empty, and it stays empty: a database already past it would never run new
contents. The work it was reserved for has its own later revision.
"""

from collections.abc import Sequence

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""Counties: the unit of routing. Each has exactly one Asterisk queue."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base, Timestamps

#: County codes and queue names end up in dialplan and queues.conf: keep them boring.
CODE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
QUEUE_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"


class County(Timestamps, Base):
    __tablename__ = "counties"
    __table_args__ = (
        CheckConstraint(f"code ~ '{CODE_PATTERN}'", name="code_format"),
        CheckConstraint(f"queue_name ~ '{QUEUE_PATTERN}'", name="queue_format"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    queue_name: Mapped[str] = mapped_column(String(64), unique=True)

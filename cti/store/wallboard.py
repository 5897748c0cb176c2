"""The wallboard's alert log: each alert a county's board raised, with when it was raised
and cleared (``cti.wallboard.watch`` writes it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base


class WallboardAlert(Base):
    __tablename__ = "wallboard_alerts"
    __table_args__ = (
        Index("ix_wallboard_alerts_county_raised", "county_id", "raised_at"),
        Index(
            "ix_wallboard_alerts_open",
            "county_id",
            postgresql_where=text("cleared_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id", ondelete="CASCADE"))
    #: ``waiting``, ``longest_wait`` or ``no_agent`` (``cti.wallboard.alerts.KINDS``).
    kind: Mapped[str] = mapped_column(String(16))
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    #: What was seen when it was raised (calls waiting, seconds waited, agents logged in).
    value: Mapped[int]
    threshold: Mapped[int | None]
    #: How many supervisors it was emailed to (0: not emailed).
    emailed: Mapped[int] = mapped_column(default=0, server_default="0")

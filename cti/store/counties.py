"""Counties: the unit of routing. Each has exactly one Asterisk queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
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
        CheckConstraint("accept_within_minutes BETWEEN 5 AND 10080", name="accept_window"),
        CheckConstraint("finish_within_hours BETWEEN 1 AND 2160", name="finish_window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    queue_name: Mapped[str] = mapped_column(String(64), unique=True)
    #: IANA zone the county lives in (its opening hours are in ``routing_county_policies``).
    time_zone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    #: A county that took calls or tickets is never deleted, only retired: it keeps its
    #: history and routes nothing new.
    retired_at: Mapped[datetime | None]
    #: Dispatch: offer a ticket to the first suggested company without waiting for the
    #: agent, and the deadlines a company gets to accept and to finish the work.
    auto_dispatch: Mapped[bool] = mapped_column(default=False, server_default="false")
    accept_within_minutes: Mapped[int] = mapped_column(default=120, server_default="120")
    finish_within_hours: Mapped[int] = mapped_column(default=72, server_default="72")


class CountyCategory(Base):
    """A service category the centre arranges in a county (its part of the catalogue)."""

    __tablename__ = "county_categories"

    county_id: Mapped[int] = mapped_column(
        ForeignKey("counties.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("service_categories.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class UnknownCounty(LookupError):
    """A county code that names no county; ``code`` is what was asked for, cut to 32."""

    def __init__(self, code: str) -> None:
        self.code = code[:32]
        super().__init__(f"unknown county {self.code!r}")


class RetiredCounty(UnknownCounty):
    """A retired county named for something new (a ticket, a user, a company's area)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.args = (f"county {self.code!r} is retired",)


async def county_id_by_code(
    session: AsyncSession, code: str | None, *, for_new: bool = False
) -> int | None:
    """The id of the county ``code`` names; ``None`` for no code (empty or ``None``).

    Raises :class:`UnknownCounty` when the code names no county: each caller maps it to its
    own error (a 422 field, a ticket error...). With ``for_new`` (the county is being given
    to something new: a ticket, a user, a company) a retired county raises
    :class:`RetiredCounty`, a subclass, so the same ``except UnknownCounty`` maps it; a
    search or a report leaves ``for_new`` off and still finds retired counties."""
    if not code:
        return None
    row = (
        await session.execute(select(County.id, County.retired_at).where(County.code == code))
    ).first()
    if row is None:
        raise UnknownCounty(code)
    if for_new and row.retired_at is not None:
        raise RetiredCounty(code)
    return row.id

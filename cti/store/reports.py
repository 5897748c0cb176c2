"""The call rollup (kept by the ``calls_rollup`` trigger, migration 0011), the
service-level target per county, and the service figures' monthly rollup (kept by the
``service_rollup`` triggers, migration 0019)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base


class CallRollupDaily(Base):
    """Inbound calls of one day, county, queue, disposition and wait second (0 / "" for
    none). Written only by the trigger."""

    __tablename__ = "call_rollup_daily"

    day: Mapped[date] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    disposition: Mapped[str] = mapped_column(String(16), primary_key=True)
    wait_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    calls: Mapped[int]
    talk_s: Mapped[int] = mapped_column(BigInteger)
    handle_s: Mapped[int] = mapped_column(BigInteger)


class CountyServiceLevel(Base):
    """A county's wallboard settings: N of "answered within N s" (20 s when it has no
    row; the reports and the wallboard read the same N) and its alert thresholds (null or
    false: that alert is off; ``cti.wallboard.alerts``)."""

    __tablename__ = "county_service_levels"

    county_id: Mapped[int] = mapped_column(
        ForeignKey("counties.id", ondelete="CASCADE"), primary_key=True
    )
    answer_within_s: Mapped[int] = mapped_column(default=20, server_default="20")
    #: Alert when more than this many calls wait.
    alert_waiting_above: Mapped[int | None]
    #: Alert when the longest waiting caller has waited more than this many seconds.
    alert_longest_wait_s: Mapped[int | None]
    #: Alert when no agent is logged in while the county is open (routing hours).
    alert_no_agent: Mapped[bool] = mapped_column(default=False, server_default="false")
    #: Email the alerts to the supervisors assigned to the county.
    alert_email: Mapped[bool] = mapped_column(default=False, server_default="false")


class ServiceRollupMonthly(Base):
    """The service figures of one month and county, by metric and key (migration 0019 says
    what each metric's keys are). Written only by the triggers."""

    __tablename__ = "service_rollup_monthly"

    month: Mapped[date] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    k1: Mapped[str] = mapped_column(String(32), primary_key=True)
    k2: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[float] = mapped_column(Float)


class ServiceTicketContribution(Base):
    """What one ticket adds to ``service_rollup_monthly`` now (no foreign key: a deleted
    ticket's contribution is still here to be taken out)."""

    __tablename__ = "service_ticket_contributions"

    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    k1: Mapped[str] = mapped_column(String(32), primary_key=True)
    k2: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)

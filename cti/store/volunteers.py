"""Volunteers who signed up on the public site: what they typed, kept verbatim (and the
phone's normalised form, to find them like any citizen)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base


class Volunteer(Base):
    __tablename__ = "volunteers"
    __table_args__ = (
        Index("ix_volunteers_created_at", "created_at"),
        Index("ix_volunteers_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    #: As typed, and normalised like a caller ID (``cti.numbers``).
    phone_raw: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(24))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="SET NULL"))
    skills: Mapped[str] = mapped_column(Text, default="", server_default="")
    availability: Mapped[str] = mapped_column(Text, default="", server_default="")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    locale: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

"""Citizens who call the hotline, and their phone numbers (stored normalised)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cti.store.base import Base, Timestamps


class Citizen(Timestamps, Base):
    __tablename__ = "citizens"
    __table_args__ = (
        # Ticket search by a part of the name (ILIKE '%...%'), migration 0008; only where
        # the server has pg_trgm (the embedded default has not: the search reads without it).
        Index(
            "ix_citizens_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(Text)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(Text)
    #: Free-form markers the agent must see at once: ``elderly-alone``, ``hearing``, ``vip``...
    flags: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")

    phones: Mapped[list[CitizenPhone]] = relationship(
        back_populates="citizen", cascade="all, delete-orphan", lazy="selectin"
    )


class CitizenPhone(Base):
    __tablename__ = "citizen_phones"
    __table_args__ = (UniqueConstraint("citizen_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    #: ``cti.numbers.normalise_key`` form; one household line may belong to several citizens.
    number: Mapped[str] = mapped_column(String(24), index=True)
    label: Mapped[str | None] = mapped_column(String(32))

    citizen: Mapped[Citizen] = relationship(back_populates="phones")

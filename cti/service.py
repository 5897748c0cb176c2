"""The contract between ``cti serve`` and each long-running part (AGI server, AMI listener,
recording indexer). ``cti.app`` builds the parts from ``Settings`` and drives them through
this interface; the parts never look each other up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class Health:
    """What ``/healthz`` shows for one part. ``ok`` false makes the endpoint answer 503."""

    ok: bool
    detail: dict[str, object] = field(default_factory=dict)


class Service(Protocol):
    #: Short, stable name used in /healthz and as the Prometheus label.
    name: str

    async def start(self) -> None:
        """Start serving; returns once listening (does not block for the service's life)."""

    async def stop(self) -> None:
        """Stop gracefully: finish or hand over in-flight work, then release resources."""

    def health(self) -> Health: ...

    def metrics(self) -> list[str]:
        """Prometheus text-format lines (``# HELP``/``# TYPE`` included) for this part."""
        ...

"""County routing rules and the versions of the dialplan rendered from them (cti.routing)."""

from __future__ import annotations

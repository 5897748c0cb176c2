"""The recordings index, its access log and QA scores (cti.recordings)."""

from __future__ import annotations

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _seeded(seeded) -> None:
    """Every dispatch test needs the service catalogue."""

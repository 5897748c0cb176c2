"""The login's dummy hash is made when an app that serves logins is built, not at import."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
from cti import accounts
print(accounts._dummy_hash.cache_info().currsize)
from cti.app import create_app
from cti.settings import Settings
create_app(Settings(_env_file=None), "postgresql+asyncpg://unused/unused", roles={%r}, services=[])
print(accounts._dummy_hash.cache_info().currsize)
"""


def _sizes(role: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE % role], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_import_makes_no_hash_and_the_api_app_makes_it():
    assert _sizes("api") == ["0", "1"]


def test_an_app_without_logins_makes_none():
    assert _sizes("ami") == ["0", "0"]

"""The agi role's event loop: uvloop (a dependency where it exists), else asyncio's own."""

from __future__ import annotations

import asyncio
import sys

import pytest

from cti.agi.background import _new_loop
from cti.agi.cli import run_event_loop


def _loop_module() -> str:
    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    run_event_loop(main())
    return seen[0]


def _assert_both_loops_are(module: str) -> None:
    """``cti agi run``'s loop and the writer process's loop both come from ``module``."""
    assert _loop_module().startswith(module)
    loop = _new_loop()
    try:
        assert type(loop).__module__.startswith(module)
    finally:
        loop.close()


def test_uvloop_when_installed():
    pytest.importorskip("uvloop")
    _assert_both_loops_are("uvloop")


def test_asyncio_when_uvloop_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    _assert_both_loops_are("asyncio")

"""``cti recordings ...`` sub-commands; ``cti/cli.py`` calls ``register`` once."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``recordings`` command and its sub-commands (none yet)."""

"""``cti routing ...`` sub-commands; ``cti/cli.py`` calls ``register`` once."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``routing`` command and its sub-commands (none yet)."""

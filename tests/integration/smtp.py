"""A real SMTP server (aiosmtpd) on a free local port, for the tests of what sends email."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.controller import Controller

from tests.conftest import free_port


class Inbox:
    """Takes every message; ``envelopes`` in the order received."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.envelopes.append(envelope)
        return "250 OK"


@contextmanager
def running(handler: object) -> Iterator[int]:
    """An SMTP server answering with ``handler`` (aiosmtpd's hooks); yields its port."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()

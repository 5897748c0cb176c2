"""What every periodic worker shares: a task that runs one round of work every interval,
survives a failed round (the database or a receiver away for a moment: the next round
tries again), and says how it went in ``/healthz``; the Prometheus lines of its counters;
and the backoff its failed deliveries are retried with.

The outbox senders (``cti.sms.sender``, ``cti.dispatch.notifier``) and the wallboard's
alert email retry (``cti.wallboard.watch``) each hand a :class:`PeriodicWorker` their
round; what a round does, and what it counts, stays theirs. :class:`Backoff` and
:func:`metric_lines` are pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from cti.service import Health

log = logging.getLogger(__name__)

#: Health shows at most this much of a round's error.
MAX_ERROR = 200


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits before the 2nd, 3rd... attempt; after the last one the delivery has failed."""

    delays_s: tuple[float, ...]

    @property
    def max_attempts(self) -> int:
        return len(self.delays_s) + 1

    def wait_after(self, attempts: int) -> float | None:
        """Seconds to wait after ``attempts`` failed attempts (1 after the first failure):
        0 before any, None when that was the last one."""
        if attempts < 1:
            return 0.0
        if attempts >= self.max_attempts:
            return None
        return self.delays_s[attempts - 1]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    help: str
    value: float | int | None
    kind: str = "counter"


def metric_lines(metrics: Iterable[Metric]) -> list[str]:
    """Prometheus text format, ``# HELP`` and ``# TYPE`` included (None counts as 0)."""
    out: list[str] = []
    for metric in metrics:
        out += [
            f"# HELP {metric.name} {metric.help}",
            f"# TYPE {metric.name} {metric.kind}",
            f"{metric.name} {metric.value or 0}",
        ]
    return out


class PeriodicWorker:
    """Runs ``step`` at once on :meth:`start`, then every ``interval_s`` after each round
    ends, until :meth:`stop`. A round that raises is logged and remembered
    (:attr:`last_error`, :meth:`health` not ok) until one succeeds."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        *,
        interval_s: float,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self._step = step
        self.interval_s = interval_s
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0
        self.failed_rounds = 0
        self.last_error: str | None = None

    async def run_once(self) -> bool:
        """One round; False (and :attr:`last_error` set) when it failed."""
        self.rounds += 1
        try:
            await self._step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failed_rounds += 1
            self.last_error = (str(exc) or type(exc).__name__)[:MAX_ERROR]
            log.exception("%s round failed", self.name)
            return False
        self.last_error = None
        return True

    async def _run(self) -> None:
        while True:
            await self.run_once()
            await self._sleep(self.interval_s)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def health(self, detail: Mapping[str, object] | None = None) -> Health:
        """Ok while the last round succeeded; ``detail`` plus the last error."""
        return Health(
            ok=self.last_error is None,
            detail={**(detail or {}), "last_error": self.last_error},
        )

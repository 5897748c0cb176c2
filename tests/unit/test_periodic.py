"""The periodic worker base (``cti.periodic``): the backoff schedule and the metric lines
fed data; the loop driven round by round through an injected sleep (no timing): a failed
round is remembered in health until one succeeds, a round's error never ends the loop,
stop ends it."""

from __future__ import annotations

import asyncio

import pytest

from cti.periodic import Backoff, Metric, PeriodicWorker, metric_lines


def test_backoff_waits_then_gives_up():
    backoff = Backoff((30, 120, 600))
    assert backoff.max_attempts == 4
    assert [backoff.wait_after(n) for n in range(6)] == [0.0, 30, 120, 600, None, None]
    assert Backoff(()).wait_after(1) is None  # one attempt only


def test_metric_lines_are_prometheus_text():
    lines = metric_lines([Metric("x_total", "Things.", 3), Metric("y", "Now.", None, "gauge")])
    assert lines == [
        "# HELP x_total Things.",
        "# TYPE x_total counter",
        "x_total 3",
        "# HELP y Now.",
        "# TYPE y gauge",
        "y 0",
    ]


class Rounds:
    """A round that does what the test scripts (fail or not) and a sleep that hands
    control back to the test after each round."""

    def __init__(self, outcomes: list[Exception | None]) -> None:
        self.outcomes = outcomes
        self.done = 0
        self.slept: list[float] = []
        self.after_round: asyncio.Queue[int] = asyncio.Queue()
        self.go_on = asyncio.Event()

    async def step(self) -> None:
        outcome = self.outcomes[self.done % len(self.outcomes)]
        self.done += 1
        if outcome is not None:
            raise outcome

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.go_on.clear()
        await self.after_round.put(self.done)
        await self.go_on.wait()


@pytest.mark.asyncio
async def test_the_loop_survives_a_failed_round_and_health_says_so():
    rounds = Rounds([None, RuntimeError("database away"), None])
    worker = PeriodicWorker("test", rounds.step, interval_s=7.5, sleep=rounds.sleep)
    assert not worker.running
    await worker.start()
    await worker.start()  # a second start starts nothing more
    try:
        assert await rounds.after_round.get() == 1  # a first round at once
        assert worker.health({"n": 1}).ok and worker.health({"n": 1}).detail == {
            "n": 1,
            "last_error": None,
        }
        rounds.go_on.set()
        assert await rounds.after_round.get() == 2
        health = worker.health()
        assert not health.ok and health.detail["last_error"] == "database away"
        assert worker.running, "a failed round does not end the loop"
        rounds.go_on.set()
        assert await rounds.after_round.get() == 3
        assert worker.health().ok and worker.last_error is None
        assert (worker.rounds, worker.failed_rounds) == (3, 1)
        assert rounds.slept == [7.5, 7.5, 7.5]
    finally:
        await worker.stop()
    assert not worker.running
    await worker.stop()  # stopping twice is harmless


@pytest.mark.asyncio
async def test_an_error_without_words_is_named_and_long_ones_are_cut():
    async def silent() -> None:
        raise KeyError

    worker = PeriodicWorker("test", silent, interval_s=1)
    assert await worker.run_once() is False and worker.last_error == "KeyError"

    async def loud() -> None:
        raise ValueError("x" * 1000)

    worker = PeriodicWorker("test", loud, interval_s=1)
    assert await worker.run_once() is False and len(worker.last_error) == 200


@pytest.mark.asyncio
async def test_a_cancelled_round_is_not_an_error():
    async def cancelled() -> None:
        raise asyncio.CancelledError

    worker = PeriodicWorker("test", cancelled, interval_s=1)
    with pytest.raises(asyncio.CancelledError):
        await worker.run_once()
    assert worker.last_error is None

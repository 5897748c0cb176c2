"""Engine and session factory: the one place that knows how to reach Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from cti.service import Health
from cti.settings import Settings

T = TypeVar("T")
log = logging.getLogger(__name__)


def make_engine(url: str, **kwargs: object) -> AsyncEngine:
    """An engine whose pool never hands out a connection that asyncpg knows is closed.

    That check reads asyncpg's own flag at checkout (:func:`_refuse_closed`), which the
    event loop sets as soon as the server closes the socket (a restart, an idle timeout,
    ``pg_terminate_backend``). SQLAlchemy's ``pool_pre_ping`` would instead send BEGIN,
    an empty query and ROLLBACK on every checkout: three round trips in front of every
    request, about a tenth of a public order's cost. A connection that dies silently (no
    FIN: a cut network) still fails its first statement; SQLAlchemy then drops the pool's
    connections and the caller's error handling or retry takes over, as before a ping
    could. ``pool_pre_ping=True`` is still accepted for a caller that wants it."""
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout hook: a connection asyncpg has seen closed is replaced (the pool
    retries the checkout with a fresh one when this raises ``DisconnectionError``)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def bound_url(session_factory: async_sessionmaker[AsyncSession]) -> str | None:
    """The database URL a session factory is bound to (None if it is not bound)."""
    bind = session_factory.kw.get("bind")
    if isinstance(bind, AsyncEngine):
        return bind.url.render_as_string(hide_password=False)
    return None


def own_pool(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    size: int,
    overflow: int,
    wait_s: float = 30.0,
) -> AsyncEngine | None:
    """An engine on the same database as ``session_factory`` with a connection pool of its
    own (``size`` kept, ``overflow`` more at busy moments, at most ``wait_s`` waited for
    one: then ``sqlalchemy.exc.TimeoutError``), so that a latency-bound part never waits
    for a connection the rest of the process holds. None when the factory is not bound to
    an engine (a test's): the caller then shares it. Like every engine here
    (:func:`make_engine`), it does not ping before each use."""
    url = bound_url(session_factory)
    if url is None:
        return None
    return make_engine(url, pool_size=size, max_overflow=overflow, pool_timeout=wait_s)


class PoolService:
    """A pool of its own as a part of ``cti serve`` (``cti.service.Service``): disposed
    when the process stops, its use shown in /healthz and /metrics."""

    def __init__(self, name: str, engine: AsyncEngine, warm: int = 0) -> None:
        self.name = name
        self.engine = engine
        #: Connections opened at start and kept (else each is opened when first needed:
        #: tens of ms in front of whatever needed it first).
        self.warm = warm

    async def start(self) -> None:
        """Open ``warm`` connections and return them to the pool. Postgres being down
        does not stop the process from starting: they are then opened when first used."""
        if not self.warm:
            return
        try:
            async with contextlib.AsyncExitStack() as held:
                for _ in range(self.warm):
                    await held.enter_async_context(self.engine.connect())
        except (OSError, SQLAlchemyError) as exc:
            log.warning("pool %s not warmed: %s", self.name, exc)

    async def stop(self) -> None:
        await self.engine.dispose()

    def _pool(self) -> dict[str, int]:
        pool = self.engine.pool
        return {
            "size": int(getattr(pool, "size", lambda: 0)()),
            "checked_out": int(getattr(pool, "checkedout", lambda: 0)()),
        }

    def health(self) -> Health:
        return Health(ok=True, detail=self._pool())

    def metrics(self) -> list[str]:
        name = "cti_db_pool_checked_out"
        label = self.name.replace("\\", "\\\\").replace('"', '\\"')
        return [
            f"# HELP {name} Connections of a dedicated pool in use.",
            f"# TYPE {name} gauge",
            f'{name}{{pool="{label}"}} {self._pool()["checked_out"]}',
        ]


def resolve_database_url(settings: Settings) -> str:
    """``CTI_DATABASE_URL``, or the embedded private Postgres in ``var/`` when it is unset."""
    if settings.database_url:
        return settings.database_url
    from cti.embedded_pg import start_embedded_postgres

    return start_embedded_postgres(settings.data_dir / "pg")


def with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one session against the configured database (then dispose)."""

    async def run() -> T:
        engine = make_engine(resolve_database_url(settings))
        try:
            async with make_session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())

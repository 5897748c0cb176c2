"""Wiring: build every part from ``Settings`` and hand each what it needs.

``create_app`` returns the FastAPI app for the chosen roles; its lifespan starts and stops
the long-running parts (AGI server, AMI listener, recording indexer) that the roles name.
Nothing else in the package builds objects from settings.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cti.accounts import LoginPolicy, prepare_logins
from cti.bus import Bus, InMemoryBus, PostgresBus, libpq_dsn
from cti.heap import Heap
from cti.public.site import PublicSite
from cti.service import Service
from cti.settings import Settings
from cti.sms.config import IntakeConfig, SmsIntake
from cti.store.db import PoolService, make_engine, make_session_factory, own_pool
from cti.web import (
    admin_audit,
    admin_catalogue,
    admin_counties,
    admin_users,
    admin_volunteers,
    agent,
    api_docs,
    audit,
    callbacks,
    citizens,
    companies,
    companies_pages,
    dispatch,
    errors,
    health,
    knowledge,
    knowledge_pages,
    login,
    openapi,
    pages,
    password_links,
    portal,
    public_join,
    public_site,
    recordings,
    reference,
    reports,
    revisits,
    routing,
    sms,
    ticket_pages,
    tickets,
    tokens,
    users,
    wallboard,
)
from cti.web.hardening import Hardening
from cti.web.hub import AgentHub
from cti.web.sessions import SessionPolicy
from cti.web.templating import STATIC_DIR, make_templates
from cti.web.wallboard_hub import WallboardHub

log = logging.getLogger(__name__)

ROLES = ("api", "ami", "agi", "recordings")
#: The screen-pop lookups' own pool: connections kept (all opened at start), none opened
#: on demand, and how long a lookup may wait for one. A lookup is one ~1-3 ms round trip,
#: but calls come in bursts (a pause of the loop releases several at once): a connection
#: opened for a burst costs its pop 30-170 ms (measured: 3 opened during 1,000 calls, the
#: lookup stage's max 169 ms), while waiting for a pooled one costs a few lookups' time.
#: After the wait, the pop goes out without the caller's history (``ScreenPop._show``).
LOOKUP_POOL_SIZE, LOOKUP_WAIT_S = 8, 2.0
#: Builds the long-running parts for a process: (settings, session_factory, bus) -> services.
ServiceFactory = Callable[[Settings, async_sessionmaker[AsyncSession], Bus], list[Service]]


def expand_roles(role: str) -> frozenset[str]:
    if role == "all":
        return frozenset(ROLES)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose all or one of {', '.join(ROLES)}")
    return frozenset({role})


def build_services(
    settings: Settings,
    roles: Iterable[str],
    session_factory: async_sessionmaker[AsyncSession],
    bus: Bus,
) -> list[Service]:
    """The long-running parts this process runs, in start order. Imports are local so a
    process only loads the parts its roles need."""
    services: list[Service] = []
    if "agi" in roles:
        from cti.agi.service import AgiService

        services.append(AgiService(settings, session_factory))
    if "ami" in roles:
        if settings.ami_nodes:
            from cti.ami.relay import ScreenPopRelay
            from cti.ami.service import AmiService

            # The caller lookup of every pop has a pool of its own: requests of the API in
            # the same process (a report, a recordings search) never hold the connection
            # an agent's screen-pop waits for. Stopped after the AMI side (reverse order).
            # No ping before each lookup (``make_engine``): ``lookup_caller`` also retries
            # once on a connection that died while pooled without the server saying so.
            lookups = own_pool(
                session_factory, size=LOOKUP_POOL_SIZE, overflow=0, wait_s=LOOKUP_WAIT_S
            )
            if lookups is not None:
                services.append(PoolService("pop-lookups", lookups, warm=LOOKUP_POOL_SIZE))
            from cti.ami.popstore import PopRecord

            relay = ScreenPopRelay(
                bus,
                make_session_factory(lookups) if lookups else session_factory,
                record=PopRecord(session_factory),
            )
            ami = AmiService(settings.ami_nodes, settings.number_plan, relay, drain=relay.drain)
            services.append(ami)
            from cti.dispatch.notifier import SmtpConfig
            from cti.wallboard.alerts import Hysteresis
            from cti.wallboard.publisher import WallboardPublisher
            from cti.wallboard.watch import AlertWatch

            # The supervisors' wallboard reads the same AMI stream (a listener); its
            # alerts are checked, logged and emailed by the watch.
            watch = AlertWatch(
                session_factory,
                bus=bus,
                smtp=SmtpConfig.from_settings(settings),
                hysteresis=Hysteresis(
                    settings.alert_raise_after_s,
                    settings.alert_clear_after_s,
                    settings.alert_email_cooldown_s,
                ),
            )
            services.append(watch)
            services.append(WallboardPublisher(ami, bus, alerts=watch))
            from cti.revisits.dialer import Dialer

            # Click-to-call: sends Originates on these connections (asked in process, or
            # over the bus by API processes) and records what Asterisk answers.
            services.append(Dialer(ami, session_factory, settings.number_plan, bus))
        else:
            log.warning("no CTI_AMI_URL: the AMI listener is off and no screen-pops are made")
    if "recordings" in roles:
        from cti.recordings.service import RecordingsService

        services.append(
            RecordingsService(
                settings.recordings_dir,
                session_factory,
                bus=bus,
                settle_s=settings.recordings_settle_s,
            )
        )
    if "api" in roles:
        from cti.dispatch.notifier import Notifier

        # Companies' emails and webhooks from the outbox, and overdue dispatches; several
        # API processes share the outbox (rows are claimed with SKIP LOCKED).
        services.append(Notifier.from_settings(settings, session_factory, bus))
        from cti.sms.sender import SmsSender

        # Texts to citizens from the SMS outbox (shared by API processes like the above).
        services.append(SmsSender.from_settings(settings, session_factory))
    return services


def make_bus(roles: frozenset[str], database_url: str) -> Bus:
    """In memory when every part that talks over the bus (AMI side, API, recordings) is in
    this process; otherwise Postgres LISTEN/NOTIFY, so separate role processes meet."""
    if {"ami", "api", "recordings"} <= roles:
        return InMemoryBus()
    return PostgresBus(libpq_dsn(database_url))


def create_app(
    settings: Settings,
    database_url: str,
    *,
    roles: Iterable[str] = ROLES,
    engine: AsyncEngine | None = None,
    bus: Bus | None = None,
    services: list[Service] | None = None,
) -> FastAPI:
    """The FastAPI app. ``services`` overrides ``build_services`` (tests inject their own)."""
    roles = frozenset(roles)
    own_engine = engine is None
    engine = engine or make_engine(
        database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_overflow
    )
    session_factory = make_session_factory(engine)
    bus = bus or make_bus(roles, database_url)
    if services is None:
        services = build_services(settings, roles, session_factory, bus)
    services = list(services)
    if "api" in roles:
        prepare_logins()
    hub = AgentHub(bus, session_factory=session_factory) if "api" in roles else None
    if hub is not None:
        services.insert(0, hub)  # the hub listens before the AMI side starts publishing
    wallboard_hub = WallboardHub(bus) if "api" in roles else None
    if wallboard_hub is not None:
        services.insert(1, wallboard_hub)

    heap = Heap(thaw_every_s=settings.gc_thaw_hours * 3600 or None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started: list[Service] = []
        try:
            for service in services:
                await service.start()
                started.append(service)
                log.info("started %s", service.name)
            # Everything built so far lives as long as the process, and so does what
            # survives each full collection from now on: out of the collector's view
            # (cti.heap: short pauses in the screen-pop path, whatever the sockets open).
            await heap.start()
            yield
        finally:
            await heap.stop()
            for service in reversed(started):
                try:
                    await service.stop()
                    log.info("stopped %s", service.name)
                except Exception:
                    log.exception("error while stopping %s", service.name)
            await bus.close()
            if own_engine:
                await engine.dispose()

    app = FastAPI(
        title="Hotline CTI",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    #: Whose ``X-Forwarded-For`` is believed (``cti.web.deps.client_ip``).
    app.state.trusted_proxies = settings.trusted_proxy_networks
    app.state.roles = roles
    app.state.session_factory = session_factory
    app.state.bus = bus
    app.state.services = services
    app.state.hub = hub
    app.state.wallboard_hub = wallboard_hub
    #: The click-to-call dialer when this process runs the AMI side (else the API asks
    #: the AMI process over the bus: ``cti.revisits.dialer.request_dial``).
    app.state.dialer = next((s for s in services if getattr(s, "name", "") == "dialer"), None)
    app.state.templates = make_templates()
    #: The SMS webhook's configuration and counters (``/metrics``).
    app.state.sms_intake = SmsIntake(IntakeConfig.from_settings(settings))
    #: The public site's guard (secret, token policy, rate limiters) and counters.
    app.state.public_site = PublicSite.from_settings(settings)
    app.state.request_counts = Counter()
    app.state.session_policy = SessionPolicy(
        max_age=timedelta(seconds=settings.session_max_age_s),
        idle=timedelta(seconds=settings.session_idle_s),
    )
    app.state.login_policy = LoginPolicy(
        max_failures=settings.login_max_failures,
        window=timedelta(seconds=settings.login_window_s),
    )
    errors.install(app)

    app.add_middleware(Hardening, counts=app.state.request_counts)

    app.include_router(health.router)
    if "api" in roles:
        # The public site first: FastAPI matches routes in order, one by one, and its
        # orders are the traffic nobody logs in for (at hundreds a second, matching past
        # every other router cost a tenth of an order's time).
        app.include_router(public_site.router)
        app.include_router(public_join.router)
        app.include_router(login.router)
        app.include_router(password_links.router)
        app.include_router(pages.router)
        app.include_router(users.router)
        app.include_router(reference.router)
        app.include_router(audit.router)
        app.include_router(agent.router)
        app.include_router(wallboard.router)
        app.include_router(tickets.router)
        app.include_router(ticket_pages.router)
        app.include_router(dispatch.router)
        app.include_router(callbacks.router)
        app.include_router(revisits.router)
        app.include_router(reports.router)
        app.include_router(citizens.router)
        app.include_router(routing.router)
        app.include_router(recordings.router)
        app.include_router(tokens.router)
        app.include_router(admin_users.router)
        app.include_router(admin_audit.router)
        app.include_router(admin_counties.router)
        app.include_router(admin_catalogue.router)
        app.include_router(companies.router)
        app.include_router(companies_pages.router)
        app.include_router(sms.router)
        app.include_router(portal.pages)
        app.include_router(portal.api)
        app.include_router(knowledge.router)
        app.include_router(knowledge_pages.router)
        app.include_router(api_docs.router)
        app.include_router(admin_volunteers.router)
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
        app.mount(api_docs.ASSETS_PATH, StaticFiles(directory=api_docs.ASSETS_DIR), name="api-docs")
    openapi.install(app)
    return app

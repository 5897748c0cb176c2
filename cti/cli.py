"""The ``cti`` command: serve the backend, manage the database and users.

Each area registers its own sub-commands (``register(subparsers)``) and is listed once in
``build_parser``; handlers take the parsed args and return an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from cti import accounts, logs
from cti.agi import cli as agi_cli
from cti.ami import cli as ami_cli
from cti.recordings import cli as recordings_cli
from cti.routing import cli as routing_cli
from cti.settings import Settings
from cti.stats import cli as reports_cli
from cti.store.db import resolve_database_url, with_session

log = logging.getLogger("cti")


# --- serve -------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from cti.app import create_app, expand_roles
    from cti.store import migrate

    settings = Settings()
    try:
        roles = expand_roles(args.role)
    except ValueError as exc:
        print(f"cti serve: {exc}", file=sys.stderr)
        return 2
    database_url = resolve_database_url(settings)
    asyncio.run(migrate.upgrade(database_url))
    app = create_app(settings, database_url, roles=roles)
    log.info("serving", extra={"host": args.host, "port": args.port, "roles": sorted(roles)})
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        ws="websockets-sansio",
    )
    return 0


# --- db ----------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from cti.store import migrate

    asyncio.run(migrate.upgrade(resolve_database_url(Settings()), args.revision))
    print(f"database at {args.revision}")
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    from cti.store import migrate

    asyncio.run(migrate.downgrade(resolve_database_url(Settings()), args.revision))
    print(f"database downgraded to {args.revision}")
    return 0


def cmd_db_current(_: argparse.Namespace) -> int:
    from cti.store import migrate

    asyncio.run(migrate.current(resolve_database_url(Settings())))
    return 0


def cmd_db_seed(_: argparse.Namespace) -> int:
    from cti import seed
    from cti.store import migrate

    settings = Settings()
    asyncio.run(migrate.upgrade(resolve_database_url(settings)))

    async def work(session: AsyncSession) -> seed.SeedResult:
        result = await seed.seed(session)
        await session.commit()
        return result

    result = with_session(settings, work)
    print(f"seeded {result.counties} counties and {result.categories} service categories")
    if result.articles:
        print(f"added {result.articles} starter knowledge articles")
    if result.admin_credentials:
        username, password = result.admin_credentials
        print(
            "\n  First administrator created. This password is shown only once:\n"
            f"    username: {username}\n    password: {password}\n"
        )
    else:
        print("an administrator already exists; no account created")
    return 0


# --- users -------------------------------------------------------------------------------


def _read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated?) from --password-stdin, or a generated one."""
    if args.password_stdin:
        if sys.stdin.isatty():
            return getpass.getpass("password: "), False
        return sys.stdin.readline().rstrip("\n"), False
    return accounts.generate_password(), True


def _account_command(work: Callable[[AsyncSession], Awaitable[str]]) -> int:
    async def run(session: AsyncSession) -> str:
        message = await work(session)
        await session.commit()
        return message

    try:
        print(with_session(Settings(), run))
    except accounts.AccountError as exc:
        print(f"cti users: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    password, generated = _read_password(args)

    async def work(session: AsyncSession) -> str:
        user = await accounts.create_user(
            session,
            username=args.username,
            role=args.role,
            password=password,
            display_name=args.display_name,
            county=args.county,
            interface=args.interface,
        )
        shown = f"\npassword (shown once): {password}" if generated else ""
        return f"created {user.role} {user.username}{shown}"

    return _account_command(work)


def cmd_users_set_password(args: argparse.Namespace) -> int:
    password, generated = _read_password(args)

    async def work(session: AsyncSession) -> str:
        await accounts.set_password(
            session, await accounts.get_user(session, args.username), password
        )
        return f"password changed for {args.username}" + (
            f"\nnew password (shown once): {password}" if generated else ""
        )

    return _account_command(work)


def cmd_users_disable(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> str:
        await accounts.set_active(session, await accounts.get_user(session, args.username), False)
        return f"disabled {args.username} and ended their sessions"

    return _account_command(work)


def cmd_users_enable(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> str:
        await accounts.set_active(session, await accounts.get_user(session, args.username), True)
        return f"enabled {args.username}"

    return _account_command(work)


def cmd_users_list(_: argparse.Namespace) -> int:
    from sqlalchemy import select

    from cti.store.users import User

    async def work(session: AsyncSession) -> str:
        users = (await session.scalars(select(User).order_by(User.username))).all()
        return "\n".join(
            f"{u.username:<20} {u.role:<11} {'active' if u.active else 'disabled':<9} "
            f"{u.interface or '-'}"
            for u in users
        )

    return _account_command(work)


def _register_db(cmd: argparse._SubParsersAction) -> None:
    db = cmd.add_parser("db", help="database schema and reference data")
    sub = db.add_subparsers(dest="db_cmd", required=True)
    up = sub.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    down = sub.add_parser("downgrade", help="revert migrations to REVISION (e.g. base)")
    down.add_argument("revision")
    down.set_defaults(func=cmd_db_downgrade)
    sub.add_parser("current", help="show the applied revision").set_defaults(func=cmd_db_current)
    sub.add_parser(
        "seed", help="load counties and the service catalogue; create the first admin"
    ).set_defaults(func=cmd_db_seed)


def _register_users(cmd: argparse._SubParsersAction) -> None:
    users = cmd.add_parser("users", help="manage user accounts")
    sub = users.add_subparsers(dest="users_cmd", required=True)
    add = sub.add_parser("add", help="create a user (prints a generated password once)")
    add.add_argument("username")
    add.add_argument(
        "--role", required=True, choices=["agent", "inspector", "supervisor", "admin", "editor"]
    )
    add.add_argument("--display-name")
    add.add_argument("--county", help="county code the user is scoped to (default: all)")
    add.add_argument("--interface", help="the agent's phone, e.g. PJSIP/1001")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of generating one",
    )
    add.set_defaults(func=cmd_users_add)
    setpw = sub.add_parser("set-password", help="set a new password")
    setpw.add_argument("username")
    setpw.add_argument("--password-stdin", action="store_true")
    setpw.set_defaults(func=cmd_users_set_password)
    for name, func, text in (
        ("disable", cmd_users_disable, "disable a user and end their sessions"),
        ("enable", cmd_users_enable, "re-enable a user"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("username")
        p.set_defaults(func=func)
    sub.add_parser("list", help="list users").set_defaults(func=cmd_users_list)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cti", description="Hotline CTI backend")
    cmd = parser.add_subparsers(dest="cmd", required=True)

    serve = cmd.add_parser("serve", help="run the backend")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--role", default="all", help="all (default), or one of api, ami, agi, recordings"
    )
    serve.set_defaults(func=cmd_serve)

    _register_db(cmd)
    _register_users(cmd)
    agi_cli.register(cmd)
    ami_cli.register(cmd)
    routing_cli.register(cmd)
    recordings_cli.register(cmd)
    reports_cli.register(cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json and not sys.stderr.isatty())
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())

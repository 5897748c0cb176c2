"""The embedded default: a private PostgreSQL started from pip alone (pgserver), used when
``CTI_DATABASE_URL`` is unset. Its data lives in the project's git-ignored ``var/`` folder.

pgserver listens on a Unix socket only, which suits a single-machine install. Run as root it
creates a ``pgserver`` system user and opens the permissions of the data folder's parents,
which is why the data folder must stay inside the project's own ``var/``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

_servers: dict[Path, object] = {}  # keep the handles alive: pgserver stops a collected server


def start_embedded_postgres(data_dir: Path, database: str = "cti") -> str:
    """Start (or join) the private server in ``data_dir``; make sure ``database`` exists.

    Returns an asyncpg SQLAlchemy URL. The server keeps running after this process exits
    (pgserver's ``cleanup_mode=None``), so restarts of ``cti serve`` are quick.
    """
    import pgserver  # imported lazily: only the embedded default needs it

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
        raise ValueError(f"bad database name {database!r}")

    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    _servers[data_dir] = server
    if database != "postgres":
        # ``database`` matched the identifier pattern above, so it is safe to interpolate.
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
            log.info("embedded postgres: created database %s", database)
    log.info("embedded postgres running in %s", data_dir)
    return f"postgresql+asyncpg://postgres@/{database}?host={quote(str(data_dir))}"


def stop_embedded_postgres(data_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the private server in ``data_dir`` (fast shutdown). Returns False if none ran.

    pgserver tracks its users by PID, and a server left running by an earlier ``cti``
    process has no live handle to stop it, so this signals the postmaster directly.
    """
    import os
    import signal
    import time

    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False

"""Runtime configuration, read from ``CTI_*`` environment variables (and an optional .env).

Nothing secret has a default that works in production: the session secret key is generated
on first start and kept in the data folder (mode 0600), so two processes of one install
share it and a restart does not log everybody out.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cti.forwarded import Network, parse_networks
from cti.numbers import NumberPlan

#: The repository root when running from a checkout (``pip install -e .``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class AmiNode:
    """One Asterisk node's manager interface, parsed from ``ami://user:secret@host:port``."""

    name: str
    host: str
    port: int
    username: str
    secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"AmiNode(name={self.name!r}, {self.username}@{self.host}:{self.port})"


def parse_ami_url(url: str, default_name: str | None = None) -> AmiNode:
    """Parse ``ami://user:secret@host:port[?name=node1]``; raises ValueError when malformed.

    The node's name is ``?name=``, else ``default_name``, else the host. It must be the
    name the node's call rows carry (the AGI side's ``CTI_NODE``), since a call is
    identified by (node, linkedid) on both sides."""
    parts = urlsplit(url.strip())
    if parts.scheme != "ami":
        raise ValueError(f"AMI URL must start with ami://, got {parts.scheme or 'nothing'}")
    if not parts.hostname or not parts.username or parts.password is None:
        raise ValueError("AMI URL must be ami://user:secret@host[:port]")
    try:
        port = parts.port or 5038
    except ValueError as exc:
        raise ValueError(f"AMI URL has a bad port: {exc}") from None
    name = default_name or parts.hostname
    for item in parts.query.split("&"):
        key, _, value = item.partition("=")
        if key == "name" and value:
            name = unquote(value)
    return AmiNode(
        name=name,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username),
        secret=unquote(parts.password),
    )


def parse_bind(value: str, default_port: int) -> tuple[str, int]:
    """``host:port`` or ``host`` or ``:port`` → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep:
        return value or "127.0.0.1", default_port
    return (host.strip("[]") or "127.0.0.1"), int(port)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CTI_", env_file=".env", extra="ignore")

    #: SQLAlchemy URL (``postgresql+asyncpg://...``). Unset: a private embedded Postgres.
    database_url: str | None = None
    #: The API process's connection pool: connections kept open, and how many more it may
    #: open at a busy moment (those are closed again when returned, which costs a new
    #: connection each time: keep the pool at the requests a worker has in flight).
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_pool_overflow: int = Field(default=20, ge=0, le=500)
    #: ``cti.heap``: hours between the full collections of the whole (frozen) heap, which
    #: free what froze and then died in a cycle; 0: never.
    gc_thaw_hours: float = Field(default=6.0, ge=0, le=24 * 7)
    #: One or more Asterisk nodes, comma separated: ``ami://user:secret@host:port``.
    ami_url: Annotated[list[str], NoDecode] = Field(default_factory=list)
    agi_bind: str = "127.0.0.1:4573"
    #: Where runtime state lives: embedded Postgres, AGI journal, generated secret key.
    data_dir: Path = PROJECT_ROOT / "var"
    recordings_dir: Path = PROJECT_ROOT / "recordings"
    #: Seconds a recording must be unchanged before it is indexed (MixMonitor may still be
    #: writing it); the recording service also waits this long (+1 s) after a hangup.
    recordings_settle_s: float = Field(default=10.0, ge=0.5, le=600)  # files.SETTLE_S
    asterisk_conf_dir: Path = PROJECT_ROOT / "asterisk_conf"
    #: The AMI user that applies routing (reload + read back the dialplan): the
    #: ``[cti_routing]`` user of manager.conf, ``ami://cti_routing:SECRET@127.0.0.1:5038``.
    #: Unset: routing can be edited, rendered and simulated, but not applied.
    routing_ami_url: str | None = None
    #: Secret for signing. Unset: generated once into ``data_dir/secret_key``.
    secret_key: SecretStr | None = None
    #: Name of this Asterisk node in single-node installs (stored on every call row).
    node_name: str = "asterisk"

    country_code: str = "86"
    trunk_prefix: str = "0"
    international_prefix: str = "00"

    session_max_age_s: int = 8 * 3600
    session_idle_s: int = 2 * 3600
    #: Secure cookies need HTTPS; set true behind a TLS proxy.
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_window_s: int = 900
    #: Reverse proxies in front of the API (comma-separated addresses or CIDRs): only a
    #: request from one of them has its ``X-Forwarded-For`` read for the client's address
    #: (``cti.forwarded``). None: the direct peer is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    log_level: str = "INFO"
    log_json: bool = True

    #: The notifier (cti.dispatch.notifier): the SMTP server companies' emails go through.
    #: No host: no email is sent (webhooks still are; email rows wait in the outbox).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str = "hotline@localhost"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    #: STARTTLS after connecting (port 587); false for a local relay without TLS.
    smtp_starttls: bool = True
    #: Seconds a company's webhook may take to answer before the attempt counts as failed.
    webhook_timeout_s: float = 5.0
    #: Post webhooks to this machine's own addresses too (refused by default, also when a
    #: company's host name resolves to one at send time): for a lab or a test receiver.
    webhook_allow_local: bool = False
    #: How often the notifier looks for due notifications, and for overdue dispatches.
    notifier_interval_s: float = 5.0
    overdue_interval_s: float = 60.0
    #: Comma-separated addresses emailed about overdue dispatches (when SMTP is set);
    #: supervisors are always told on the bus.
    overdue_email_to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Wallboard alerts (cti.wallboard.alerts): a condition must hold this long to raise
    #: its alert and be gone this long to clear it; a county's same alert is emailed again
    #: only after the cooldown.
    alert_raise_after_s: float = Field(default=5.0, ge=0)
    alert_clear_after_s: float = Field(default=15.0, ge=0)
    alert_email_cooldown_s: float = Field(default=900.0, ge=0)

    #: Text messages (cti.sms). The secret the SMS gateway signs its webhook posts with
    #: (unset: the webhook refuses every post with 503).
    sms_webhook_secret: SecretStr | None = None
    #: A post whose timestamp is further than this from now (either way) is refused.
    sms_webhook_window_s: int = 300
    #: Where texts to citizens are posted (unset: they wait in the outbox, nothing is sent),
    #: the secret they are signed with (unset: the webhook's), and how long it may take.
    sms_gateway_url: str | None = None
    sms_gateway_secret: SecretStr | None = None
    sms_gateway_timeout_s: float = 5.0
    #: How often the SMS sender looks for due texts.
    sms_interval_s: float = 5.0
    #: A text from a citizen with a ticket opened in the last N hours is added to it.
    sms_append_hours: int = 24
    #: A reply within N hours of our revisit question answers it (1-5: the score).
    sms_revisit_reply_hours: int = 72
    #: The catalogue code of tickets a text opens (an agent reads and handles them).
    sms_category: str = "info"
    #: Which normalised numbers can receive a text (``cti.numbers`` keys).
    sms_mobile_pattern: str = r"^(1[3-9][0-9]{9}|\+[1-9][0-9]{6,14})$"

    #: The public site's forms (cti.public.guard): no sooner than this after the form was
    #: served, no later than that; submissions per client address and per phone number
    #: in an hour (each API process counts its own).
    public_min_submit_s: float = 2.0
    public_max_form_age_s: float = 7200.0
    public_submits_per_ip_hour: int = 10
    public_submits_per_phone_hour: int = 5

    @field_validator("ami_url", "overdue_email_to", "trusted_proxies", mode="before")
    @classmethod
    def _split_ami_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("ami_url")
    @classmethod
    def _check_ami_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            parse_ami_url(url)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @field_validator("sms_mobile_pattern")
    @classmethod
    def _check_mobile_pattern(cls, value: str) -> str:
        re.compile(value)
        return value

    @field_validator("routing_ami_url")
    @classmethod
    def _check_routing_ami_url(cls, value: str | None) -> str | None:
        if value:
            parse_ami_url(value)
        return value or None

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def routing_ami_node(self) -> AmiNode | None:
        return parse_ami_url(self.routing_ami_url) if self.routing_ami_url else None

    @property
    def ami_nodes(self) -> list[AmiNode]:
        """One Asterisk: named ``node_name`` (as the AGI side names its calls) unless the
        URL says ``?name=``. Several: each needs ``?name=`` matching that node's CTI_NODE."""
        default = self.node_name if len(self.ami_url) == 1 else None
        return [parse_ami_url(url, default) for url in self.ami_url]

    @property
    def number_plan(self) -> NumberPlan:
        return NumberPlan(
            country_code=self.country_code,
            trunk_prefix=self.trunk_prefix,
            international_prefix=self.international_prefix,
        )

    @property
    def agi_address(self) -> tuple[str, int]:
        return parse_bind(self.agi_bind, 4573)

    def resolved_secret_key(self) -> str:
        """The configured secret key, or the one generated into the data folder."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(key)
        tmp.replace(path)
        return key

"""What a company's application, staff and certifications may hold: pure checks that take
what someone typed (a JSON body, a form) and return clean values or a
:class:`CompanyError` naming the field.

Everything here comes from outside the centre (the company itself, later the public web
site), so it is hostile until checked: text is kept verbatim but bounded and free of NUL
and control characters; phone numbers are normalised like caller IDs
(:mod:`cti.numbers`); an email must look like one; a webhook URL is http(s) to a host,
never with credentials in it. Codes of categories and counties are only checked for shape
here; :mod:`cti.companies.applications` checks that they exist.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from cti.numbers import NumberKind, NumberPlan, normalise

MAX_NAME = 200
MAX_PERSON = 120
MAX_ROLE = 80
MAX_ADDRESS = 500
MAX_EMAIL = 254
MAX_URL = 500
MAX_TITLE = 200
MAX_CERT_NUMBER = 64
MAX_REASON = 2000
MAX_CONTACTS = 20
MAX_STAFF = 500
MAX_CERTIFICATIONS = 50
MAX_CODES = 100

#: A licence number as authorities print them: letters, digits, and ``-./`` or spaces
#: between them.
LICENCE_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ./-]{0,62}[A-Za-z0-9])?")
#: Catalogue codes and county codes (``cti.store.counties.CODE_PATTERN``), checked for
#: shape before any lookup.
CODE_PATTERN = re.compile(r"[a-z][a-z0-9_.]{0,63}")
#: Deliberately plain: a local part and a domain with a dot, no spaces, no markup, no
#: quotes. Whether it receives mail is found out by sending some.
EMAIL_PATTERN = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_HOST_PATTERN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f]")


#: Why a value was refused, said without words: the public site shows each in its reader's
#: language (``cti.public.texts``, key ``c_<reason>``, which may show ``detail``).
REASONS = frozenset(
    {
        "invalid",  # none of the below
        "shape",  # not text, not a list, not an object (only a JSON body can do that)
        "required",
        "too_long",  # detail: the limit
        "control",
        "licence",
        "phone",
        "email",
        "url",
        "code",  # detail: the value
        "none_chosen",
        "too_many",  # detail: the limit
        "day",
        "day_order",
        "cert_category",  # detail: the category
        "unknown_field",  # detail: the field
        "no_category",  # detail: the value
        "no_county",  # detail: the value
        "taken",
    }
)


class CompanyError(ValueError):
    """A value that cannot be accepted; ``field`` names it (``staff[2].name``), the
    message says why in words the person who typed it can act on (English, for the
    centre's admins and the API); ``reason`` (one of :data:`REASONS`) and ``detail`` (the
    limit or the value the message names, if any) say the same for a translation."""

    def __init__(
        self, field: str, message: str, *, reason: str = "invalid", detail: object = ""
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.reason = reason if reason in REASONS else "invalid"
        self.detail = str(detail)[:40]


# --- single values -----------------------------------------------------------------------


def text(
    field: str,
    value: object,
    limit: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> str:
    """``value`` stripped and otherwise verbatim; refused when it is not text, too long,
    or holds NUL or control characters (newlines and tabs only where ``multiline``)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise CompanyError(field, "must be text", reason="shape")
    value = value.strip()
    if required and not value:
        raise CompanyError(field, "is required", reason="required")
    if len(value) > limit:
        raise CompanyError(field, f"at most {limit} characters", reason="too_long", detail=limit)
    if (_CONTROL if multiline else _CONTROL_OR_NEWLINE).search(value):
        raise CompanyError(field, "must not contain NUL or control characters", reason="control")
    return value


def licence_number(value: object) -> str:
    number = text("licence_number", value, 64, required=True)
    if not LICENCE_PATTERN.fullmatch(number):
        raise CompanyError(
            "licence_number",
            "letters and digits, with '-', '.', '/' or spaces between them",
            reason="licence",
        )
    return number


def phone(field: str, value: object, plan: NumberPlan, *, required: bool = False) -> str:
    """The stored (normalised) form of a phone number, as for a caller ID; "" for none
    when not ``required``."""
    raw = text(field, value, 40, required=required)
    if not raw:
        return ""
    number = normalise(raw, plan)
    if number.kind not in (NumberKind.NATIONAL, NumberKind.INTERNATIONAL):
        raise CompanyError(
            field, "is not a phone number (digits, with an optional +)", reason="phone"
        )
    return number.key


def email(field: str, value: object, *, required: bool = False) -> str:
    address = text(field, value, MAX_EMAIL, required=required)
    if address and not EMAIL_PATTERN.fullmatch(address):
        raise CompanyError(field, "is not an email address (name@example.org)", reason="email")
    return address


def webhook_url(value: object) -> str | None:
    """An ``http``/``https`` URL to a named host or an address, with no user name or
    password in it (a secret in a URL ends up in logs); None for no webhook."""
    url = text("webhook_url", value, MAX_URL)
    if not url:
        return None
    if any(c.isspace() for c in url) or "\\" in url:
        raise CompanyError("webhook_url", "must not contain spaces or backslashes", reason="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise CompanyError("webhook_url", "is not a valid URL", reason="url") from None
    if parts.scheme not in ("http", "https"):
        raise CompanyError("webhook_url", "must start with https:// or http://", reason="url")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise CompanyError("webhook_url", "must not carry a user name or password", reason="url")
    host = parts.hostname or ""
    if not host or not (_HOST_PATTERN.fullmatch(host) or _is_ip_address(host)):
        raise CompanyError("webhook_url", "must name a host", reason="url")
    if port == 0:
        raise CompanyError("webhook_url", "port 0 is not a port", reason="url")
    if _is_local(host):
        # The centre's own machine is no company's receiver: a hook there would make the
        # notifier post into our own services (AMI, Postgres, the API itself).
        raise CompanyError(
            "webhook_url", "must not point at this machine or a local address", reason="url"
        )
    return url


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_local(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    if not _is_ip_address(name):
        return False
    return local_address(ipaddress.ip_address(name))


def local_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook must not be posted to ``address``: this machine (loopback, the
    unspecified address), the link (link-local, where cloud metadata services answer),
    multicast or reserved space; an IPv4-mapped IPv6 address counts as its IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def new_webhook_secret() -> str:
    """The key the centre signs webhook bodies with (HMAC); shown to the company once."""
    return secrets.token_hex(32)


def code(field: str, value: object) -> str:
    if not isinstance(value, str) or not CODE_PATTERN.fullmatch(value):
        shown = value[:40] if isinstance(value, str) else type(value).__name__
        raise CompanyError(field, f"{shown!r} is not a code", reason="code", detail=shown)
    return value


def codes(field: str, values: object, *, required: bool = True) -> tuple[str, ...]:
    """Distinct codes in the order given."""
    if values is None:
        values = []
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise CompanyError(field, "must be a list of codes", reason="shape")
    if required and not values:
        raise CompanyError(field, "name at least one", reason="none_chosen")
    if len(values) > MAX_CODES:
        raise CompanyError(field, f"at most {MAX_CODES}", reason="too_many", detail=MAX_CODES)
    out: list[str] = []
    for i, value in enumerate(values):
        checked = code(f"{field}[{i}]", value)
        if checked not in out:
            out.append(checked)
    return tuple(out)


def day(field: str, value: object) -> date | None:
    """A calendar day (``YYYY-MM-DD`` or a ``date``); None for none."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise CompanyError(field, "a day as YYYY-MM-DD", reason="day")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CompanyError(field, "not a day of the calendar", reason="day") from None


def reason(value: object) -> str:
    return text("reason", value, MAX_REASON, required=True, multiline=True)


# --- records -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    role: str
    phone: str
    email: str


@dataclass(frozen=True, slots=True)
class Certification:
    category: str  # a top-level catalogue code
    title: str
    issuer: str
    number: str
    valid_from: date | None
    valid_until: date | None  # None: does not expire


@dataclass(frozen=True, slots=True)
class Staff:
    name: str
    certifications: tuple[Certification, ...] = ()


@dataclass(frozen=True, slots=True)
class Application:
    name: str
    licence_number: str
    address: str
    phone: str
    email: str
    categories: tuple[str, ...]
    counties: tuple[str, ...]
    contacts: tuple[Contact, ...] = ()
    staff: tuple[Staff, ...] = ()
    webhook_url: str | None = None


def _mapping(field: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CompanyError(field, "must be an object", reason="shape")
    return value


def _items(field: str, value: object, limit: int) -> Sequence[object]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise CompanyError(field, "must be a list", reason="shape")
    if len(value) > limit:
        raise CompanyError(field, f"at most {limit}", reason="too_many", detail=limit)
    return value


def contact(field: str, value: object, plan: NumberPlan) -> Contact:
    data = _mapping(field, value)
    return Contact(
        name=text(f"{field}.name", data.get("name"), MAX_PERSON, required=True),
        role=text(f"{field}.role", data.get("role"), MAX_ROLE),
        phone=phone(f"{field}.phone", data.get("phone"), plan),
        email=email(f"{field}.email", data.get("email")),
    )


def certification(field: str, value: object) -> Certification:
    data = _mapping(field, value)
    valid_from = day(f"{field}.valid_from", data.get("valid_from"))
    valid_until = day(f"{field}.valid_until", data.get("valid_until"))
    if valid_from and valid_until and valid_until < valid_from:
        raise CompanyError(
            f"{field}.valid_until", "must not be before valid_from", reason="day_order"
        )
    return Certification(
        category=code(f"{field}.category", data.get("category")),
        title=text(f"{field}.title", data.get("title"), MAX_TITLE, required=True),
        issuer=text(f"{field}.issuer", data.get("issuer"), MAX_TITLE),
        number=text(f"{field}.number", data.get("number"), MAX_CERT_NUMBER),
        valid_from=valid_from,
        valid_until=valid_until,
    )


def staff_member(field: str, value: object) -> Staff:
    data = _mapping(field, value)
    certs = _items(f"{field}.certifications", data.get("certifications"), MAX_CERTIFICATIONS)
    return Staff(
        name=text(f"{field}.name", data.get("name"), MAX_PERSON, required=True),
        certifications=tuple(
            certification(f"{field}.certifications[{i}]", c) for i, c in enumerate(certs)
        ),
    )


APPLICATION_FIELDS = frozenset(
    {
        "name",
        "licence_number",
        "address",
        "phone",
        "email",
        "categories",
        "counties",
        "contacts",
        "staff",
        "webhook_url",
    }
)


def application(data: object, plan: NumberPlan) -> Application:
    """Check every field of an application; the first wrong one raises
    :class:`CompanyError`. A certification must be for one of the categories applied for.
    Fields it does not know are refused (a typo must not silently drop data)."""
    body = _mapping("application", data)
    unknown = sorted(str(k)[:40] for k in body if k not in APPLICATION_FIELDS)
    if unknown:
        raise CompanyError(
            unknown[0],
            "is not a field of an application",
            reason="unknown_field",
            detail=unknown[0],
        )
    categories = codes("categories", body.get("categories"))
    staff = tuple(
        staff_member(f"staff[{i}]", s)
        for i, s in enumerate(_items("staff", body.get("staff"), MAX_STAFF))
    )
    for i, member in enumerate(staff):
        for j, cert in enumerate(member.certifications):
            if cert.category not in categories:
                raise CompanyError(
                    f"staff[{i}].certifications[{j}].category",
                    f"{cert.category!r} is not one of the categories applied for",
                    reason="cert_category",
                    detail=cert.category,
                )
    return Application(
        name=text("name", body.get("name"), MAX_NAME, required=True),
        licence_number=licence_number(body.get("licence_number")),
        address=text("address", body.get("address"), MAX_ADDRESS, required=True, multiline=True),
        phone=phone("phone", body.get("phone"), plan, required=True),
        email=email("email", body.get("email"), required=True),
        categories=categories,
        counties=codes("counties", body.get("counties")),
        contacts=tuple(
            contact(f"contacts[{i}]", c, plan)
            for i, c in enumerate(_items("contacts", body.get("contacts"), MAX_CONTACTS))
        ),
        staff=staff,
        webhook_url=webhook_url(body.get("webhook_url")),
    )

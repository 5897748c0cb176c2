"""The client's address behind reverse proxies: pure, fed the direct peer, the
``X-Forwarded-For`` header(s) and the trusted proxies (``CTI_TRUSTED_PROXIES``).

The header is believed only when the direct peer is a trusted proxy, and then only as far
as trusted proxies wrote it: read right to left, every trusted hop is skipped and the first
address that is not one of them is the client (what the proxy nearest to it saw). Anything
further left was written by the client itself and is worth nothing. A header that cannot be
read (garbage, a hop that is not an address, too long, too many hops) gives the direct peer:
a wrong guess must never be worse than not trusting the header at all, and never an error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Longer headers (all ``X-Forwarded-For`` lines together) are not read.
MAX_HEADER = 2048
#: More hops than this are not read (a real chain has a handful).
MAX_HOPS = 20


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.0/8``, ``192.0.2.7``, ``2001:db8::/32`` -> networks; raises ValueError
    naming the first that is not one (host bits set are accepted: ``10.1.2.3/8``)."""
    out: list[Network] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value.strip()[:60]!r} is not an address or a CIDR") from None
    return tuple(out)


def parse_address(value: str) -> Address | None:
    """One hop as proxies write it: ``192.0.2.1``, ``192.0.2.1:443``, ``2001:db8::1``,
    ``[2001:db8::1]`` or ``[2001:db8::1]:443``; None for anything else. A zone
    (``fe80::1%eth0``) is dropped and an IPv4-mapped IPv6 address is its IPv4 one, so one
    client has one spelling (the rate limits count it, Postgres ``inet`` stores it)."""
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
    elif text.count(":") == 1:  # IPv4 with a port
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
    else:
        host = text
    host = host.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> str | None:
    """The client's address: ``peer`` unless it is one of ``proxies``; then the first
    untrusted hop of ``forwarded_for`` (every ``X-Forwarded-For`` header's value, in the
    order received) read from the right; the leftmost hop when every hop is trusted; and
    ``peer`` again when the header is missing or cannot be read."""
    if not proxies or peer is None:
        return peer
    direct = parse_address(peer)
    if direct is None or not _trusted(direct, proxies):
        return peer
    if not forwarded_for or sum(len(v) + 1 for v in forwarded_for) > MAX_HEADER:
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    if len(hops) > MAX_HOPS:
        return peer
    found: Address | None = None
    for hop in reversed(hops):
        found = parse_address(hop)
        if found is None:
            return peer
        if not _trusted(found, proxies):
            return str(found)
    return str(found) if found is not None else peer

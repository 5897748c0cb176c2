"""The client's address behind trusted proxies (``cti.forwarded``), fed data.

Tried: no proxies configured; a peer that is not a proxy sending the header (ignored); one
and two trusted hops; every hop trusted (the leftmost); a spoofed entry left of the real
one; several header lines; IPv6 peers and hops, bracketed, with ports, with a zone,
IPv4-mapped; ports on IPv4 hops; garbage, empty hops, spaces, a script tag, a huge header,
too many hops, a non-address peer; and bad settings."""

from __future__ import annotations

import pytest

from cti.forwarded import MAX_HEADER, MAX_HOPS, client_address, parse_address, parse_networks
from cti.settings import Settings

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.7"])
PEER = "10.1.1.1"  # a trusted proxy


def test_without_trusted_proxies_the_header_is_never_read():
    assert client_address(PEER, ["203.0.113.5"], ()) == PEER


def test_a_peer_that_is_not_a_proxy_is_the_client_whatever_it_sends():
    assert client_address("198.51.100.9", ["203.0.113.5"], PROXIES) == "198.51.100.9"
    assert client_address("192.0.2.8", ["203.0.113.5"], PROXIES) == "192.0.2.8"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["203.0.113.5"], "203.0.113.5"),
        (["203.0.113.5, 10.2.2.2"], "203.0.113.5"),  # two proxies of ours
        (["1.1.1.1, 203.0.113.5"], "203.0.113.5"),  # the client's own claim is ignored
        (["1.1.1.1, 203.0.113.5, 192.0.2.7"], "203.0.113.5"),
        (["1.1.1.1", "203.0.113.5, 10.2.2.2"], "203.0.113.5"),  # several lines, in order
        (["10.3.3.3, 10.2.2.2"], "10.3.3.3"),  # every hop ours: the leftmost
        (["  203.0.113.5  ,10.2.2.2 "], "203.0.113.5"),  # spaces
        (["203.0.113.5:41234"], "203.0.113.5"),  # a port appended
        (["2001:db8:1::5"], "2001:db8:1::5"),
        (["[2001:db8:1::5]:443"], "2001:db8:1::5"),
        (["[2001:DB8:1:0::5]"], "2001:db8:1::5"),  # one spelling
        (["fe80::1%eth0"], "fe80::1"),  # no zone (Postgres inet has none)
        (["::ffff:203.0.113.5"], "203.0.113.5"),  # IPv4-mapped: the IPv4 address
        (["203.0.113.5, 2001:db8:ffff::1"], "203.0.113.5"),  # an IPv6 proxy hop
        (["<script>, 203.0.113.5"], "203.0.113.5"),  # garbage beyond the client: unread
    ],
)
def test_the_first_untrusted_hop_from_the_right_is_the_client(headers, expected):
    assert client_address(PEER, headers, PROXIES) == expected


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [""],
        ["garbage"],
        ["203.0.113.5, garbage"],  # the hop our proxy wrote is not an address
        ["203.0.113.5,,10.2.2.2"],  # an empty hop
        ["203.0.113.5 10.2.2.2"],  # spaces instead of commas
        ["unknown"],
        ["203.0.113.5:http"],
        ["[2001:db8::1"],
        ["[2001:db8::1]x"],
        ["<script>alert(1)</script>"],
        ["1" * 100],
        ["203.0.113.5\x00"],
        ["203.0.113.5, " + "10.2.2.2, " * (MAX_HOPS)],  # too many hops
        ["1.1.1.1, " * (MAX_HEADER // 9) + "203.0.113.5"],  # too long
        ["1.1.1.1"] * (MAX_HEADER // 7),  # too long over many lines
        ["203.0.113.5" + " " * MAX_HEADER],  # too long in one hop
    ],
)
def test_a_header_that_cannot_be_read_gives_the_peer(headers):
    assert client_address(PEER, headers, PROXIES) == PEER


def test_ipv6_peers_are_proxies_too_and_an_odd_peer_is_left_alone():
    assert client_address("2001:db8:ffff::2", ["203.0.113.5"], PROXIES) == "203.0.113.5"
    assert client_address("2001:db8:eeee::2", ["203.0.113.5"], PROXIES) == "2001:db8:eeee::2"
    assert client_address("::ffff:10.1.1.1", ["203.0.113.5"], PROXIES) == "203.0.113.5"
    assert client_address("testclient", ["203.0.113.5"], PROXIES) == "testclient"
    assert client_address(None, ["203.0.113.5"], PROXIES) is None


def test_one_hop_is_read_in_the_forms_proxies_write():
    assert str(parse_address("192.0.2.1:8080")) == "192.0.2.1"
    assert parse_address("192.0.2.1:") is None
    assert parse_address("[::1]:") is None
    assert parse_address("x" * 65) is None


def test_trusted_proxies_setting_takes_addresses_and_cidrs(monkeypatch):
    monkeypatch.setenv("CTI_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7 ,2001:db8::/32")
    networks = Settings(_env_file=None).trusted_proxy_networks
    assert [str(n) for n in networks] == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]
    assert Settings(_env_file=None, trusted_proxies=[]).trusted_proxy_networks == ()
    monkeypatch.delenv("CTI_TRUSTED_PROXIES")
    assert Settings(_env_file=None).trusted_proxy_networks == ()  # default: none


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example.org", "10.0.0.0/8;rm"])
def test_a_bad_trusted_proxy_fails_at_start(monkeypatch, value):
    monkeypatch.setenv("CTI_TRUSTED_PROXIES", value)
    with pytest.raises(ValueError):
        Settings(_env_file=None)

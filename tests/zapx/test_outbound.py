"""zapx.outbound: which baseUrl a connection may have, and which peer a socket may reach."""

from __future__ import annotations

import ipaddress

import pytest

from zapx.config import load_config
from zapx.outbound import Outbound, non_public_kind, parse_allowed

STRICT = Outbound()  # the production default: public https hosts only
SANDBOX = Outbound(sandbox=("127.0.0.1", 9090))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("https://169.254.169.254", "link-local"),
        ("https://127.0.0.1:6379", "loopback"),
        ("https://localhost:5432", "loopback"),
        ("https://LOCALHOST.:5432", "loopback"),
        ("https://x.localhost", "loopback"),
        ("https://[::1]", "loopback"),
        ("https://[::]", "unspecified"),
        ("https://[fe80::1]", "link-local"),
        ("https://[fc00::1]", "private"),
        ("https://[::ffff:127.0.0.1]", "loopback"),
        ("https://[::ffff:7f00:1]", "loopback"),
        ("https://[::ffff:10.0.0.1]", "private"),
        ("https://[64:ff9b::a9fe:a9fe]", "not public"),  # NAT64 of 169.254.169.254
        ("https://[2002:7f00:1::]", "loopback"),  # 6to4 of 127.0.0.1
        ("https://[::7f00:1]", "not public"),  # IPv4-compatible
        ("https://[2001::1]", "not public"),  # Teredo
        ("https://[fe80::1%25eth0]", "no usable host"),
        ("http://2130706433/", "standard form"),
        ("https://2130706433/", "standard form"),
        ("https://0177.0.0.1/", "standard form"),
        ("https://0x7f.0.0.1/", "standard form"),
        ("https://0x7f000001/", "standard form"),
        ("https://127.1/", "standard form"),
        ("https://017700000001/", "standard form"),
        ("https://public.example@127.0.0.1", "user name"),
        ("https://:pw@public.example", "user name"),
        ("https://public.example\\@127.0.0.1", "backslash"),
        ("https://public.example #@127.0.0.1", "whitespace"),
        ("https://public.example\t/", "whitespace"),
        ("https://127.0.0.1#@public.example", "fragment"),
        ("https://public.example/?x=1", "query"),
        ("https://public.example:99999", "invalid port"),
        ("https://public.example:0", "invalid port"),
        ("https://exa_mple..com", "DNS name"),
        ("https://10.0.0.1", "private"),
        ("https://172.16.5.4", "private"),
        ("https://192.168.0.10", "private"),
        ("https://100.64.0.1", "not public"),  # shared address space (carrier NAT)
        ("https://0.0.0.0", "unspecified"),
        ("https://224.0.0.1", "multicast"),
        ("https://240.0.0.1", "private"),  # 240.0.0.0/4, "reserved" by IANA
        ("https://255.255.255.255", "not public"),
        ("http://8.8.8.8", "https"),
        ("ftp://8.8.8.8", "http(s) URL"),
        ("https://", "http(s) URL"),
        ("//8.8.8.8", "http(s) URL"),
    ],
)
def test_refused(url, reason):
    for provider in ("cloud", "evolution", "sandbox"):
        with pytest.raises(ValueError, match=r"baseUrl") as info:
            STRICT.check_url(url, provider)
        assert reason in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://graph.facebook.com",
        "https://graph.facebook.com/",
        "https://8.8.8.8",
        "https://[2001:4860:4860::8888]:8443",
        "https://evo.example.test",  # does not resolve: nothing to refuse yet (checked at send)
    ],
)
def test_public_https_is_accepted(url):
    assert STRICT.check_url(url, "cloud") == url.rstrip("/")


def test_the_sandbox_address_is_the_sandbox_providers_only():
    assert SANDBOX.check_url("http://127.0.0.1:9090/", "sandbox") == "http://127.0.0.1:9090"
    assert SANDBOX.sandbox_url == "http://127.0.0.1:9090"
    for url, provider in (
        ("http://127.0.0.1:9090", "cloud"),
        ("http://127.0.0.1:9090", "evolution"),
        ("http://127.0.0.1:9091", "sandbox"),
        ("https://127.0.0.1:9090", "sandbox"),
    ):
        with pytest.raises(ValueError):
            SANDBOX.check_url(url, provider)
    assert Outbound(sandbox=("::1", 9091)).sandbox_url == "http://[::1]:9091"


def test_allowed_hosts():
    allowed = Outbound(
        allowed=parse_allowed("10.0.0.0/8, gw.internal, 127.0.0.1:6380 [fd00::7]:8080,::1")
    )
    for url in (
        "http://10.1.2.3:8080",
        "http://GW.internal:81",
        "http://127.0.0.1:6380",
        "http://[fd00::7]:8080",
        "http://[::1]:5",
        "http://[::ffff:10.0.0.9]",
    ):
        assert allowed.check_url(url, "evolution") == url
    for url in ("http://127.0.0.1:6379", "http://[fd00::7]:8081", "http://192.168.1.1"):
        with pytest.raises(ValueError):
            allowed.check_url(url, "evolution")


@pytest.mark.parametrize(
    "raw", ["10.0.0.0/33", "http://x", "1.2.3.4:99999", "[::1", "[::1]x", "a..b", "h:p"]
)
def test_malformed_allowed_entries(raw):
    with pytest.raises(ValueError, match="is not a host"):
        parse_allowed(raw)


def test_peer_checks_the_address_actually_connected():
    """What the send-time guard decides, from the host in the URL and the socket's peer."""
    assert STRICT.allows_peer("graph.facebook.com", 443, "157.240.1.1")
    assert not STRICT.allows_peer("rebound.example", 443, "127.0.0.1")
    assert not STRICT.allows_peer("rebound.example", 443, "::ffff:169.254.169.254")
    assert not STRICT.allows_peer("rebound.example", 443, "fe80::1%eth0")
    assert not STRICT.allows_peer("x", 443, "")
    assert SANDBOX.allows_peer("127.0.0.1", 9090, "127.0.0.1")
    assert not SANDBOX.allows_peer("127.0.0.1", 6379, "127.0.0.1")
    named = Outbound(allowed=parse_allowed("gw.internal:8080"))
    assert named.allows_peer("gw.internal.", 8080, "10.0.0.7")
    assert not named.allows_peer("gw.internal", 8081, "10.0.0.7")


def test_public_addresses():
    for text in ("8.8.8.8", "157.240.1.1", "2001:4860:4860::8888", "2606:4700::1111"):
        assert non_public_kind(ipaddress.ip_address(text)) is None, text


def test_the_default_configuration_reaches_its_own_sandbox_only():
    """What ``scripts/run`` and ``zapx demo`` rely on: the sandbox at SANDBOX_BIND, nothing else."""
    outbound = Outbound.from_config(load_config({}))
    assert outbound.allowed == ()
    url = outbound.check_url(outbound.sandbox_url, "sandbox")
    assert url == "http://127.0.0.1:9090"
    assert outbound.allows_peer("127.0.0.1", 9090, "127.0.0.1")
    assert not outbound.allows_peer("127.0.0.1", 6379, "127.0.0.1")
    moved = Outbound.from_config(load_config({"SANDBOX_BIND": "[::1]:9091"}))
    assert moved.check_url("http://[::1]:9091", "sandbox") == "http://[::1]:9091"
    assert moved.allows_peer("[::1]", 9091, "::1")

"""Where a connection may send: the rule against server-side request forgery.

A connection's ``baseUrl`` is typed by a tenant and requested by zapx's workers, from inside the
operator's network. Left open, it reaches the cloud metadata service (169.254.169.254), Redis on
127.0.0.1:6379 or PostgreSQL on localhost:5432 with the worker's privileges. So a ``baseUrl`` must
be ``https`` to a public host, except:

- the sandbox: a ``sandbox`` connection may use ``http://SANDBOX_BIND``, the address the operator
  gave ``zapx sandbox``;
- what the operator allows in ``CONNECTION_ALLOWED_HOSTS`` (tests, self-hosted gateways): host
  names, ``host:port``, IP addresses (``10.0.0.7``, ``[fd00::7]:8080``) or CIDR networks
  (``10.0.0.0/8``), comma-separated; ``http`` is accepted there too.

Checked twice. When a connection is created or its settings saved (:meth:`Outbound.check_url`):
the URL's form (no user name or password, no query or fragment, no backslash or whitespace, a
host that is a standard IP address or a DNS name: ``2130706433``, ``0177.0.0.1`` or ``0x7f.1``
are refused, as are ``localhost`` and its subdomains), then every address the host resolves to
(a name that does not resolve, within :data:`RESOLVE_TIMEOUT_S`, is accepted: nothing can be
said of it yet). And when a worker opens a connection (:meth:`Outbound.allows_peer`, called by
``zapx.providers.curl_handle`` and, for alert webhooks, ``zapx.providers.http`` on the address
connected to): a name that resolved to a public address at validation time and to a private one
later (DNS rebinding) is refused at that point, before a byte is sent.

A public address is a globally routable one: not loopback, private (RFC 1918, ``fc00::/7``),
link-local (``169.254.0.0/16``, ``fe80::/10``), shared (``100.64.0.0/10``), multicast, reserved or
unspecified; IPv6 forms that carry an IPv4 address (``::ffff:127.0.0.1``, NAT64, 6to4) are judged
by that address, and IPv4-compatible (``::a.b.c.d``) and Teredo addresses are refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import ipaddress
import re
import socket
import threading
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Seconds a validation waits for a host name to resolve.
RESOLVE_TIMEOUT_S = 2.0

_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
# A last label that is all digits, or 0x-hex: inet_aton reads these hosts as IPv4 addresses.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclasses.dataclass(frozen=True)
class AllowedHost:
    """One ``CONNECTION_ALLOWED_HOSTS`` entry: a host name or a network, and maybe a port."""

    name: str | None = None
    network: IPNetwork | None = None
    #: None: any port.
    port: int | None = None

    def matches(self, host: str, address: IPAddress | None, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.name is not None:
            return self.name == host
        return address is not None and self.network is not None and address in self.network


def parse_allowed(raw: str) -> tuple[AllowedHost, ...]:
    """``CONNECTION_ALLOWED_HOSTS``; raises ValueError naming a malformed entry."""
    entries = []
    for item in re.split(r"[,\s]+", raw.strip()):
        if not item:
            continue
        try:
            entries.append(_entry(item))
        except ValueError:
            raise ValueError(
                f"entry {item!r} is not a host, host:port, IP address, [IPv6]:port or CIDR network"
            ) from None
    return tuple(entries)


def _entry(item: str) -> AllowedHost:
    if "/" in item:
        return AllowedHost(network=_unmapped_network(ipaddress.ip_network(item, strict=False)))
    host, port = item, None
    if item.startswith("["):
        host, bracket, rest = item[1:].partition("]")
        if not bracket:
            raise ValueError(item)
        if rest:
            if not rest.startswith(":"):
                raise ValueError(item)
            port = _port(rest[1:])
    elif item.count(":") == 1:
        host, _, raw_port = item.partition(":")
        port = _port(raw_port)
    address = _literal(host)
    if address is not None:
        return AllowedHost(network=ipaddress.ip_network(address), port=port)
    name = _name(host)
    if name is None:
        raise ValueError(item)
    return AllowedHost(name=name, port=port)


def _port(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(raw)
    return int(raw)


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _unmapped_network(network: IPNetwork) -> IPNetwork:
    mapped = ipaddress.ip_network("::ffff:0:0/96")
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(mapped):
        v4 = ipaddress.IPv4Address(int(network.network_address) & 0xFFFFFFFF)
        return ipaddress.ip_network(f"{v4}/{network.prefixlen - 96}")
    return network


def _literal(host: str) -> IPAddress | None:
    """``host`` as an IP address in its standard form (dotted decimal, or IPv6), else None."""
    try:
        return _unmapped(ipaddress.ip_address(host))
    except ValueError:
        return None


def _name(host: str) -> str | None:
    """``host`` as a DNS name (lower case, without a final dot), or None when it is not one."""
    name = host.lower().removesuffix(".")
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return None  # 2130706433, 0177.0.0.1, 127.1, 0x7f000001: IPv4 in a non-standard form
    return name


def non_public_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not public (``"loopback"``, ``"private"``...), or None when it is."""
    address = _unmapped(address)
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return kind
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:
            return "Teredo"
        if address in _IPV4_COMPATIBLE:
            return "IPv4-compatible"
        embedded = address.sixtofour
        if address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return non_public_kind(embedded)
    return None if address.is_global else "non-public"


def resolve(host: str, port: int, timeout_s: float = RESOLVE_TIMEOUT_S) -> list[IPAddress]:
    """The addresses ``host`` resolves to; empty when it does not within ``timeout_s``."""
    found: list = []

    def run() -> None:
        with contextlib.suppress(OSError, UnicodeError):  # does not resolve: nothing found
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))

    # getaddrinfo has no timeout of its own; a thread bounds how long a request waits for DNS.
    thread = threading.Thread(target=run, name="zapx-resolve", daemon=True)
    thread.start()
    thread.join(timeout_s)
    addresses = []
    for info in list(found):
        address = _literal(str(info[4][0]).split("%", 1)[0])
        if address is not None and address not in addresses:
            addresses.append(address)
    return addresses


@dataclasses.dataclass(frozen=True)
class Outbound:
    """What connections may reach in this install (see the module docstring)."""

    allowed: tuple[AllowedHost, ...] = ()
    #: (host, port) of ``SANDBOX_BIND``, or None.
    sandbox: tuple[str, int] | None = None

    @classmethod
    def from_config(cls, config) -> Outbound:
        return _outbound(config.connection_allowed_hosts, config.sandbox_bind)

    @property
    def sandbox_url(self) -> str:
        if self.sandbox is None:
            return ""
        host, port = self.sandbox
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    def check_url(self, url: str, provider: str) -> str:
        """``url`` without its final ``/`` when a ``provider`` connection may send to it; raises
        ValueError saying why not."""
        scheme, host, port = _split(url)
        if provider == "sandbox" and scheme == "http" and (host, port) == self.sandbox:
            return url.rstrip("/")
        address = _literal(host)
        if self._allowed(host, address, port):
            return url.rstrip("/")
        if address is not None:
            addresses = [address]
        else:
            if _name(host) is None:
                raise ValueError(
                    f"baseUrl {url!r} has a host that is neither a DNS name nor an IP address "
                    "in standard form"
                )
            if host == "localhost" or host.endswith(".localhost"):
                raise ValueError(f"baseUrl {url!r} points at a loopback address (localhost)")
            addresses = resolve(host, port)
        kinds = {non_public_kind(a) for a in addresses if not self._allowed(host, a, port)} - {None}
        if kinds:
            where = "points at" if address is not None else "resolves to"
            raise ValueError(
                f"baseUrl {url!r} {where} an address that is not public "
                f"({', '.join(sorted(kinds))}); a connection may only reach public hosts"
            )
        every_allowed = addresses and all(self._allowed(host, a, port) for a in addresses)
        if scheme != "https" and not every_allowed:
            raise ValueError(f"baseUrl {url!r} must use https")
        return url.rstrip("/")

    def allows_peer(self, host: str, port: int, peer: str) -> bool:
        """May a connection to ``host:port``, connected to the address ``peer``, send?"""
        host = host.strip("[]").lower().removesuffix(".")
        address = _literal(peer.split("%", 1)[0])
        if address is None:
            return False
        if (host, port) == self.sandbox or self._allowed(host, address, port):
            return True
        return non_public_kind(address) is None

    def _allowed(self, host: str, address: IPAddress | None, port: int) -> bool:
        return any(entry.matches(host, address, port) for entry in self.allowed)


@functools.lru_cache(maxsize=16)
def _outbound(allowed: str, sandbox_bind: str) -> Outbound:
    host, _, port = sandbox_bind.rpartition(":")
    return Outbound(
        allowed=parse_allowed(allowed),
        sandbox=(host.strip("[]").lower(), int(port)) if host and port.isdigit() else None,
    )


def _split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; ValueError on any form a parser could read
    differently (urllib3 and urllib do not agree on every odd URL)."""
    if not isinstance(url, str) or any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError(f"baseUrl {url!r} contains whitespace or a control character")
    if "\\" in url:
        raise ValueError(f"baseUrl {url!r} contains a backslash")
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise ValueError(f"baseUrl {url!r} must be an http(s) URL")
    if "@" in parts.netloc:
        raise ValueError(f"baseUrl {url!r} must not carry a user name or password")
    if "?" in url or "#" in url:
        raise ValueError(f"baseUrl {url!r} must not have a query or fragment")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"baseUrl {url!r} has an invalid port") from None
    if port == 0:
        raise ValueError(f"baseUrl {url!r} has an invalid port")
    host = (parts.hostname or "").removesuffix(".")
    if not host or "%" in host:
        raise ValueError(f"baseUrl {url!r} has no usable host")
    return parts.scheme, host, port or _DEFAULT_PORTS[parts.scheme]

"""The client's address: the TCP peer, or what a trusted reverse proxy put in X-Forwarded-For.

``X-Forwarded-For`` is anyone's to write, so it is read only when the peer is one of
``TRUSTED_PROXIES``, and then from the right: each trusted hop names the one before it, and the
first address that is not a trusted proxy is the client (nginx's ``$proxy_add_x_forwarded_for``
appends the address it saw to whatever the client sent).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import falcon


class ClientAddress:
    def __init__(self, trusted_proxies: Iterable[str]):
        self.trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def of(self, req: falcon.Request) -> str:
        client = req.remote_addr or ""
        if not self.trusted:
            return client
        hops = (req.get_header("X-Forwarded-For") or "").split(",")
        for hop in reversed(hops):
            if not self._is_trusted(client):
                break
            hop = hop.strip()
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # a trusted proxy writes addresses: what is left of this was not its
            client = hop
        return client

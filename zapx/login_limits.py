"""Failed logins limited per e-mail and per client address, in Redis (docs/API.md "Login").

Three counters of failures, each a fixed window that starts at its first failure and lasts
``window_s``: per e-mail (any address), per client address (any e-mail), and per (e-mail,
address) pair. An attempt is refused with :class:`TooManyRequests` when

- its address has ``per_address`` failures (a spray of many e-mails from one place), or
- its e-mail has ``per_email`` failures *and* this address has failed on that e-mail before.

The second rule is the trade-off against lock-outs: an attacker who fails on a victim's e-mail
locks that e-mail for himself and for every address that failed on it, but the victim, logging
in from an address with no failure on the e-mail, is still let in. A guesser with many addresses
gets one guess per fresh address and window once the e-mail is locked, and each address at most
``per_address`` guesses in all. A locked e-mail never locks the other e-mails of the same
address below ``per_address``.

An attempt is counted as a failure *before* the password is checked, in one script that also
decides whether it may go: concurrent guesses cannot all pass a check made before any of them
is counted, and a refused attempt costs no bcrypt. A correct password then clears the e-mail's
and the pair's counts and takes the attempt back from the address's (one more round trip, on
success only); the address's other failures stay, so logging in to an own account does not
reset the cap of an address that sprays others.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import logging
import math

import redis

from zapx.errors import TooManyRequests
from zapx.redis import Keys, run_script

log = logging.getLogger("zapx.auth")

# KEYS: e-mail, address, pair counters. ARGV: per-email limit, per-address limit, window (ms).
# Returns {0, ""} to go on (the attempt counted), else {milliseconds to wait, the limit hit}.
_BEGIN = """
local window = tonumber(ARGV[3])
local function ttl(key)
  local t = redis.call('PTTL', key)
  if t < 0 then return window end
  return t
end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then
  return {ttl(KEYS[2]), 'address'}
end
local email = tonumber(redis.call('GET', KEYS[1]) or '0')
if email >= tonumber(ARGV[1]) and tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then
  return {math.min(ttl(KEYS[1]), ttl(KEYS[3])), 'email'}
end
for i = 1, 3 do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], window) end
end
return {0, ''}
"""

# KEYS as above. The e-mail and pair counts go; the address gives back this attempt only.
_SUCCEEDED = """
redis.call('DEL', KEYS[1], KEYS[3])
local address = tonumber(redis.call('GET', KEYS[2]) or '0')
if address > 1 then
  redis.call('DECR', KEYS[2])
elseif address == 1 then
  redis.call('DEL', KEYS[2])
end
return 0
"""


@dataclasses.dataclass(frozen=True)
class LoginLimits:
    """Failures allowed per window (``window_s`` seconds)."""

    window_s: int = 900
    per_email: int = 10
    per_address: int = 100


def address_key(address: str) -> str:
    """What counts as one client: an IPv4 address, an IPv6 /64 (one subscriber's usual share).

    Anything that is not an IP address (a unix socket peer, an empty value) is kept as given.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64] or "unknown"
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class LoginLimiter:
    """The counters of one install (keys under ``prefix``); safe to share between threads."""

    def __init__(self, client: redis.Redis, prefix: str, limits: LoginLimits):
        self.client = client
        self.limits = limits
        # One hash tag for every login key: a script's keys must share a Redis Cluster slot.
        self._keys = Keys(Keys(prefix).of("{login}"))

    def _keys_of(self, email: str, address: str) -> list[str]:
        who = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        where = address_key(address)
        return [self._keys.of("e", who), self._keys.of("a", where), self._keys.of("p", who, where)]

    def begin(self, email: str, address: str) -> None:
        """Count an attempt as a failure, or :class:`TooManyRequests` when it may not be made."""
        wait_ms, limit = run_script(
            self.client,
            _BEGIN,
            self._keys_of(email, address),
            [self.limits.per_email, self.limits.per_address, self.limits.window_s * 1000],
        )
        if not wait_ms:
            return
        retry_after_s = max(1, math.ceil(int(wait_ms) / 1000))
        limit = limit.decode() if isinstance(limit, bytes) else str(limit)
        log.warning(
            "login throttled",
            extra={"limit": limit, "client": address_key(address), "retry_after_s": retry_after_s},
        )
        raise TooManyRequests(
            f"too many failed logins; try again in {retry_after_s} s",
            retry_after_s=retry_after_s,
        )

    def succeeded(self, email: str, address: str) -> None:
        """The password was right: the e-mail starts afresh (see the module docstring)."""
        run_script(self.client, _SUCCEEDED, self._keys_of(email, address), [])

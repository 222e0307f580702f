"""The parsers of configuration values: each takes the raw text of an environment variable and
returns the value, or raises ``ValueError`` with a reason a person can act on (``zapx.config``
puts the variable's name in front)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlparse, urlsplit

import phonenumbers

from zapx.outbound import parse_allowed


def mask_url(url: str) -> str:
    """``url`` with its password shown as ``***``: in the user part (``user:pw@``, ``:pw@``)
    and in a ``password`` query parameter, as libpq and redis-py both accept."""
    parts = urlsplit(url)
    masked = url
    if "@" in parts.netloc:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{colon and ':***'}@{hostport}"
        masked = masked.replace("//" + parts.netloc, "//" + netloc, 1)
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    if query != parts.query:  # edited in place: urlunsplit would rewrite "unix:///" URLs
        head, mark, tail = masked.partition("?")
        masked = head + mark + tail.replace(parts.query, query, 1)
    return masked


def int_range(lo: int, hi: int):
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be an integer, got {raw!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def float_range(lo: float, hi: float):
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
        if not lo <= value <= hi:  # NaN fails this too
            raise ValueError(f"must be between {lo:g} and {hi:g}, got {raw}")
        return value

    return parse


def rate(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"must be a number, got {raw!r}") from None
    if not 0 < value <= 1:
        raise ValueError(f"must be in (0, 1], got {value}")
    return value


def url(*schemes: str):
    def parse(raw: str) -> str:
        parts = urlsplit(raw)
        # A unix socket URL (unix:///path/to/socket) names a path instead of a host.
        located = parts.path.startswith("/") if parts.scheme == "unix" else parts.hostname
        if parts.scheme not in schemes or not located:
            shown = mask_url(raw)
            raise ValueError(f"must look like {schemes[0]}://host[:port]/..., got {shown!r}")
        try:
            parts.port  # noqa: B018 - raises ValueError on a non-numeric port
        except ValueError:
            raise ValueError(f"has an invalid port: {mask_url(raw)!r}") from None
        return raw

    return parse


def choice(*choices: str):
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def bind(raw: str) -> str:
    if not re.fullmatch(r"[\w.\-:\[\]]+:\d{1,5}", raw) or int(raw.rsplit(":", 1)[1]) > 65535:
        raise ValueError(f"must be host:port, got {raw!r}")
    return raw


def region(raw: str) -> str:
    value = raw.strip().upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"must be an ISO 3166 region code known to phonenumbers, got {raw!r}")
    return value


def prefix(raw: str) -> str:
    if not re.fullmatch(r"[\w:\-.]{1,64}", raw):
        raise ValueError(f"must be 1-64 characters of letters, digits, ':', '-', '.', got {raw!r}")
    return raw


def title(raw: str) -> str:
    value = raw.strip()
    if not 1 <= len(value) <= 80 or not value.isprintable():
        raise ValueError(f"must be 1-80 printable characters, got {raw!r}")
    return value


def secret(raw: str) -> str:
    if len(raw) < 32:
        raise ValueError("must be at least 32 characters long")
    return raw


def path(raw: str) -> str:
    if "\x00" in raw or not raw.strip():
        raise ValueError("must be a directory path")
    return raw


def networks(raw: str) -> tuple[str, ...]:
    out = []
    for part in raw.split(","):
        if not part.strip():
            continue
        try:
            out.append(str(ipaddress.ip_network(part.strip(), strict=False)))
        except ValueError:
            raise ValueError(
                f"must be IP addresses or CIDR networks, got {part.strip()!r}"
            ) from None
    return tuple(out)


def boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


def same_site(raw: str) -> str:
    return choice("lax", "strict", "none")(raw).capitalize()


def allowed_hosts(raw: str) -> str:
    parse_allowed(raw)  # raises ValueError naming the bad entry
    return raw.strip()


def origins(raw: str) -> tuple[str, ...]:
    out = []
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        parts = urlparse(text.rstrip("/"))
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"has an invalid port: {text!r}") from None
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise ValueError(
                f"must be origins like https://app.example.com[:port] (no path), got {text!r}"
            )
        # As a browser sends its Origin header: lower case, no default port.
        host = parts.netloc.lower().rsplit(":", 1)[0] if port else parts.netloc.lower()
        default = {"http": 80, "https": 443}[parts.scheme]
        out.append(f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else ""))
    return tuple(dict.fromkeys(out))


def level(raw: str) -> str:
    return choice("debug", "info", "warning", "error")(raw).upper()

"""Per-company campaign settings (``/campaign-settings``): pacing, custom variables and the
company's time zone.

Known keys only, each validated; ``POST`` upserts the keys it is given in one statement.
Intervals are in seconds. The pacing defaults are :data:`zapx.campaigns.pacing.SETTING_DEFAULTS`.
The API answers them as the frontend reads them, ``[{key, value: JSON text}]`` (:func:`as_rows`),
and takes them as it posts them, ``{settings: {key: value, ...}}`` with the values parsed.
"""

from __future__ import annotations

import functools
import json
import logging
import zoneinfo

from peewee import EXCLUDED

from zapx.cache import SETTINGS, QueryCache, dumps
from zapx.campaigns.pacing import SETTING_DEFAULTS
from zapx.db import CampaignSetting, Tenant, db, utcnow
from zapx.errors import ValidationError
from zapx.validation import Field, parse, text_problem

log = logging.getLogger("zapx.settings")

#: A variable's key: any text the frontend's settings page lets a user type (it has no rule:
#: spaces, accents, digits first, even a built-in name, which then never applies since the
#: built-in wins), within what a ``{key}`` in a message can name (at most 64 characters).
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 4096


def _variables(value: list) -> list[dict[str, str]]:
    """``[{key, value}]`` kept as given (keys are not trimmed: what the page shows comes back
    the same); only what cannot be stored or named is refused, and a repeated key, which the
    page never sends."""
    out, seen = [], set()
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValidationError(f"variables[{i}] must be an object", field="variables")
        key, val = item.get("key"), item.get("value", "")
        if val is None:
            val = ""
        for part, text, limit in (("key", key, MAX_KEY_CHARS), ("value", val, MAX_VALUE_CHARS)):
            if not isinstance(text, str) or len(text) > limit:
                raise ValidationError(
                    f"variables[{i}].{part} must be a string of at most {limit} characters",
                    field="variables",
                )
            problem = text_problem(text)
            if problem:
                raise ValidationError(f"variables[{i}].{part} {problem}", field="variables")
        if key in seen:
            raise ValidationError(f"variables has a duplicate key {key!r}", field="variables")
        seen.add(key)
        out.append({"key": key, "value": val})
    return out


@functools.cache
def _zone_names() -> frozenset[str]:
    # ``localtime`` is this host's own zone, not a name another host would read the same way.
    return frozenset(zoneinfo.available_timezones()) - {"localtime"}


def _zone(value: str) -> str:
    """An IANA time zone name (``America/Sao_Paulo``, ``UTC``), as zoneinfo knows it."""
    try:
        if value not in _zone_names():
            raise ValueError(value)
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            f"timezone {value!r} is not an IANA time zone name (e.g. America/Sao_Paulo)",
            field="timezone",
        ) from None
    return value


SETTING_FIELDS = (
    Field("messageInterval", float, min=0, max=3600),
    Field("longerIntervalAfter", int, min=0, max=1_000_000),
    Field("greaterInterval", float, min=0, max=86_400),
    Field("jitter", float, min=0, max=1),
    Field("variables", list, max_len=200, clean=_variables),
    Field("timezone", min_len=1, max_len=64, clean=_zone),
)
DEFAULTS = SETTING_DEFAULTS | {
    "variables": [],
    #: How a ``scheduledAt`` without a UTC offset is read.
    "timezone": "America/Sao_Paulo",
}


def get_settings(tenant: Tenant) -> dict:
    """Every setting, defaults filled in: ``{messageInterval, ..., variables}``."""
    stored = {s.key: s.value for s in tenant.select(CampaignSetting)}
    return DEFAULTS | {k: v for k, v in stored.items() if k in DEFAULTS}


def as_rows(settings: dict) -> list[dict[str, str]]:
    """The settings as the frontend reads them (``GET /campaign-settings``): ``[{key, value}]``
    in :data:`DEFAULTS` order, every key there, each ``value`` JSON text (``"20"``, ``"[{...}]"``),
    which its page parses and posts back parsed."""
    return [
        {"key": k, "value": json.dumps(settings[k], ensure_ascii=False)}
        for k in DEFAULTS
        if k in settings
    ]


def company_zone(tenant: Tenant) -> zoneinfo.ZoneInfo:
    """The company's time zone (``timezone``; ``America/Sao_Paulo`` by default)."""
    stored = (
        tenant.select(CampaignSetting, CampaignSetting.value)
        .where(CampaignSetting.key == "timezone")
        .scalar()
    )
    try:
        return zoneinfo.ZoneInfo(stored or DEFAULTS["timezone"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        # Valid when saved, gone from this host's zone data since: the default, said once a call.
        log.warning(
            "unknown company time zone, using the default",
            extra={"company_id": tenant.company_id, "timezone": str(stored)[:64]},
        )
        return zoneinfo.ZoneInfo(DEFAULTS["timezone"])


#: Part of the cached answer's key: a new shape never serves entries of an older one.
_SHAPE = "settings-v1"


def settings_json(tenant: Tenant, cache: QueryCache | None = None) -> bytes:
    """``GET /campaign-settings`` (:func:`as_rows`) as JSON bytes, through the query cache
    (namespace ``settings``) when one is given."""
    compute = lambda: as_rows(get_settings(tenant))  # noqa: E731
    if cache is None:
        return dumps(compute())
    return cache.get_or_compute(tenant.company_id, SETTINGS, (_SHAPE,), compute)


def save_settings(tenant: Tenant, body: object, cache: QueryCache | None = None) -> dict:
    """Upsert the keys in ``{settings: {...}}``; unknown keys are a 400 naming them. The
    company's cached settings are invalidated once the upsert commits."""
    if not isinstance(body, dict) or not isinstance(body.get("settings"), dict):
        raise ValidationError('body must be {"settings": {...}}', field="settings")
    given = body["settings"]
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValidationError(
            f"unknown settings: {', '.join(unknown)}; known: {', '.join(DEFAULTS)}",
            field="settings",
        )
    data = parse(given, SETTING_FIELDS)
    if data:
        now = utcnow()
        rows = [
            {
                "company": tenant.company_id,
                "key": k,
                "value": v,
                "created_at": now,
                "updated_at": now,
            }
            for k, v in data.items()
        ]
        with db.atomic():
            CampaignSetting.insert_many(rows).on_conflict(
                conflict_target=[CampaignSetting.company, CampaignSetting.key],
                update={
                    CampaignSetting.value: EXCLUDED.value,
                    CampaignSetting.updated_at: EXCLUDED.updated_at,
                },
            ).execute()
        if cache is not None:
            cache.bump(tenant.company_id, SETTINGS)
    return get_settings(tenant)

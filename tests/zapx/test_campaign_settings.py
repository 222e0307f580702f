"""The company time zone setting works on a host without zone data of its own (slim images):
the pinned ``tzdata`` package provides it."""

from __future__ import annotations

import zoneinfo

import pytest

from zapx import campaign_settings
from zapx.errors import ValidationError


@pytest.fixture
def no_system_zones():
    zoneinfo.reset_tzpath([])  # as if /usr/share/zoneinfo were absent
    campaign_settings._zone_names.cache_clear()
    yield
    zoneinfo.reset_tzpath()
    campaign_settings._zone_names.cache_clear()


def test_zones_without_the_hosts_zone_data(no_system_zones):
    assert campaign_settings._zone("America/Sao_Paulo") == "America/Sao_Paulo"
    assert campaign_settings._zone("Asia/Tokyo") == "Asia/Tokyo"
    assert zoneinfo.ZoneInfo.no_cache(campaign_settings.DEFAULTS["timezone"]).key
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        campaign_settings._zone("Mars/Olympus")

"""``/campaign-settings``: the company's pacing settings, custom variables and time zone, in the
frontend's shapes (an array of ``{key, value}`` with JSON text values; posted back parsed)."""

from __future__ import annotations

import falcon

from api import campaign_schemas as schemas
from api.openapi import body_schema, doc
from api.resources.base import Resource, body
from zapx import campaign_settings

_BODY = {
    "type": "object",
    "properties": {"settings": body_schema(campaign_settings.SETTING_FIELDS)},
    "required": ["settings"],
}


class CampaignSettingsResource(Resource):
    @doc(
        "Every campaign setting, defaults filled in: [{key, value}], value JSON text",
        response=schemas.SETTINGS,
    )
    def on_get(self, req, resp):
        resp.data = campaign_settings.settings_json(req.context.tenant, self.deps.query_cache)
        resp.content_type = falcon.MEDIA_JSON

    @doc(
        "Upsert the given settings by key ({settings: {key: value}}, values as parsed from the "
        "GET); answers every setting as the GET does",
        body=_BODY,
        response=schemas.SETTINGS,
    )
    def on_post(self, req, resp):
        saved = campaign_settings.save_settings(
            req.context.tenant, body(req), self.deps.query_cache
        )
        resp.media = campaign_settings.as_rows(saved)

"""``/campaign-settings``: the company's pacing settings and custom variables."""

from __future__ import annotations

from api.openapi import body_schema, doc
from api.resources.base import Resource, body
from zapx import campaign_settings

_BODY = {
    "type": "object",
    "properties": {"settings": body_schema(campaign_settings.SETTING_FIELDS)},
    "required": ["settings"],
}


class CampaignSettingsResource(Resource):
    @doc("Every campaign setting, defaults filled in: {settings: {...}}")
    def on_get(self, req, resp):
        resp.media = {"settings": campaign_settings.get_settings(req.context.tenant)}

    @doc("Upsert the given settings by key", body=_BODY)
    def on_post(self, req, resp):
        saved = campaign_settings.save_settings(req.context.tenant, body(req))
        resp.media = {"settings": saved}

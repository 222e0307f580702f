"""``/webhooks/cloud``: Meta's subscription check and signed status/message notifications."""

from __future__ import annotations

import falcon

from api.openapi import doc
from api.resources.base import Resource
from zapx import webhooks
from zapx.cache import REPORTS
from zapx.engine.messages import CampaignChanged


class CloudWebhookResource(Resource):
    auth_required = False  # signed with the app secret instead

    @doc(
        "Subscription check: echoes hub.challenge when hub.verify_token matches",
        public=True,
        query=("hub.mode", "hub.verify_token", "hub.challenge"),
    )
    def on_get(self, req, resp):
        challenge = webhooks.verify_challenge(
            req.get_param("hub.mode"),
            req.get_param("hub.verify_token"),
            req.get_param("hub.challenge"),
        )
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = challenge

    @doc(
        "Statuses (sent, delivered, read, failed) and replies, signed X-Hub-Signature-256 with "
        "the appSecret of the connection they are for; they act for that connection only",
        body={
            "type": "object",
            "properties": {"object": {"type": "string"}, "entry": {"type": "array"}},
        },
        public=True,
    )
    def on_post(self, req, resp):
        raw = req.bounded_stream.read()
        # Read (and refuse a malformed body with a 400) before the signature: the signature's
        # candidates are the connections of the phone ids the body names.
        changes = webhooks.read(raw)
        signers = webhooks.check_signature(raw, req.get_header("X-Hub-Signature-256"), changes)
        result = webhooks.apply(changes, signers)
        for company_id in result["companies"]:  # committed: the reports' counts moved
            self.deps.query_cache.bump(company_id, REPORTS)
        for company_id, campaign_id in result["reopened"]:
            self.deps.notify_engine(CampaignChanged(company_id, campaign_id))
        resp.media = {
            "statuses": result["statuses"],
            "updated": result["updated"],
            "reopened": len(result["reopened"]),
        }

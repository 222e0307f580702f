"""``/whatsapps`` (WhatsApp connections) and the ``/whatsapp`` alias the Whaticket UI calls."""

from __future__ import annotations

import falcon

from api.openapi import doc
from api.resources.base import Resource, body, ident, no_content, page
from zapx import connections
from zapx.campaigns import flags, service
from zapx.redis import Keys


class WhatsappsResource(Resource):
    @doc("Connections, 20 a page (provider secrets never returned)", paged=True)
    def on_get(self, req, resp):
        resp.media = connections.connections_page(req.context.tenant, *page(req))

    @doc("Every connection", returns="array")
    def on_get_list(self, req, resp):
        resp.media = connections.connections_all(req.context.tenant)

    @doc(
        "Create a connection (plan limit; the first becomes the default)",
        body=connections.CONNECTION_FIELDS,
        status=201,
    )
    def on_post(self, req, resp):
        resp.media = connections.create_connection(
            req.context.tenant, body(req), self.deps.outbound
        )
        resp.status = falcon.HTTP_201

    @doc("One connection")
    def on_get_item(self, req, resp, id):
        resp.media = connections.get_connection(req.context.tenant, ident(id))

    @doc("Update a connection (omitted secrets are kept)", body=connections.CONNECTION_FIELDS)
    def on_put_item(self, req, resp, id):
        connection_id = ident(id)
        updated = connections.update_connection(
            req.context.tenant, connection_id, body(req), self.deps.outbound
        )
        if updated["status"] == "DISCONNECTED":
            # A disconnected session never leaves its campaigns "running" with nothing sent.
            keys = Keys(self.deps.config.redis_prefix)
            paused = service.pause_for_connection(
                req.context.tenant, connection_id, f"connection {updated['name']} disconnected"
            )
            for campaign in paused:
                flags.clear_running(self.deps.redis, keys, campaign.id)
                self.deps.notify_engine(
                    {
                        "kind": "campaign_changed",
                        "company_id": req.context.company_id,
                        "campaign_id": campaign.id,
                    }
                )
        resp.media = updated

    @doc("Delete a connection", status=204)
    def on_delete_item(self, req, resp, id):
        connections.delete_connection(req.context.tenant, ident(id))
        no_content(resp)

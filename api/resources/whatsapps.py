"""``/whatsapps`` (WhatsApp connections) and ``/whatsapp``, the Whaticket frontend's paths.

``/whatsapp`` answers the full list (an array, as the original), and takes its connection form
(``POST``): the form's ``provider: "beta"`` is read as ``zapx.connections.from_form`` says.
``/whatsapp/{id}`` is ``/whatsapps/{id}`` (the form's edit sends back what the GET gave).
"""

from __future__ import annotations

import falcon

from api import schemas
from api.openapi import doc
from api.resources.base import Resource, body, ident, no_content, page
from zapx import connections, pacing_state
from zapx.engine import commands
from zapx.status import ConnectionStatus


class WhatsappsResource(Resource):
    @doc(
        "Connections, 20 a page (provider secrets never returned)",
        paged=True,
        response=schemas.CONNECTIONS_PAGE,
    )
    def on_get(self, req, resp):
        resp.media = connections.connections_page(req.context.tenant, *page(req))

    @doc("Every connection", response=schemas.array(schemas.CONNECTION))
    def on_get_list(self, req, resp):
        resp.media = connections.connections_all(req.context.tenant)

    @doc(
        "Every connection (the frontend's ?session=0 and companyId are ignored)",
        response=schemas.array(schemas.CONNECTION),
    )
    def on_get_ui(self, req, resp):
        self.on_get_list(req, resp)

    @doc(
        "Create a connection from the frontend's form: provider 'beta' (or none) makes a"
        " sandbox connection, DISCONNECTED in production until PUT /whatsapps/{id} sets its"
        " provider (plan limit; the first becomes the default)",
        body=connections.CONNECTION_FIELDS,
        status=201,
        response=schemas.CONNECTION,
    )
    def on_post_ui(self, req, resp):
        form = connections.from_form(body(req), production=self.deps.config.is_production)
        resp.media = connections.create_connection(req.context.tenant, form, self.deps.outbound)
        resp.status = falcon.HTTP_201

    @doc(
        "Create a connection (plan limit; the first becomes the default)",
        body=connections.CONNECTION_FIELDS,
        status=201,
        response=schemas.CONNECTION,
    )
    def on_post(self, req, resp):
        resp.media = connections.create_connection(
            req.context.tenant, body(req), self.deps.outbound
        )
        resp.status = falcon.HTTP_201

    @doc("One connection", response=schemas.CONNECTION)
    def on_get_item(self, req, resp, id):
        resp.media = connections.get_connection(req.context.tenant, ident(id))

    @doc(
        "The connection's send schedule now: rate after throttling, next slot, sends in the"
        " rolling 24 h against dailyLimit, the long-pause count, throttle state",
        response=schemas.PACING,
    )
    def on_get_pacing(self, req, resp, id):
        resp.media = pacing_state.connection_pacing(req.context.tenant, ident(id), self.deps.gate)

    @doc(
        "Update a connection (omitted secrets are kept)",
        body=connections.CONNECTION_FIELDS,
        response=schemas.CONNECTION,
    )
    def on_put_item(self, req, resp, id):
        self._update(req, resp, ident(id), body(req))

    def _update(self, req, resp, connection_id: int, data: object) -> None:
        updated = connections.update_connection(
            req.context.tenant, connection_id, data, self.deps.outbound
        )
        if updated["status"] == ConnectionStatus.DISCONNECTED:
            # A disconnected session never leaves its campaigns "running" with nothing sent.
            reason = f"connection {updated['name']} disconnected"
            for changed in commands.connection_down(
                req.context.tenant, self.deps.run_flags, connection_id, reason
            ):
                self.deps.notify_engine(changed)
        resp.media = updated

    @doc("Delete a connection", status=204)
    def on_delete_item(self, req, resp, id):
        connections.delete_connection(req.context.tenant, ident(id))
        no_content(resp)

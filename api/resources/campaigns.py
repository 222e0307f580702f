"""``/campaigns``: CRUD, commands (pause, resume, cancel, restart), the report and the contacts."""

from __future__ import annotations

import falcon

from api import campaign_schemas as schemas
from api.openapi import doc
from api.resources.base import Resource, body, ident, no_content, page
from zapx.campaigns import flags, report, service, shipping, views
from zapx.engine import commands
from zapx.engine.messages import CampaignChanged
from zapx.status import CampaignStatus

_CSV_QUERY = ("status", "searchParam")


class CampaignsResource(Resource):
    def _notify(self, req, campaign_id: int) -> None:
        """Tell the engine (fire-and-forget); the clock would also find scheduled starts."""
        self.deps.notify_engine(CampaignChanged(req.context.company_id, campaign_id))

    @doc(
        "Campaigns, 20 a page, newest first, with contactList and whatsapp nested",
        paged=True,
        response=schemas.page_of("records", schemas.CAMPAIGN_ROW),
    )
    def on_get(self, req, resp):
        resp.media = views.campaigns_page(req.context.tenant, *page(req))

    @doc("Every campaign, as the pages' rows", response=schemas.array_of(schemas.CAMPAIGN_ROW))
    def on_get_list(self, req, resp):
        resp.media = views.campaigns_all(req.context.tenant)

    @doc(
        "Create a campaign (scheduledAt makes it PROGRAMADA; null texts are empty)",
        body=service.CAMPAIGN_FIELDS,
        status=201,
        response=schemas.CAMPAIGN_ROW,
    )
    def on_post(self, req, resp):
        created = service.create_campaign(req.context.tenant, body(req))
        if created["status"] == CampaignStatus.PROGRAMADA:
            self._notify(req, created["id"])
        resp.media = views.campaign_row(req.context.tenant, created["id"])
        resp.status = falcon.HTTP_201

    @doc(
        "One campaign, with what the report page counts: successRate, shipping[] and "
        "contactList.contacts[] (only the rows and keys its counters use)",
        response=schemas.CAMPAIGN_SHOW,
    )
    def on_get_item(self, req, resp, id):
        resp.data = views.campaign_show_json(req.context.tenant, ident(id))
        resp.content_type = falcon.MEDIA_JSON

    @doc(
        "Update a campaign (only INATIVA, PROGRAMADA or CANCELADA; the campaign's own status "
        "may be sent back)",
        body=service.UPDATE_FIELDS,
        response=schemas.CAMPAIGN_ROW,
    )
    def on_put_item(self, req, resp, id):
        updated = service.update_campaign(req.context.tenant, ident(id), body(req))
        self._notify(req, updated["id"])
        resp.media = views.campaign_row(req.context.tenant, updated["id"])

    @doc("Delete a campaign (not while EM_ANDAMENTO)", status=204)
    def on_delete_item(self, req, resp, id):
        commands.delete(req.context.tenant, self.deps.run_flags, ident(id))
        no_content(resp)

    @doc(
        "Counts by status, confirmations, send rate, estimated end and why its sends wait"
        " (waitingBecause: the send gate's reason, e.g. 'daily limit', or null)"
    )
    def on_get_report(self, req, resp, id):
        redis, keys = self.deps.redis, self.deps.keys
        resp.data = report.report_json(
            req.context.tenant,
            ident(id),
            lambda c: flags.waiting_because(redis, keys, c),
            self.deps.query_cache,
        )
        resp.content_type = falcon.MEDIA_JSON

    @doc(
        "The campaign's contacts, 20 a page by id: status, attempts, provider message id, "
        "error, times (status= one row status; searchParam= name or number)",
        query=("status",),
        paged=True,
    )
    def on_get_shipping(self, req, resp, id):
        search, number = page(req)
        resp.media = shipping.shipping_page(
            req.context.tenant, ident(id), req.get_param("status"), search, number
        )

    @doc("The campaign's contacts as CSV (same filters as /shipping), streamed", query=_CSV_QUERY)
    def on_get_shipping_csv(self, req, resp, id):
        campaign_id = ident(id)
        search, _ = page(req)
        resp.stream = shipping.shipping_csv(
            req.context.tenant, campaign_id, req.get_param("status"), search
        )
        resp.content_type = "text/csv; charset=utf-8"
        resp.set_header(
            "Content-Disposition", f'attachment; filename="campaign-{campaign_id}-shipping.csv"'
        )

    def _command(self, req, resp, id, name):
        # The run flag changes with the row, before the engine hears of it: workers stop
        # within one message.
        _, changed = commands.command(
            req.context.tenant, self.deps.run_flags, ident(id), name, reason="paused by a user"
        )
        self.deps.notify_engine(changed)
        no_content(resp)

    @doc("Pause a running campaign (sending stops within one message)", status=204)
    def on_post_pause(self, req, resp, id):
        self._command(req, resp, id, "pause")

    @doc("Resume a paused campaign", status=204)
    def on_post_resume(self, req, resp, id):
        self._command(req, resp, id, "resume")

    @doc("Cancel a campaign (what was not sent stays unsent)", status=204)
    def on_post_cancel(self, req, resp, id):
        self._command(req, resp, id, "cancel")

    @doc("Restart a cancelled campaign: send what was not sent", status=204)
    def on_post_restart(self, req, resp, id):
        self._command(req, resp, id, "restart")


class CampaignItemResource(CampaignsResource):
    """``/campaigns/{id}``: the frontend's edit sends back the whole ``GET /campaigns/{id}``,
    whose arrays grow with the audience (about 100 bytes a contact, ``zapx.campaigns.views``),
    so its body may be as large as an upload (``UPLOAD_MAX_BYTES``); the arrays are ignored."""

    @property
    def max_body(self) -> int:
        return max(self.deps.config.max_body_bytes, self.deps.config.upload_max_bytes)

"""The Falcon application: ``create_app(deps)`` for tests, ``get_app()`` for gunicorn."""

from __future__ import annotations

import falcon

import zapx
from api import errors
from api.auth import AuthMiddleware
from api.cors import Cors
from api.middleware import BodyLimit, DatabaseScope, RequestContext
from api.openapi import build, doc
from api.resources.alerts import AlertsResource, AlertWebhookResource
from api.resources.auth import LoginResource, LogoutResource, MeResource, RefreshResource
from api.resources.base import Deps, Resource
from api.resources.breakers import BreakersResource
from api.resources.cache import CacheResource
from api.resources.campaigns import CampaignItemResource, CampaignsResource
from api.resources.companies import CompaniesResource, UsersResource
from api.resources.contacts import (
    ContactListItemsResource,
    ContactListsResource,
    ContactsResource,
)
from api.resources.files import FilesResource, FileUploadResource
from api.resources.health import HealthResource
from api.resources.imports import ContactsUploadResource, ImportsResource, ListUploadResource
from api.resources.media import CampaignMediaResource, PublicMediaResource
from api.resources.metrics import MetricsListenerOnly, MetricsResource
from api.resources.ops import OpsPageResource, OpsStateResource
from api.resources.rate_limits import RateLimitsResource
from api.resources.settings import CampaignSettingsResource
from api.resources.shell import PublicSettingResource, VersionResource
from api.resources.webhooks import CloudWebhookResource
from api.resources.whatsapps import WhatsappsResource
from zapx import dependencies
from zapx.config import load_config
from zapx.db import init_db
from zapx.redis import API_RETRIES, API_TIMEOUT_S, get_redis


class OpenApiResource(Resource):
    auth_required = False
    uses_db = False

    path = "/openapi.json"

    def __init__(self, deps: Deps, routes: list):
        super().__init__(deps)
        # The document describes every other route and itself.
        self.spec = build([*routes, (self.path, self, None)], zapx.__version__)

    @doc("This OpenAPI document", public=True)
    def on_get(self, req, resp):
        resp.media = self.spec


def routes(deps: Deps) -> list[tuple[str, object, str | None]]:
    """Every route as ``(uri template, resource, responder suffix)``."""
    companies, users = CompaniesResource(deps), UsersResource(deps)
    contacts_, lists = ContactsResource(deps), ContactListsResource(deps)
    items, whatsapps = ContactListItemsResource(deps), WhatsappsResource(deps)
    campaigns, imports_ = CampaignsResource(deps), ImportsResource(deps)
    files_ = FilesResource(deps)
    ops_page = OpsPageResource(deps)
    cache_ = CacheResource(deps)
    table: list[tuple[str, object, str | None]] = [
        ("/health", HealthResource(deps), None),
        ("/metrics", MetricsResource(deps), None),
        ("/version", VersionResource(deps), None),
        ("/settings/{key}", PublicSettingResource(deps), None),
        ("/auth/login", LoginResource(deps), None),
        ("/auth/refresh_token", RefreshResource(deps), None),
        ("/auth/logout", LogoutResource(deps), None),
        ("/auth/me", MeResource(deps), None),
        ("/companies", companies, None),
        ("/companies/listPlan/{id}", companies, "plan"),
        ("/companies/{id}", companies, "item"),
        ("/companies/{id}/users", companies, "users"),
        ("/users", users, None),
        ("/users/{id}", users, "item"),
        ("/contacts", contacts_, None),
        ("/contacts/list", contacts_, "list"),
        ("/contacts/upload", ContactsUploadResource(deps), None),
        ("/contacts/{id}", contacts_, "item"),
        ("/contact-lists", lists, None),
        ("/contact-lists/list", lists, "list"),
        ("/contact-lists/{id}", lists, "item"),
        ("/contact-lists/{id}/upload", ListUploadResource(deps), None),
        ("/imports", imports_, None),
        ("/imports/{id}", imports_, "item"),
        ("/imports/{id}/rejected.csv", imports_, "rejected"),
        ("/contact-list-items", items, None),
        ("/contact-list-items/list", items, "list"),
        ("/contact-list-items/{id}", items, "item"),
        ("/campaign-settings", CampaignSettingsResource(deps), None),
        ("/rate-limits", RateLimitsResource(deps), None),
        ("/breakers", BreakersResource(deps), None),
        ("/alerts", AlertsResource(deps), None),
        ("/alerts/webhook", AlertWebhookResource(deps), None),
        ("/cache", cache_, None),
        ("/cache/stats", cache_, "stats"),
        ("/files", files_, None),
        ("/files/list", files_, "list"),
        ("/files/{id}", files_, "item"),
        ("/files/uploadList/{id}", FileUploadResource(deps), None),
        ("/campaigns", campaigns, None),
        ("/campaigns/list", campaigns, "list"),
        ("/campaigns/{id}", CampaignItemResource(deps), "item"),
        ("/campaigns/{id}/report", campaigns, "report"),
        ("/campaigns/{id}/shipping", campaigns, "shipping"),
        ("/campaigns/{id}/shipping.csv", campaigns, "shipping_csv"),
        ("/campaigns/{id}/pause", campaigns, "pause"),
        ("/campaigns/{id}/resume", campaigns, "resume"),
        ("/campaigns/{id}/cancel", campaigns, "cancel"),
        ("/campaigns/{id}/restart", campaigns, "restart"),
        ("/campaigns/{id}/media-upload", CampaignMediaResource(deps), None),
        ("/public/media/{company}/{campaign}/{token}/{name}", PublicMediaResource(deps), None),
        ("/whatsapps", whatsapps, None),
        ("/whatsapps/list", whatsapps, "list"),
        ("/whatsapps/{id}", whatsapps, "item"),
        ("/whatsapps/{id}/pacing", whatsapps, "pacing"),
        # The Whaticket frontend's own paths: the full list and its form's create; one item.
        ("/whatsapp", whatsapps, "ui"),
        ("/whatsapp/{id}", whatsapps, "item"),
        ("/webhooks/cloud", CloudWebhookResource(deps), None),
        # The live ops page (public shell) and the state it polls (administrators).
        ("/ops", ops_page, None),
        ("/ops/ops.js", ops_page, "script"),
        ("/ops/ops.css", ops_page, "style"),
        ("/ops/state", OpsStateResource(deps), None),
    ]
    table.append((OpenApiResource.path, OpenApiResource(deps, table), None))
    return table


def create_app(deps: Deps) -> falcon.App:
    """The WSGI app wired to ``deps``; the database must already be initialised."""
    cfg = deps.config
    # CORS first: its process_response runs last, on every answer, errors included.
    cors = [Cors(cfg.frontend_origins, cfg.cors_max_age_s)] if cfg.frontend_origins else []
    # Before auth: the metrics listener answers 404 to every other path, token or not.
    listener = [MetricsListenerOnly(cfg.metrics_bind)] if cfg.metrics_bind else []
    app = falcon.App(
        middleware=[
            *cors,
            RequestContext(),
            *listener,
            BodyLimit(cfg.max_body_bytes),
            # The scope opens the connection that the token-version check of auth needs.
            DatabaseScope(),
            AuthMiddleware(cfg.secret_key),
        ],
        cors_enable=False,
    )
    app.req_options.strip_url_path_trailing_slash = True
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = falcon.media.JSONHandler()
    errors.install(app)
    for template, resource, suffix in routes(deps):
        app.add_route(template, resource, suffix=suffix)
    return app


def get_app() -> falcon.App:
    """Build the app from environment variables (gunicorn calls this once per worker)."""
    config = load_config()
    init_db(
        config.database_url,
        config.db_pool_size,
        application_name="zapx-api",
        connect_timeout_s=config.db_connect_timeout_s,
    )
    dependencies.configure(config.dependency_policy)
    # Short timeouts and one retry: a request gets its 503 within 2 s when Redis hangs.
    client = get_redis(config.redis_url, timeout_s=API_TIMEOUT_S, retries=API_RETRIES)
    return create_app(Deps(config=config, redis=client))

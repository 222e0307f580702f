"""``/companies`` (platform administrators) and ``/users`` (company administrators)."""

from __future__ import annotations

import falcon

from api import schemas
from api.openapi import doc
from api.resources.base import Resource, body, ident, no_content, page
from zapx import accounts


class CompaniesResource(Resource):
    @doc("Companies, 20 a page (super only)", paged=True)
    def on_get(self, req, resp):
        resp.media = accounts.list_companies(req.context.principal, *page(req))

    @doc(
        "Create a company with its plan limits (super only)",
        body=accounts.COMPANY_FIELDS,
        status=201,
    )
    def on_post(self, req, resp):
        resp.media = accounts.create_company(req.context.principal, body(req))
        resp.status = falcon.HTTP_201

    @doc("One company (super only)")
    def on_get_item(self, req, resp, id):
        resp.media = accounts.get_company(req.context.principal, ident(id))

    @doc("Update a company (super only)", body=accounts.COMPANY_FIELDS)
    def on_put_item(self, req, resp, id):
        resp.media = accounts.update_company(req.context.principal, ident(id), body(req))

    @doc("Delete a company and everything it owns (super only)", status=204)
    def on_delete_item(self, req, resp, id):
        accounts.delete_company(req.context.principal, ident(id))
        no_content(resp)

    @doc(
        "The company and its plan as the Whaticket frontend reads them (plan.useCampaigns shows"
        " the Campaign menu): the caller's own company, any for super; another is a 404",
        response=schemas.COMPANY_PLAN,
    )
    def on_get_plan(self, req, resp, id):
        resp.media = accounts.company_plan(req.context.principal, ident(id))

    @doc("Create a user in a company (super only)", body=accounts.USER_FIELDS, status=201)
    def on_post_users(self, req, resp, id):
        company_id = ident(id)
        accounts.require_super(req.context.principal)
        resp.media = accounts.create_user(req.context.principal, body(req), company_id)
        resp.status = falcon.HTTP_201


class UsersResource(Resource):
    @doc("Users of the caller's company, 20 a page (admins)", paged=True)
    def on_get(self, req, resp):
        resp.media = accounts.list_users(req.context.principal, *page(req))

    @doc(
        "Create a user in the caller's company (admins; plan limit)",
        body=accounts.USER_FIELDS,
        status=201,
    )
    def on_post(self, req, resp):
        resp.media = accounts.create_user(req.context.principal, body(req))
        resp.status = falcon.HTTP_201

    @doc("One user")
    def on_get_item(self, req, resp, id):
        resp.media = accounts.get_user(req.context.principal, ident(id))

    @doc(
        "Update a user (a new password or profile revokes their tokens)", body=accounts.USER_FIELDS
    )
    def on_put_item(self, req, resp, id):
        resp.media = accounts.update_user(req.context.principal, ident(id), body(req))

    @doc("Delete a user (admins)", status=204)
    def on_delete_item(self, req, resp, id):
        accounts.delete_user(req.context.principal, ident(id))
        no_content(resp)

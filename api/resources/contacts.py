"""``/contacts``, ``/contact-lists`` and ``/contact-list-items``."""

from __future__ import annotations

import falcon

from api.openapi import body_schema, doc
from api.resources.base import Resource, body, ident, no_content, page
from zapx import contacts


class ContactsResource(Resource):
    @doc("Contacts, 20 a page, searched by name, number or e-mail", paged=True)
    def on_get(self, req, resp):
        # Cached JSON bytes are sent as they are (no decoding and re-encoding).
        resp.data = contacts.contacts_page_json(
            req.context.tenant, *page(req), self.deps.query_cache
        )
        resp.content_type = falcon.MEDIA_JSON

    @doc("Every contact (id, name, number, email), at most 10,000", returns="array")
    def on_get_list(self, req, resp):
        resp.media = contacts.contacts_all(req.context.tenant)

    @doc(
        "Create a contact (number normalised; unique per company)",
        body=contacts.PERSON_FIELDS,
        status=201,
    )
    def on_post(self, req, resp):
        resp.media = contacts.create_contact(
            req.context.tenant, body(req), self.region, self.deps.query_cache
        )
        resp.status = falcon.HTTP_201

    @doc("One contact")
    def on_get_item(self, req, resp, id):
        resp.media = contacts.get_contact(req.context.tenant, ident(id))

    @doc("Update a contact", body=contacts.PERSON_FIELDS)
    def on_put_item(self, req, resp, id):
        resp.media = contacts.update_contact(
            req.context.tenant, ident(id), body(req), self.region, self.deps.query_cache
        )

    @doc("Delete a contact", status=204)
    def on_delete_item(self, req, resp, id):
        contacts.delete_contact(req.context.tenant, ident(id), self.deps.query_cache)
        no_content(resp)


class ContactListsResource(Resource):
    @doc("Contact lists with their item counts, 20 a page", paged=True)
    def on_get(self, req, resp):
        resp.media = contacts.lists_page(req.context.tenant, *page(req))

    @doc("Every contact list", returns="array")
    def on_get_list(self, req, resp):
        resp.media = contacts.lists_all(req.context.tenant)

    @doc("Create a contact list", body=contacts.LIST_FIELDS, status=201)
    def on_post(self, req, resp):
        resp.media = contacts.create_list(req.context.tenant, body(req))
        resp.status = falcon.HTTP_201

    @doc("One contact list with its item count")
    def on_get_item(self, req, resp, id):
        resp.media = contacts.get_list(req.context.tenant, ident(id))

    @doc("Rename a contact list", body=contacts.LIST_FIELDS)
    def on_put_item(self, req, resp, id):
        resp.media = contacts.update_list(req.context.tenant, ident(id), body(req))

    @doc("Delete a contact list and its items", status=204)
    def on_delete_item(self, req, resp, id):
        contacts.delete_list(req.context.tenant, ident(id))
        no_content(resp)


def _item_body_schema() -> dict:
    schema = body_schema(contacts.ITEM_FIELDS)
    schema["properties"]["contactListId"] = {"type": "integer", "minimum": 1}
    schema["required"] = [*schema["required"], "contactListId"]
    return schema


class ContactListItemsResource(Resource):
    @doc("Items of the caller's lists, 20 a page", paged=True, query=("contactListId",))
    def on_get(self, req, resp):
        search, number = page(req)
        resp.media = contacts.items_page(
            req.context.tenant, req.get_param("contactListId"), search, number
        )

    @doc(
        "Every item (of one list with contactListId), at most 10,000",
        returns="array",
        query=("contactListId",),
    )
    def on_get_list(self, req, resp):
        resp.media = contacts.items_all(req.context.tenant, req.get_param("contactListId"))

    @doc("Add an item to a list (number unique per list)", body=_item_body_schema(), status=201)
    def on_post(self, req, resp):
        resp.media = contacts.create_item(req.context.tenant, body(req), self.region)
        resp.status = falcon.HTTP_201

    @doc("One list item")
    def on_get_item(self, req, resp, id):
        resp.media = contacts.get_item(req.context.tenant, ident(id))

    @doc("Update a list item", body=_item_body_schema())
    def on_put_item(self, req, resp, id):
        resp.media = contacts.update_item(req.context.tenant, ident(id), body(req), self.region)

    @doc("Delete a list item", status=204)
    def on_delete_item(self, req, resp, id):
        contacts.delete_item(req.context.tenant, ident(id))
        no_content(resp)

"""``/contacts``, ``/contact-lists`` and ``/contact-list-items``."""

from __future__ import annotations

import falcon

from api import schemas
from api.openapi import body_schema, doc
from api.resources.base import Resource, body, ident, no_content, page
from zapx import contact_lists, contacts, people


class ContactsResource(Resource):
    @doc(
        "Contacts, 20 a page, searched by name, number or e-mail: {contacts, count, hasMore}",
        paged=True,
        response=schemas.CONTACTS_PAGE,
    )
    def on_get(self, req, resp):
        # Cached JSON bytes are sent as they are (no decoding and re-encoding).
        resp.data = contacts.contacts_page_json(
            req.context.tenant, *page(req), self.deps.query_cache
        )
        resp.content_type = falcon.MEDIA_JSON

    @doc(
        "Every contact (id, name, number, email), at most 10,000",
        response=schemas.array(schemas.CONTACT_BRIEF),
    )
    def on_get_list(self, req, resp):
        resp.media = contacts.contacts_all(req.context.tenant)

    @doc(
        "Create a contact (number normalised; unique per company)",
        body=people.PERSON_FIELDS,
        status=201,
        response=schemas.CONTACT,
    )
    def on_post(self, req, resp):
        resp.media = contacts.create_contact(
            req.context.tenant, body(req), self.region, self.deps.query_cache
        )
        resp.status = falcon.HTTP_201

    @doc("One contact", response=schemas.CONTACT)
    def on_get_item(self, req, resp, id):
        resp.media = contacts.get_contact(req.context.tenant, ident(id))

    @doc("Update a contact", body=people.PERSON_FIELDS, response=schemas.CONTACT)
    def on_put_item(self, req, resp, id):
        resp.media = contacts.update_contact(
            req.context.tenant, ident(id), body(req), self.region, self.deps.query_cache
        )

    @doc("Delete a contact", status=204)
    def on_delete_item(self, req, resp, id):
        contacts.delete_contact(req.context.tenant, ident(id), self.deps.query_cache)
        no_content(resp)


class ContactListsResource(Resource):
    @doc(
        "Contact lists with their item counts, 20 a page",
        paged=True,
        response=schemas.CONTACT_LISTS_PAGE,
    )
    def on_get(self, req, resp):
        resp.data = contact_lists.lists_page_json(
            req.context.tenant, *page(req), self.deps.query_cache
        )
        resp.content_type = falcon.MEDIA_JSON

    @doc("Every contact list", response=schemas.array(schemas.CONTACT_LIST))
    def on_get_list(self, req, resp):
        resp.data = contact_lists.lists_all_json(req.context.tenant, self.deps.query_cache)
        resp.content_type = falcon.MEDIA_JSON

    @doc(
        "Create a contact list",
        body=people.LIST_FIELDS,
        status=201,
        response=schemas.CONTACT_LIST,
    )
    def on_post(self, req, resp):
        resp.media = contact_lists.create_list(req.context.tenant, body(req), self.deps.query_cache)
        resp.status = falcon.HTTP_201

    @doc("One contact list with its item count", response=schemas.CONTACT_LIST)
    def on_get_item(self, req, resp, id):
        resp.data = contact_lists.get_list_json(
            req.context.tenant, ident(id), self.deps.query_cache
        )
        resp.content_type = falcon.MEDIA_JSON

    @doc("Rename a contact list", body=people.LIST_FIELDS, response=schemas.CONTACT_LIST)
    def on_put_item(self, req, resp, id):
        resp.media = contact_lists.update_list(
            req.context.tenant, ident(id), body(req), self.deps.query_cache
        )

    @doc("Delete a contact list and its items", status=204)
    def on_delete_item(self, req, resp, id):
        contact_lists.delete_list(req.context.tenant, ident(id), self.deps.query_cache)
        no_content(resp)


def _item_body_schema() -> dict:
    schema = body_schema(people.ITEM_FIELDS)
    schema["properties"]["contactListId"] = {"type": "integer", "minimum": 1}
    schema["required"] = [*schema["required"], "contactListId"]
    return schema


class ContactListItemsResource(Resource):
    @doc(
        "Items of the caller's lists, 20 a page: {contacts, count, hasMore}",
        paged=True,
        query=("contactListId",),
        response=schemas.LIST_ITEMS_PAGE,
    )
    def on_get(self, req, resp):
        search, number = page(req)
        resp.media = contact_lists.items_page(
            req.context.tenant, req.get_param("contactListId"), search, number
        )

    @doc(
        "Every item (of one list with contactListId), at most 10,000",
        query=("contactListId",),
        response=schemas.array(schemas.LIST_ITEM),
    )
    def on_get_list(self, req, resp):
        resp.media = contact_lists.items_all(req.context.tenant, req.get_param("contactListId"))

    @doc(
        "Add an item to a list (number unique per list; a Brazilian number not in use is kept"
        " with isWhatsappValid false)",
        body=_item_body_schema(),
        status=201,
        response=schemas.LIST_ITEM,
    )
    def on_post(self, req, resp):
        resp.media = contact_lists.create_item(
            req.context.tenant, body(req), self.region, self.deps.query_cache
        )
        resp.status = falcon.HTTP_201

    @doc("One list item", response=schemas.LIST_ITEM)
    def on_get_item(self, req, resp, id):
        resp.media = contact_lists.get_item(req.context.tenant, ident(id))

    @doc("Update a list item", body=_item_body_schema(), response=schemas.LIST_ITEM)
    def on_put_item(self, req, resp, id):
        resp.media = contact_lists.update_item(
            req.context.tenant, ident(id), body(req), self.region, self.deps.query_cache
        )

    @doc("Delete a list item", status=204)
    def on_delete_item(self, req, resp, id):
        contact_lists.delete_item(req.context.tenant, ident(id), self.deps.query_cache)
        no_content(resp)

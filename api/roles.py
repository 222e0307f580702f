"""What a ``user`` profile may call: one table by route, checked by the auth middleware.

As in the Whaticket frontend, where connections, campaigns and their settings sit in the
administrators' menu: a ``user`` works with contacts, contact lists and their imports, and may
read connections (never their secrets), campaigns with their reports, the campaign settings and
the file lists (the campaign form's picker), and never sees the rate limits;
creating, changing, starting or deleting those is for company administrators (``admin``) and
platform administrators (``super``). docs/API.md states the same table in words. Every
authenticated route must be listed here (a test checks), so a new route cannot be left open by
omission.
"""

from __future__ import annotations

from zapx.auth import Principal
from zapx.errors import Forbidden

#: Every profile; the service refines it where it must (a ``user`` reads and updates only
#: itself, companies are for ``super``: see ``zapx/accounts.py``).
ANY = "any"
#: A ``user`` may read (GET); every other method is for administrators.
READ = "read"
#: Administrators only, reads included (company admins for their company, super for any).
ADMIN = "admin"

_READS = frozenset({"GET", "HEAD", "OPTIONS"})

#: URI template -> (rule, what the route family is called in a refusal).
RULES: dict[str, tuple[str, str]] = {
    "/auth/me": (ANY, "your user"),
    "/companies": (ANY, "companies"),
    "/companies/{id}": (ANY, "companies"),
    "/companies/{id}/users": (ANY, "companies"),
    "/companies/listPlan/{id}": (ANY, "companies"),
    "/users": (ANY, "users"),
    "/users/{id}": (ANY, "users"),
    "/contacts": (ANY, "contacts"),
    "/contacts/list": (ANY, "contacts"),
    "/contacts/upload": (ANY, "contacts"),
    "/contacts/{id}": (ANY, "contacts"),
    "/contact-lists": (ANY, "contact lists"),
    "/contact-lists/list": (ANY, "contact lists"),
    "/contact-lists/{id}": (ANY, "contact lists"),
    "/contact-lists/{id}/upload": (ANY, "contact lists"),
    "/imports": (ANY, "imports"),
    "/imports/{id}": (ANY, "imports"),
    "/imports/{id}/rejected.csv": (ANY, "imports"),
    "/contact-list-items": (ANY, "contact list items"),
    "/contact-list-items/list": (ANY, "contact list items"),
    "/contact-list-items/{id}": (ANY, "contact list items"),
    "/campaign-settings": (READ, "campaign settings"),
    "/files": (READ, "file lists"),
    "/files/list": (READ, "file lists"),
    "/files/{id}": (READ, "file lists"),
    "/files/uploadList/{id}": (READ, "file lists"),
    "/campaigns": (READ, "campaigns"),
    "/campaigns/list": (READ, "campaigns"),
    "/campaigns/{id}": (READ, "campaigns"),
    "/campaigns/{id}/report": (READ, "campaigns"),
    "/campaigns/{id}/shipping": (READ, "campaigns"),
    "/campaigns/{id}/shipping.csv": (READ, "campaigns"),
    "/campaigns/{id}/pause": (READ, "campaigns"),
    "/campaigns/{id}/resume": (READ, "campaigns"),
    "/campaigns/{id}/cancel": (READ, "campaigns"),
    "/campaigns/{id}/restart": (READ, "campaigns"),
    "/campaigns/{id}/media-upload": (READ, "campaigns"),
    "/whatsapps": (READ, "connections"),
    "/whatsapps/list": (READ, "connections"),
    "/whatsapps/{id}": (READ, "connections"),
    "/whatsapps/{id}/pacing": (READ, "connections"),
    "/whatsapp": (READ, "connections"),
    "/whatsapp/{id}": (READ, "connections"),
    "/rate-limits": (ADMIN, "rate limits"),
    "/breakers": (READ, "breakers"),
    "/alerts": (ADMIN, "alerts"),
    "/alerts/webhook": (ADMIN, "alert webhooks"),
    "/ops/state": (ADMIN, "the ops page"),
    "/cache": (ADMIN, "the query cache"),
    "/cache/stats": (ADMIN, "the query cache"),
}


def require(principal: Principal, uri_template: str | None, method: str) -> None:
    """:class:`Forbidden` when ``principal``'s profile may not call ``method`` on the route.

    A route missing from :data:`RULES` is for administrators only.
    """
    if principal.is_admin:
        return
    rule, family = RULES.get(uri_template or "", (None, "this route"))
    if rule == ANY or (rule == READ and method in _READS):
        return
    if rule == READ:
        raise Forbidden(f"a user profile may read {family} but only administrators may change them")
    raise Forbidden(f"only company administrators may use {family}")

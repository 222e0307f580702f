"""The 404 for a path zapx has no route for, saying whose path it is.

zapx serves the campaign module of the Whaticket-SaaS / ZapExpress frontend; the frontend's other
pages (tickets, chats, queues, the dashboard...) call the original Whaticket backend, and behind
one origin their calls reach zapx. Each gets a 404 JSON that names the feature and says it needs
the original backend, rather than a bare "Not Found": the frontend shows the message in a toast.
"""

from __future__ import annotations

#: The original backend's first path segments (``backend/src/routes/*.ts`` of
#: flaviokalleu/zapexpress2) that zapx does not serve, with the feature each belongs to.
ORIGINAL_FEATURES = {
    "announcements": "announcements",
    "api": "the messages API",
    "chats": "internal chats",
    "contact": "contact tickets",
    "dashboard": "the dashboard",
    "forgetpassword": "password recovery",
    "groups": "contact groups",
    "helps": "help pages",
    "hub-channel": "the Notificame hub",
    "hub-message": "the Notificame hub",
    "hub-notificame": "the Notificame hub",
    "hub-ticket": "the Notificame hub",
    "hub-webhook": "the Notificame hub",
    "invoices": "invoices",
    "message": "messages",
    "messages": "messages",
    "models": "settings",
    "plans": "plans",
    "prompt": "prompts",
    "queue": "queues",
    "queue-options": "queues",
    "queueIntegration": "queue integrations",
    "quick-messages": "quick messages",
    "reports": "reports",
    "resetpasswords": "password recovery",
    "schedules": "schedules",
    "settings": "settings",
    "subscription": "subscriptions",
    "tags": "tags",
    "ticket": "tickets",
    "ticket-notes": "ticket notes",
    "ticket-tags": "ticket tags",
    "tickets": "tickets",
    "version": "the version page",
    "webhook": "Meta webhooks",
    "webhook-instagram": "Instagram webhooks",
    "whatsapp-restart": "WhatsApp sessions",
    "whatsappsession": "WhatsApp sessions",
}


def message(method: str, path: str) -> str:
    """The 404's ``message`` for ``method path``."""
    segment = path.lstrip("/").split("/", 1)[0]
    feature = ORIGINAL_FEATURES.get(segment)
    if feature is not None:
        return (
            f"{method} {path} belongs to {feature}, a feature of the original Whaticket backend; "
            "zapx serves only the campaign module"
        )
    return f"zapx has no route {method} {path}"

"""Database access: the deferred database, the models, the tenant helper, migrations."""

from zapx.db.database import db, init_db
from zapx.db.fields import utcnow
from zapx.db.migrate import drop_database, ensure_database, migrate
from zapx.db.models import (
    CONNECTION_STATUSES,
    EXTRA_INDEXES,
    MODELS,
    PROFILES,
    PROVIDERS,
    RATE_LIMIT_KINDS,
    CampaignSetting,
    Company,
    Contact,
    ContactList,
    ContactListItem,
    RateLimit,
    User,
    WhatsappConnection,
)
from zapx.db.tenant import Tenant

__all__ = [
    "CONNECTION_STATUSES",
    "EXTRA_INDEXES",
    "MODELS",
    "PROFILES",
    "PROVIDERS",
    "RATE_LIMIT_KINDS",
    "CampaignSetting",
    "Company",
    "Contact",
    "ContactList",
    "ContactListItem",
    "RateLimit",
    "Tenant",
    "User",
    "WhatsappConnection",
    "db",
    "drop_database",
    "ensure_database",
    "init_db",
    "migrate",
    "utcnow",
]

"""Database access: the deferred database, the models, the tenant helper, migrations."""

from zapx.db.alert_models import ALERT_INDEXES, ALERT_MODELS, Alert, AlertWebhook
from zapx.db.campaign_models import (
    CAMPAIGN_INDEXES,
    CAMPAIGN_MODELS,
    CAMPAIGN_STATUSES,
    SHIPPING_STATUSES,
    Campaign,
    CampaignBatch,
    CampaignShipping,
)
from zapx.db.database import db, init_db
from zapx.db.fields import utcnow
from zapx.db.file_models import FILE_MODELS, FileList, FileOption
from zapx.db.import_models import (
    IMPORT_INDEXES,
    IMPORT_MODELS,
    IMPORT_STATES,
    ContactImport,
    ImportRejection,
)
from zapx.db.migrate import drop_database, ensure_database, migrate
from zapx.db.models import (
    CONNECTION_STATUSES,
    PROFILES,
    PROVIDERS,
    RATE_LIMIT_KINDS,
    CampaignSetting,
    Company,
    Contact,
    ContactList,
    ContactListItem,
    User,
    WhatsappConnection,
)
from zapx.db.models import EXTRA_INDEXES as _BASE_INDEXES
from zapx.db.models import MODELS as _BASE_MODELS
from zapx.db.rate_limit_models import RATE_LIMIT_MODELS, CompanyRateLimit
from zapx.db.tenant import Tenant

#: Every model, parents first; and the indexes peewee cannot declare (created by migrations).
MODELS = (
    _BASE_MODELS + FILE_MODELS + CAMPAIGN_MODELS + IMPORT_MODELS + RATE_LIMIT_MODELS + ALERT_MODELS
)
EXTRA_INDEXES = _BASE_INDEXES + CAMPAIGN_INDEXES + IMPORT_INDEXES + ALERT_INDEXES

__all__ = [
    "Alert",
    "AlertWebhook",
    "CAMPAIGN_STATUSES",
    "SHIPPING_STATUSES",
    "Campaign",
    "CampaignBatch",
    "CampaignShipping",
    "ContactImport",
    "FileList",
    "FileOption",
    "IMPORT_STATES",
    "ImportRejection",
    "CONNECTION_STATUSES",
    "EXTRA_INDEXES",
    "MODELS",
    "PROFILES",
    "PROVIDERS",
    "RATE_LIMIT_KINDS",
    "CampaignSetting",
    "Company",
    "CompanyRateLimit",
    "Contact",
    "ContactList",
    "ContactListItem",
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

"""Table definitions. Column names are snake_case; the API speaks camelCase.

Indexes follow the queries that use them (see ``docs/SCHEMA.md``). Every tenant table carries
``company_id`` so a tenant filter never needs a join. ``search`` columns hold an accent-stripped,
lower-cased copy of the searchable text, maintained by the application (``zapx.text.search_text``)
and indexed with trigrams together with ``company_id`` (btree_gin), so a search inside one company
never reads another company's matches.
"""

from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.postgres_ext import BinaryJSONField

from zapx.db.database import db
from zapx.db.fields import TimestampTZField, utcnow
from zapx.status import ConnectionStatus

PROFILES = ("admin", "user")
PROVIDERS = ("cloud", "evolution", "sandbox")
CONNECTION_STATUSES = ConnectionStatus.ALL
RATE_LIMIT_KINDS = ("whatsapp", "contact", "campaign", "global")


class BaseModel(Model):
    created_at = TimestampTZField(default=utcnow)
    updated_at = TimestampTZField(default=utcnow)

    class Meta:
        database = db
        legacy_table_names = False

    def save(self, *args, **kwargs):
        self.updated_at = utcnow()
        return super().save(*args, **kwargs)


class Company(BaseModel):
    """A tenant, with its plan limits (counts of users, connections and campaigns allowed)."""

    name = CharField(max_length=255)
    phone = CharField(max_length=32, default="")
    email = CharField(max_length=255, default="")
    status = BooleanField(default=True)
    due_date = TimestampTZField(null=True)
    max_users = IntegerField(default=10)
    max_connections = IntegerField(default=5)
    max_campaigns = IntegerField(default=100)
    use_campaigns = BooleanField(default=True)

    class Meta:
        table_name = "companies"


class User(BaseModel):
    company = ForeignKeyField(Company, backref="users", on_delete="CASCADE", index=False)
    name = CharField(max_length=255)
    # Stored lower-cased; login looks it up through the unique index.
    email = CharField(max_length=255, unique=True)
    password_hash = CharField(max_length=100)
    profile = CharField(max_length=16, default="user")
    super = BooleanField(default=False)
    # Bumped on password change or deletion; tokens carry it, so old tokens stop working.
    token_version = IntegerField(default=0)

    class Meta:
        table_name = "users"


class WhatsappConnection(BaseModel):
    """A WhatsApp session: the channel a campaign sends through. ``settings`` holds secrets."""

    company = ForeignKeyField(Company, backref="whatsapps", on_delete="CASCADE", index=False)
    name = CharField(max_length=255)
    provider = CharField(max_length=16, default="sandbox")
    settings = BinaryJSONField(default=dict, index=False)
    status = CharField(max_length=16, default=ConnectionStatus.DISCONNECTED)
    is_default = BooleanField(default=False)
    number = CharField(max_length=20, default="")

    class Meta:
        table_name = "whatsapps"
        indexes = ((("company", "name"), True),)


class Contact(BaseModel):
    company = ForeignKeyField(Company, backref="contacts", on_delete="CASCADE", index=False)
    name = CharField(max_length=255)
    number = CharField(max_length=20)
    email = CharField(max_length=255, default="")
    condominio = CharField(max_length=255, default="")
    endereco = CharField(max_length=255, default="")
    cargo = CharField(max_length=255, default="")
    extra_info = BinaryJSONField(default=list, index=False)
    is_group = BooleanField(default=False)
    search = TextField(default="")

    class Meta:
        table_name = "contacts"
        indexes = ((("company", "number"), True),)


class ContactList(BaseModel):
    company = ForeignKeyField(Company, backref="contact_lists", on_delete="CASCADE", index=False)
    name = CharField(max_length=255)

    class Meta:
        table_name = "contact_lists"
        indexes = ((("company", "name"), True),)


class ContactListItem(BaseModel):
    company = ForeignKeyField(Company, on_delete="CASCADE")
    contact_list = ForeignKeyField(ContactList, backref="items", on_delete="CASCADE", index=False)
    name = CharField(max_length=255)
    number = CharField(max_length=20)
    email = CharField(max_length=255, default="")
    condominio = CharField(max_length=255, default="")
    endereco = CharField(max_length=255, default="")
    cargo = CharField(max_length=255, default="")
    extra_info = BinaryJSONField(default=list, index=False)
    # NULL until checked: zapx never checks numbers in bulk (that gets accounts banned).
    is_whatsapp_valid = BooleanField(null=True)
    search = TextField(default="")

    class Meta:
        table_name = "contact_list_items"
        indexes = ((("contact_list", "number"), True),)


class CampaignSetting(BaseModel):
    company = ForeignKeyField(
        Company, backref="campaign_settings", on_delete="CASCADE", index=False
    )
    key = CharField(max_length=64)
    value = BinaryJSONField(null=True, index=False)

    class Meta:
        table_name = "campaign_settings"
        indexes = ((("company", "key"), True),)


#: Every model, in dependency order (parents first).
MODELS = (
    Company,
    User,
    WhatsappConnection,
    Contact,
    ContactList,
    ContactListItem,
    CampaignSetting,
)

#: Indexes peewee cannot declare on a model; created by migrations, checked by the schema test.
#: (table, index name, definition as ``pg_indexes.indexdef`` prints it).
EXTRA_INDEXES = (
    # fastupdate=off: contacts arrive one at a time, and GIN's pending list (fastupdate=on) made
    # every search scan the unsorted backlog of recent inserts until a vacuum merged it: after
    # 7,500 API creations the search page cost PostgreSQL 20 ms instead of 6 (docs/BENCHMARKS.md).
    (
        "contacts",
        "contacts_company_search_trgm",
        "CREATE INDEX contacts_company_search_trgm ON public.contacts "
        "USING gin (company_id, search gin_trgm_ops) WITH (fastupdate=off)",
    ),
    (
        "contacts",
        "contacts_company_name",
        "CREATE INDEX contacts_company_name ON public.contacts USING btree (company_id, name)",
    ),
    (
        "contact_list_items",
        "contact_list_items_list_name",
        "CREATE INDEX contact_list_items_list_name ON public.contact_list_items "
        "USING btree (contact_list_id, name)",
    ),
    (
        "whatsapps",
        "whatsapps_one_default",
        "CREATE UNIQUE INDEX whatsapps_one_default ON public.whatsapps USING btree (company_id) "
        "WHERE is_default",
    ),
    # A Cloud phone id names one connection in the install (webhooks are signed per connection);
    # duplicates kept from before the rule are marked and left out (migration 005).
    (
        "whatsapps",
        "whatsapps_cloud_phone_number_id",
        "CREATE UNIQUE INDEX whatsapps_cloud_phone_number_id ON public.whatsapps "
        "USING btree (((settings ->> 'phoneNumberId'::text))) "
        "WHERE (((provider)::text = 'cloud'::text) "
        "AND ((settings ->> 'phoneNumberIdConflict'::text) IS NULL))",
    ),
    (
        "users",
        "users_company",
        "CREATE INDEX users_company ON public.users USING btree (company_id, name)",
    ),
)

__all__ = [
    "PROFILES",
    "PROVIDERS",
    "CONNECTION_STATUSES",
    "RATE_LIMIT_KINDS",
    "MODELS",
    "EXTRA_INDEXES",
]

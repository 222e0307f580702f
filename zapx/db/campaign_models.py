"""Campaign tables: campaigns, their audience snapshot (shipping rows) and delivery batches.

A shipping row moves ``pending -> queued (batch) -> sending -> sent | failed | unknown``, and on
with status webhooks to ``delivered`` and ``read``; each move is a conditional ``UPDATE ... WHERE
status = ...`` per batch (DESIGN rule 3). With confirmation on, a row first goes
``sending -> awaiting`` (the confirmation message left) and back to ``pending`` when the contact
replies, for the main message.
"""

from __future__ import annotations

from peewee import (
    SQL,
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    SmallIntegerField,
    TextField,
)
from playhouse.postgres_ext import BinaryJSONField

from zapx.db.fields import TimestampTZField, utcnow
from zapx.db.file_models import FileList
from zapx.db.models import BaseModel, Company, ContactList, WhatsappConnection
from zapx.status import BatchStatus, CampaignStatus, RowStatus, sql

CAMPAIGN_STATUSES = CampaignStatus.ALL
SHIPPING_STATUSES = RowStatus.ALL
#: Rows that still have a send ahead of them.
OPEN_STATUSES = RowStatus.OPEN
BATCH_STATUSES = BatchStatus.ALL


class Campaign(BaseModel):
    company = ForeignKeyField(Company, backref="campaigns", on_delete="CASCADE", index=False)
    name = CharField(max_length=255)
    status = CharField(max_length=16, default=CampaignStatus.INATIVA)
    confirmation = BooleanField(default=False)
    message1 = TextField(default="")
    message2 = TextField(default="")
    message3 = TextField(default="")
    message4 = TextField(default="")
    message5 = TextField(default="")
    confirmation_message1 = TextField(default="")
    confirmation_message2 = TextField(default="")
    confirmation_message3 = TextField(default="")
    confirmation_message4 = TextField(default="")
    confirmation_message5 = TextField(default="")
    media_path = CharField(max_length=512, default="")
    media_name = CharField(max_length=255, default="")
    media_type = CharField(max_length=16, default="")
    scheduled_at = TimestampTZField(null=True)
    started_at = TimestampTZField(null=True)
    completed_at = TimestampTZField(null=True)
    #: When the current run began after a pause or a cancel (resume, restart); the report's send
    #: rate counts from the later of this and ``started_at``.
    resumed_at = TimestampTZField(null=True)
    contact_list = ForeignKeyField(ContactList, null=True, on_delete="SET NULL", index=False)
    whatsapp = ForeignKeyField(WhatsappConnection, null=True, on_delete="SET NULL", index=False)
    #: The file list the frontend's form picked (``fileListId``); stored and shown, not sent.
    file_list = ForeignKeyField(FileList, null=True, on_delete="SET NULL", index=False)
    #: Why the campaign is PAUSADA (user, connection lost, breaker), shown to the user.
    pause_reason = TextField(default="")
    #: Audience size, fixed when the snapshot is taken.
    total = IntegerField(default=0)
    #: Bumped by every restart; batches of an older generation are ignored.
    generation = IntegerField(default=0)
    #: A mass start copied only the head of the audience (``starts.start_due``): the rest is
    #: still to copy (``starts.complete_audiences``), and the campaign cannot finish until then.
    #: Defaulted in the schema too, so inserts that do not name it (the benchmarks') still work.
    audience_pending = BooleanField(default=False, constraints=[SQL("DEFAULT false")])

    class Meta:
        table_name = "campaigns"
        indexes = ((("company", "name"), False),)


class CampaignShipping(BaseModel):
    id = BigAutoField()
    campaign = ForeignKeyField(Campaign, backref="shipping", on_delete="CASCADE", index=False)
    company_id = IntegerField()
    #: The list item the row was snapshotted from (the item may be deleted later).
    contact_id = IntegerField()
    number = CharField(max_length=20)
    name = CharField(max_length=255, default="")
    email = CharField(max_length=255, default="")
    condominio = CharField(max_length=255, default="")
    endereco = CharField(max_length=255, default="")
    cargo = CharField(max_length=255, default="")
    extra_info = BinaryJSONField(default=list, index=False)
    message_index = SmallIntegerField(default=0)
    status = CharField(max_length=12, default=RowStatus.PENDING)
    batch_id = BigIntegerField(null=True)
    attempts = SmallIntegerField(default=0)
    next_attempt_at = TimestampTZField(null=True)
    provider_message_id = CharField(max_length=128, null=True)
    message = TextField(null=True)
    error = TextField(null=True)
    sent_at = TimestampTZField(null=True)
    delivered_at = TimestampTZField(null=True)
    read_at = TimestampTZField(null=True)
    failed_at = TimestampTZField(null=True)
    confirmation_requested_at = TimestampTZField(null=True)
    confirmed_at = TimestampTZField(null=True)
    #: The list item's ``search`` text (folded name, number, e-mail) as snapshotted; NULL on rows
    #: snapshotted before migration 006.
    search = TextField(null=True)

    class Meta:
        table_name = "campaign_shipping"
        indexes = (
            (("campaign", "contact_id"), True),
            # A campaign's contacts page by page and as CSV, in id order (zapx.campaigns.shipping).
            (("campaign", "id"), False),
            # With id last, planning reads the next pending rows in order and stops at LIMIT
            # instead of sorting every pending row of a big campaign for each batch.
            (("campaign", "status", "id"), False),
        )


class CampaignBatch(BaseModel):
    """Up to 50 rows planned together: one Dramatiq message, one claim, one bulk record."""

    id = BigAutoField()
    campaign = ForeignKeyField(Campaign, on_delete="CASCADE", index=False)
    company_id = IntegerField()
    whatsapp_id = IntegerField()
    generation = IntegerField(default=0)
    status = CharField(max_length=8, default=BatchStatus.PLANNED)
    size = SmallIntegerField()
    #: Send times, epoch seconds, one per row in claim order.
    slots = BinaryJSONField(default=list, index=False)
    claimed_at = TimestampTZField(null=True)
    lease_until = TimestampTZField(null=True)
    done_at = TimestampTZField(null=True)

    class Meta:
        table_name = "campaign_batches"
        indexes = ((("campaign", "status"), False),)


CAMPAIGN_MODELS = (Campaign, CampaignShipping, CampaignBatch)

#: (table, index name, definition as ``pg_indexes.indexdef`` prints it).
CAMPAIGN_INDEXES = (
    (
        "campaigns",
        "campaigns_scheduled",
        "CREATE INDEX campaigns_scheduled ON public.campaigns USING btree (scheduled_at) "
        f"WHERE ((status)::text = {sql(CampaignStatus.PROGRAMADA)}::text)",
    ),
    # The few campaigns whose audience is still being copied: what every tick looks for.
    (
        "campaigns",
        "campaigns_audience_pending",
        "CREATE INDEX campaigns_audience_pending ON public.campaigns USING btree (id) "
        "WHERE audience_pending",
    ),
    (
        "campaign_shipping",
        "campaign_shipping_provider_message_id",
        "CREATE UNIQUE INDEX campaign_shipping_provider_message_id ON public.campaign_shipping "
        "USING btree (provider_message_id) WHERE (provider_message_id IS NOT NULL)",
    ),
    (
        "campaign_shipping",
        "campaign_shipping_batch",
        "CREATE INDEX campaign_shipping_batch ON public.campaign_shipping USING btree (batch_id) "
        "WHERE (batch_id IS NOT NULL)",
    ),
    (
        "campaign_shipping",
        "campaign_shipping_awaiting",
        "CREATE INDEX campaign_shipping_awaiting ON public.campaign_shipping USING btree (number) "
        f"WHERE ((status)::text = {sql(RowStatus.AWAITING)}::text)",
    ),
    (
        "campaign_batches",
        "campaign_batches_lease",
        "CREATE INDEX campaign_batches_lease ON public.campaign_batches USING btree (lease_until) "
        f"WHERE ((status)::text = {sql(BatchStatus.CLAIMED)}::text)",
    ),
)

__all__ = ["CAMPAIGN_MODELS", "CAMPAIGN_INDEXES", "utcnow"]

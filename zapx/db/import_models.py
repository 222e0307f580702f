"""Contact imports: one row per uploaded file, and the rows of it that were rejected.

An import moves ``queued -> running -> done | failed``. ``checkpoint`` is the source row number
(spreadsheet numbering: the header is row 1) of the last row whose chunk is committed; it is
written in the same transaction as that chunk's contacts, its rejected rows and the counters, so
a resumed run skips exactly what is already in the database (``zapx.imports.load``).
"""

from __future__ import annotations

from peewee import (
    BigAutoField,
    BigIntegerField,
    CharField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.postgres_ext import BinaryJSONField

from zapx.db.database import db
from zapx.db.fields import TimestampTZField
from zapx.db.models import BaseModel, Company, ContactList
from zapx.status import ImportState

IMPORT_STATES = ImportState.ALL
IMPORT_TARGETS = ("contacts", "list")


class ContactImport(BaseModel):
    company = ForeignKeyField(Company, backref="imports", on_delete="CASCADE")
    #: The list imported into (target ``list``); NULL for the company's contacts.
    contact_list = ForeignKeyField(ContactList, null=True, on_delete="CASCADE", index=False)
    target = CharField(max_length=8)
    state = CharField(max_length=8, default=ImportState.QUEUED)
    #: The uploaded file while the import may still run; removed when it ends.
    file_path = CharField(max_length=512, default="")
    filename = CharField(max_length=255, default="")
    file_format = CharField(max_length=8, default="")
    sheet = CharField(max_length=255, default="")
    encoding = CharField(max_length=16, default="")
    delimiter = CharField(max_length=4, default="")
    size_bytes = BigIntegerField(default=0)
    #: The header row as read, so rejected rows can be written back under their own columns.
    columns = BinaryJSONField(default=list, index=False)
    rows_read = IntegerField(default=0)
    inserted = IntegerField(default=0)
    updated = IntegerField(default=0)
    unchanged = IntegerField(default=0)
    rejected = IntegerField(default=0)
    checkpoint = IntegerField(default=0)
    #: Share of the file read (0..1) when the last chunk committed, for the progress percentage.
    fraction_read = DoubleField(default=0.0)
    error = TextField(default="")
    started_at = TimestampTZField(null=True)
    finished_at = TimestampTZField(null=True)

    class Meta:
        table_name = "imports"


class ImportRejection(Model):
    """A rejected source row: its number, its cells as read, and why (written in bulk)."""

    id = BigAutoField()
    contact_import = ForeignKeyField(
        ContactImport, column_name="import_id", on_delete="CASCADE", index=False
    )
    row_number = IntegerField()
    values = BinaryJSONField(default=list, index=False)
    reason = TextField()

    class Meta:
        database = db
        legacy_table_names = False
        table_name = "import_rejections"
        indexes = ((("contact_import", "row_number"), True),)


#: In dependency order (parents first).
IMPORT_MODELS = (ContactImport, ImportRejection)
#: Indexes peewee cannot declare: none.
IMPORT_INDEXES: tuple = ()

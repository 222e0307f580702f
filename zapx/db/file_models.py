"""File lists (the frontend's ``/files`` page): a named list of uploaded files, each with its own
caption, that a campaign may name (``fileListId``), as the original's ``Files`` and
``FilesOptions`` tables.

An option is created by the list's JSON (name, message) and gets its file by an upload
(``POST /files/uploadList/{id}``): ``path`` is empty until then. ``path`` is relative to
``MEDIA_DIR`` and only ever written by the upload, never taken from a request's JSON.
"""

from __future__ import annotations

from peewee import CharField, ForeignKeyField, TextField

from zapx.db.models import BaseModel, Company


class FileList(BaseModel):
    company = ForeignKeyField(Company, backref="file_lists", on_delete="CASCADE", index=False)
    name = CharField(max_length=255)
    message = TextField(default="")

    class Meta:
        table_name = "files"
        indexes = ((("company", "name"), True),)


class FileOption(BaseModel):
    company = ForeignKeyField(Company, on_delete="CASCADE", index=False)
    file = ForeignKeyField(FileList, backref="options", on_delete="CASCADE")
    name = CharField(max_length=255, default="")
    #: ``<company>/files/<random token>/<safe name>.<detected extension>``; "" before the upload.
    path = CharField(max_length=512, default="")
    #: The Content-Type of the stored file, read from its content at upload ("" before it).
    media_type = CharField(max_length=128, default="")
    message = TextField(default="")

    class Meta:
        table_name = "files_options"


FILE_MODELS = (FileList, FileOption)

__all__ = ["FILE_MODELS", "FileList", "FileOption"]

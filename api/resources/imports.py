"""Contact imports: ``POST /contacts/upload``, ``POST /contact-lists/{id}/upload`` (multipart
``file``, optional ``sheet``), ``GET /imports`` (the company's, newest first), ``GET /imports/{id}``
and ``GET /imports/{id}/rejected.csv``.

A small file is imported inside the request (201, the final summary); a larger one is queued for
a worker (202, ``importId`` to poll). A file refused on sight (format, header, size) is a 400
and records nothing.
"""

from __future__ import annotations

from pathlib import Path

import falcon

from actors.imports import import_contacts
from api import schemas
from api.openapi import doc
from api.resources.base import Resource, form_parts, ident, upload_name
from zapx import imports
from zapx.db import ContactList
from zapx.errors import ValidationError
from zapx.imports.service import invalidator
from zapx.paging import page_number
from zapx.status import ImportState

_UPLOAD = {
    "type": "object",
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "CSV or XLSX"},
        "sheet": {"type": "string", "description": "XLSX sheet name (default: the first)"},
    },
    "required": ["file"],
}


def enqueue(import_id: int) -> None:
    """Queue a large import for a worker (tests replace this)."""
    import_contacts.send(import_id)


class _Upload(Resource):
    @property
    def max_body(self) -> int:
        return self.deps.config.upload_max_bytes

    def _upload(self, req, resp, list_id: int | None) -> None:
        tenant, cfg = req.context.tenant, self.deps.config
        parts = form_parts(req)
        if list_id is not None:
            tenant.get(ContactList, list_id, label="ContactList")
        path, filename, sheet = None, "", req.get_param("sheet")
        try:
            for part in parts:
                if part.name == "file" and path is None:
                    filename = upload_name(part) or "upload"
                    path = imports.save_upload(
                        part.stream, cfg.import_dir, tenant.company_id, filename,
                        cfg.upload_max_bytes,
                    )  # fmt: skip
                elif part.name == "sheet":
                    sheet = part.get_text().strip() or sheet
        except BaseException:
            if path:
                Path(path).unlink(missing_ok=True)
            raise
        if path is None:
            raise ValidationError("no multipart field named 'file'", field="file")
        imp = imports.create_import(tenant, path, filename, list_id=list_id, sheet=sheet)
        if imports.runs_inline(imp):
            imports.run_import(
                imp.id,
                self.region,
                chunk_rows=cfg.import_chunk_rows,
                after_chunk=invalidator(self.deps.redis, cfg.redis_prefix),
            )
            result = imports.get_import(tenant, imp.id)
            if result["state"] == ImportState.FAILED:
                raise ValidationError(result["error"] or "the file could not be read", field="file")
            resp.media, resp.status = result, falcon.HTTP_201
            return
        enqueue(imp.id)
        resp.media, resp.status = imports.import_dict(imp), falcon.HTTP_202


class ContactsUploadResource(_Upload):
    @doc(
        "Import contacts from a CSV or XLSX file (small: 201 with the summary; large: 202, "
        "poll GET /imports/{id})",
        body=_UPLOAD,
        multipart=True,
        query=("sheet",),
        status=201,
        response=schemas.IMPORT,
        also={202: schemas.IMPORT},
    )
    def on_post(self, req, resp):
        self._upload(req, resp, None)


class ListUploadResource(_Upload):
    @doc(
        "Import a CSV or XLSX file into a contact list (small: 201; large: 202)",
        body=_UPLOAD,
        multipart=True,
        query=("sheet",),
        status=201,
        response=schemas.IMPORT,
        also={202: schemas.IMPORT},
    )
    def on_post(self, req, resp, id):
        self._upload(req, resp, ident(id))


class ImportsResource(Resource):
    @doc(
        "The company's imports, newest first, 20 a page",
        query=("pageNumber",),
        response=schemas.page("records", schemas.IMPORT),
    )
    def on_get(self, req, resp):
        resp.media = imports.imports_page(
            req.context.tenant, page_number(req.get_param("pageNumber"))
        )

    @doc(
        "An import's progress: state, percent of the file read, rows/s, rows read, inserted, "
        "updated, unchanged, rejected",
        response=schemas.IMPORT,
    )
    def on_get_item(self, req, resp, id):
        resp.media = imports.get_import(req.context.tenant, ident(id))

    @doc("The rejected rows as CSV: row number, the file's own columns, reason")
    def on_get_rejected(self, req, resp, id):
        import_id = ident(id)
        resp.stream = imports.rejected_csv(req.context.tenant, import_id)
        resp.content_type = "text/csv; charset=utf-8"
        resp.set_header(
            "Content-Disposition", f'attachment; filename="import-{import_id}-rejected.csv"'
        )

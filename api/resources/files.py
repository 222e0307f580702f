"""``/files``: the company's file lists (the frontend's Files page and its campaign form's
picker), and ``/files/uploadList/{id}``, the upload of their files."""

from __future__ import annotations

import falcon

from api import campaign_schemas as schemas
from api.openapi import doc
from api.resources.base import Resource, body, form_parts, ident, no_content, page, upload_name
from zapx import file_uploads, files
from zapx.campaigns import media_types
from zapx.errors import ValidationError

_UPLOAD = {
    "type": "object",
    "properties": {
        "files": {"type": "string", "format": "binary"},
        "fileId": {"type": "string"},
        "typeArch": {"type": "string"},
        **{name: {"type": "string"} for name in file_uploads.TEXT_FIELDS},
    },
    "required": ["files", "id"],
}


class FilesResource(Resource):
    @doc(
        "File lists, 20 a page by name: {files, count, hasMore}",
        paged=True,
        response=schemas.page_of("files", schemas.FILE_LIST),
    )
    def on_get(self, req, resp):
        resp.media = files.lists_page(req.context.tenant, *page(req))

    @doc("Every file list, by name", response=schemas.array_of(schemas.FILE_LIST))
    def on_get_list(self, req, resp):
        resp.media = files.lists_all(req.context.tenant)

    @doc(
        "Create a file list with its options (name, message; files come by uploadList)",
        body=files.LIST_FIELDS,
        status=201,
        response=schemas.FILE_LIST_SHOW,
    )
    def on_post(self, req, resp):
        resp.media = files.create_list(req.context.tenant, body(req))
        resp.status = falcon.HTTP_201

    @doc("One file list with its options", response=schemas.FILE_LIST_SHOW)
    def on_get_item(self, req, resp, id):
        resp.media = files.show_list(req.context.tenant, ident(id))

    @doc(
        "Update a file list; with options, upsert them by id and delete those left out",
        body=files.LIST_FIELDS,
        response=schemas.FILE_LIST_SHOW,
    )
    def on_put_item(self, req, resp, id):
        resp.media = files.update_list(
            req.context.tenant, ident(id), body(req), self.deps.config.media_dir
        )

    @doc("Delete a file list, its options and their files", status=204)
    def on_delete_item(self, req, resp, id):
        files.delete_list(req.context.tenant, ident(id), self.deps.config.media_dir)
        no_content(resp)


class FileUploadResource(Resource):
    @property
    def max_body(self) -> int:
        return self.deps.config.upload_max_bytes

    @doc(
        "Upload the files of a list's options (multipart: repeated 'files' with, per file, "
        "'id' of its option, 'name', 'message', 'mediaType'; each file's type is read from its "
        f"content: {media_types.ACCEPTED})",
        body=_UPLOAD,
        response=schemas.FILE_LIST_SHOW,
    )
    def on_post(self, req, resp, id):
        list_id = ident(id)
        tenant, cfg = req.context.tenant, self.deps.config
        file_uploads.check_list(tenant, list_id)
        staged: list[file_uploads.Staged] = []
        fields: dict[str, list[str]] = {}
        try:
            # Every part is read, to the closing boundary, before any option changes.
            for part in form_parts(req):
                if part.name == "files":
                    staged.append(
                        file_uploads.stage(
                            tenant, cfg.media_dir, upload_name(part), part.stream,
                            cfg.upload_max_bytes,
                        )
                    )  # fmt: skip
                elif part.name in (*file_uploads.TEXT_FIELDS, "fileId", "typeArch"):
                    fields.setdefault(part.name, []).append(_text(part))
        except BaseException:
            file_uploads.discard(cfg.media_dir, staged)
            raise
        resp.media = file_uploads.attach(tenant, list_id, cfg.media_dir, staged, fields)


def _text(part) -> str:
    try:
        return part.get_text() or ""
    except falcon.MediaMalformedError:
        raise ValidationError(
            f"the multipart field {part.name!r} is not UTF-8 text of at most 1 MiB",
            field=part.name,
        ) from None

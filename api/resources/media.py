"""``/campaigns/{id}/media-upload`` (multipart ``file``) and the public media URLs providers
fetch."""

from __future__ import annotations

from api.openapi import doc
from api.resources.base import Resource, form_parts, ident, no_content, upload_name
from zapx.campaigns import media, media_types
from zapx.errors import ValidationError

_UPLOAD = {
    "type": "object",
    "properties": {"file": {"type": "string", "format": "binary"}},
    "required": ["file"],
}
#: The public URL serves bytes that came from a client: no page of this origin may come of it.
_SERVED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


class CampaignMediaResource(Resource):
    @property
    def max_body(self) -> int:
        return self.deps.config.upload_max_bytes

    @doc(
        "Attach a media file (multipart field 'file'; its type is read from its content: "
        f"{media_types.ACCEPTED}); sent with the text as caption",
        body=_UPLOAD,
    )
    def on_post(self, req, resp, id):
        campaign_id = ident(id)
        tenant, cfg = req.context.tenant, self.deps.config
        stored = None
        try:
            # Every part is read, to the closing boundary, before the campaign is changed.
            for part in form_parts(req):
                if part.name == "file" and stored is None:
                    stored = media.store(
                        tenant, campaign_id, cfg.media_dir, upload_name(part), part.stream,
                        cfg.upload_max_bytes,
                    )  # fmt: skip
        except BaseException:
            if stored is not None:
                media.discard(cfg.media_dir, stored)
            raise
        if stored is None:
            raise ValidationError("no multipart field named 'file'", field="file")
        resp.media = media.attach(tenant, campaign_id, cfg.media_dir, stored)

    @doc("Remove the campaign's media file", status=204)
    def on_delete(self, req, resp, id):
        media.delete(req.context.tenant, ident(id), self.deps.config.media_dir)
        no_content(resp)


class PublicMediaResource(Resource):
    auth_required = False  # the random token in the path is the credential
    uses_db = False

    @doc("A campaign's media file, as providers fetch it", public=True)
    def on_get(self, req, resp, company, campaign, token, name):
        path = media.resolve(self.deps.config.media_dir, [company, campaign, token, name])
        resp.content_type, attachment = media_types.served(name)
        # The name matched [A-Za-z0-9._-]+ (media.resolve): it needs no quoting or encoding.
        disposition = "attachment" if attachment else "inline"
        resp.set_header("Content-Disposition", f'{disposition}; filename="{name}"')
        for header, value in _SERVED_HEADERS.items():
            resp.set_header(header, value)
        resp.content_length = path.stat().st_size
        resp.stream = open(path, "rb")  # noqa: SIM115 - Falcon closes the stream
        resp.set_header("Cache-Control", "private, max-age=3600")

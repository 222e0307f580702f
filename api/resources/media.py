"""``/campaigns/{id}/media-upload`` (multipart ``file``) and the public media URLs providers
fetch."""

from __future__ import annotations

import mimetypes

from api.openapi import doc
from api.resources.base import Resource, ident, no_content
from zapx.campaigns import media
from zapx.errors import ValidationError

_UPLOAD = {
    "type": "object",
    "properties": {"file": {"type": "string", "format": "binary"}},
    "required": ["file"],
}


class CampaignMediaResource(Resource):
    @property
    def max_body(self) -> int:
        return self.deps.config.upload_max_bytes

    @doc(
        "Attach a media file (multipart field 'file'); sent with the text as caption", body=_UPLOAD
    )
    def on_post(self, req, resp, id):
        campaign_id = ident(id)
        if not (req.content_type or "").startswith("multipart/form-data"):
            raise ValidationError("send the file as multipart/form-data in a field named 'file'")
        cfg = self.deps.config
        for part in req.get_media():
            if part.name == "file":
                resp.media = media.save(
                    req.context.tenant,
                    campaign_id,
                    cfg.media_dir,
                    part.secure_filename if part.filename else "file",
                    part.content_type,
                    part.stream,
                    cfg.upload_max_bytes,
                )
                return
        raise ValidationError("no multipart field named 'file'", field="file")

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
        resp.content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        resp.content_length = path.stat().st_size
        resp.stream = open(path, "rb")  # noqa: SIM115 - Falcon closes the stream
        resp.set_header("Cache-Control", "private, max-age=3600")

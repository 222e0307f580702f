"""``/campaigns/{id}/media-upload``: multipart upload, limits, removal, the public URL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.api.helpers import assert_error, snapshot
from tests.zapx.campaigns.media_samples import ACCEPTED, REFUSED
from zapx.campaigns import media_types
from zapx.db import Campaign, db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256


def _multipart(field: str, filename: str, content: bytes, ctype: str) -> tuple[bytes, dict]:
    boundary = "zapxBOUNDARY42"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture
def campaign(client, alice):
    resp = client.simulate_post(
        "/campaigns", json={"name": "Mídia", "message1": "Veja"}, headers=alice.headers
    )
    return resp.json["id"]


def _upload(
    client, acct, campaign_id, field="file", name="promo ção.png", content=PNG, ctype="image/png"
):
    body, headers = _multipart(field, name, content, ctype)
    return client.simulate_post(
        f"/campaigns/{campaign_id}/media-upload", body=body, headers=acct.headers | headers
    )


def test_upload_serve_replace_and_delete(client, alice, campaign, config):
    resp = _upload(client, alice, campaign)
    assert resp.status_code == 200, resp.text
    info = resp.json
    assert info["mediaType"] == "image" and info["size"] == len(PNG)
    shown = client.simulate_get(f"/campaigns/{campaign}", headers=alice.headers).json
    assert shown["mediaPath"] == info["mediaPath"] and shown["mediaName"]
    public = client.simulate_get(f"/public/media/{info['mediaPath']}")  # no token needed
    assert public.status_code == 200 and public.content == PNG
    assert public.headers["content-type"] == "image/png"
    assert public.headers["x-content-type-options"] == "nosniff"
    assert public.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert public.headers["content-disposition"] == 'inline; filename="promo_cao.png"'
    assert info["mediaName"] == "promo ção.png" and info["contentType"] == "image/png"
    # A guessed path is a 404, and so is a traversal attempt.
    company, camp, _, name = info["mediaPath"].split("/")
    assert client.simulate_get(f"/public/media/{company}/{camp}/guess/{name}").status_code == 404
    assert client.simulate_get(f"/public/media/{company}/{camp}/../..").status_code == 404
    # Replacing removes the old file.
    old_file = os.path.join(config.media_dir, info["mediaPath"])
    second = _upload(
        client, alice, campaign, name="doc.pdf", content=b"%PDF-1.4", ctype="application/pdf"
    ).json
    assert second["mediaType"] == "document" and not os.path.exists(old_file)
    served = client.simulate_get(f"/public/media/{second['mediaPath']}")
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == 'attachment; filename="doc.pdf"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert (
        client.simulate_delete(
            f"/campaigns/{campaign}/media-upload", headers=alice.headers
        ).status_code
        == 204
    )
    assert client.simulate_get(f"/public/media/{second['mediaPath']}").status_code == 404
    assert_error(
        client.simulate_delete(f"/campaigns/{campaign}/media-upload", headers=alice.headers), 404
    )


def test_bad_uploads_change_nothing(client, alice, bob, campaign):
    before = snapshot()
    assert_error(_upload(client, alice, campaign, field="other"), 400, field="file")
    assert_error(_upload(client, alice, campaign, content=b""), 400, contains="empty")
    assert_error(
        client.simulate_post(
            f"/campaigns/{campaign}/media-upload", json={"file": "x"}, headers=alice.headers
        ),
        400,
        contains="multipart",
    )
    assert_error(_upload(client, bob, campaign), 404)
    with db.connection_context():
        Campaign.update(status="EM_ANDAMENTO").where(Campaign.id == campaign).execute()
    before = snapshot()
    assert_error(_upload(client, alice, campaign), 409)
    assert snapshot() == before


def test_upload_over_the_limit_is_refused(client, alice, campaign, config):
    big = b"x" * (config.upload_max_bytes + 1)
    before = snapshot()
    resp = _upload(client, alice, campaign, content=big, ctype="video/mp4")
    assert resp.status_code in (400, 413), resp.text
    assert snapshot() == before


def _files(media_dir) -> list[Path]:
    return [p for p in Path(media_dir).rglob("*") if p.is_file()]


#: One of each kind through the API (tests/zapx/campaigns/test_media_types.py has them all).
API_ACCEPTED = ["jpeg", "png", "mp4", "3gp", "m4a", "mp3", "ogg opus", "pdf", "text", "doc", "xlsx"]
API_REFUSED = [
    "html", "svg", "js function", "elf", "pe", "mach-o 64", "shell script", "webp", "zip", "docm",
    "windows-1252 text",
]  # fmt: skip


@pytest.mark.parametrize("sample", API_ACCEPTED)
def test_each_whatsapp_type_is_stored_as_detected_and_served_as_stored(
    client, alice, campaign, sample
):
    content, ext, kind = ACCEPTED[sample]
    # The client's name and Content-Type claim another type: the content decides.
    resp = _upload(client, alice, campaign, name="upload.png", content=content, ctype="text/html")
    assert resp.status_code == 200, resp.text
    info, mime = resp.json, media_types.TYPES[ext].mime
    assert (info["mediaType"], info["contentType"]) == (kind, mime)
    assert info["mediaPath"].endswith(f"/upload.{ext}")
    assert info["mediaName"] == f"upload.{ext}"
    with db.connection_context():
        assert Campaign.get_by_id(campaign).media_type == kind
    served = client.simulate_get(f"/public/media/{info['mediaPath']}")
    assert served.status_code == 200 and served.content == content
    assert served.headers["content-type"] == mime
    assert served.headers["x-content-type-options"] == "nosniff"
    disposition = "attachment" if kind == "document" else "inline"
    assert served.headers["content-disposition"] == f'{disposition}; filename="upload.{ext}"'


@pytest.mark.parametrize("sample", API_REFUSED)
def test_other_types_are_refused_by_content_and_change_nothing(
    client, alice, campaign, media_dir, sample
):
    content, words = REFUSED[sample]
    files = _files(media_dir)
    before = snapshot()
    resp = _upload(client, alice, campaign, name="foto.png", content=content, ctype="image/png")
    body = assert_error(resp, 400, "ERR_VALIDATION", field="file", contains=words)
    assert "accepted are JPEG or PNG images" in body["message"]
    assert snapshot() == before
    assert _files(media_dir) == files


def test_text_named_like_code_is_refused(client, alice, campaign):
    for name in ("pagina.html", "app.js", "logo.svg"):
        resp = _upload(client, alice, campaign, name=name, content=b"ola", ctype="text/plain")
        assert_error(resp, 400, field="file", contains="text named like")


def test_a_truncated_upload_is_a_400_and_keeps_the_old_media(client, alice, campaign, media_dir):
    first = _upload(client, alice, campaign).json
    body, headers = _multipart("file", "b.pdf", b"%PDF-1.4\n" + b"x" * 50_000, "application/pdf")
    before, files = snapshot(), _files(media_dir)
    for cut in (len(body) - 8, len(body) // 2, 150, 30):
        resp = client.simulate_post(
            f"/campaigns/{campaign}/media-upload", body=body[:cut], headers=alice.headers | headers
        )
        assert_error(resp, 400, field="file", contains="cut short")
    assert snapshot() == before and _files(media_dir) == files
    assert client.simulate_get(f"/public/media/{first['mediaPath']}").status_code == 200


@pytest.mark.parametrize(
    ("disposition", "message"),
    [(b'filename="a\x00b.png"', "NUL"), (b'filename="\xff.png"', "UTF-8")],
)
def test_hostile_file_names_are_a_400(client, alice, campaign, media_dir, disposition, message):
    body = (
        b'--zb\r\nContent-Disposition: form-data; name="file"; ' + disposition
        + b"\r\nContent-Type: image/png\r\n\r\n" + PNG + b"\r\n--zb--\r\n"
    )  # fmt: skip
    headers = alice.headers | {"Content-Type": "multipart/form-data; boundary=zb"}
    before, files = snapshot(), _files(media_dir)
    resp = client.simulate_post(f"/campaigns/{campaign}/media-upload", body=body, headers=headers)
    assert_error(resp, 400, field="file", contains=message)
    assert snapshot() == before and _files(media_dir) == files


@pytest.mark.parametrize(
    ("name", "content_type", "disposition"),
    [
        ("old.png", "image/png", "inline"),
        ("old.webp", "image/webp", "inline"),
        ("old.pdf", "application/pdf", "attachment"),
        ("page.html", "application/octet-stream", "attachment"),
        ("logo.svg", "application/octet-stream", "attachment"),
        ("noext", "application/octet-stream", "attachment"),
    ],
)
def test_media_stored_before_detection_is_still_served_safely(
    client, alice, campaign, config, name, content_type, disposition
):
    """A row written by an earlier version (any name, any content) keeps its URL working."""
    relative = f"{alice.company_id}/{campaign}/oldtoken/{name}"
    path = Path(config.media_dir) / relative
    path.parent.mkdir(parents=True)
    path.write_bytes(b"<html><script>alert(1)</script>")
    with db.connection_context():
        Campaign.update(media_path=relative, media_name=name, media_type="image").where(
            Campaign.id == campaign
        ).execute()
    shown = client.simulate_get(f"/campaigns/{campaign}", headers=alice.headers).json
    assert shown["mediaPath"] == relative
    served = client.simulate_get(f"/public/media/{relative}")
    assert served.status_code == 200 and served.content == path.read_bytes()
    assert served.headers["content-type"] == content_type
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert served.headers["content-disposition"] == f'{disposition}; filename="{name}"'
    # Replacing it with a checked upload removes the old file.
    assert _upload(client, alice, campaign).status_code == 200
    assert not path.exists()

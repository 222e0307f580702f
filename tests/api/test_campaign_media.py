"""``/campaigns/{id}/media-upload``: multipart upload, limits, removal, the public URL."""

from __future__ import annotations

import os

import pytest

from tests.api.helpers import assert_error, snapshot
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

"""The frontend's file-list calls, replayed as its FileModal, Files page and campaign form make
them (``frontend_calls.CALLS`` ``files.*``): list, create, upload (``files``, ``mediaType``,
``name``, ``message``, ``id`` repeated per file), show, edit, delete; tenant-scoped, uploads
checked by content."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.contract import CALLS_BY_NAME, multipart, replay, replays_into
from tests.api.helpers import assert_error, snapshot
from tests.zapx.campaigns.media_samples import ACCEPTED, REFUSED

#: The calls these tests replay (test name -> call names).
REPLAYED: dict[str, tuple[str, ...]] = {}
replays = replays_into(REPLAYED)
PNG, PDF = ACCEPTED["png"][0], ACCEPTED["pdf"][0]


def modal_upload(list_id: int, options: list[dict], files: list) -> tuple[bytes, str]:
    """``FileModal/index.js:198-210``: fileId, typeArch, then per option with a file its file,
    mediaType, a generated name, its message and the option id from the save's answer."""

    def text(name: str, value) -> tuple[str, None, bytes, None]:
        return (name, None, str(value).encode(), None)

    parts = [text("fileId", list_id), text("typeArch", "fileList")]
    for option, file in zip(options, files, strict=True):
        if file is None:
            continue
        filename, content, ctype = file
        parts += [
            ("files", filename, content, ctype),
            text("mediaType", ctype),
            text("name", f"imagem_17000000000{option['id']}"),
            text("message", option["message"]),
            text("id", option["id"]),
        ]
    return multipart(parts)


def _stored(media_dir: str, option: dict) -> Path:
    assert option["path"], option
    return Path(media_dir) / option["path"]


@pytest.fixture
def saved(client, spec, alice):
    """A list made as the FileModal makes it: the JSON save, then the upload of its files."""
    body = {
        "message": "Catálogo de verão",
        "options": [
            {"file": {}, "message": "Foto da vitrine", "name": "imagem_1700000000000"},
            {"file": {}, "message": "Tabela de preços", "name": "texto_1700000000001"},
        ],
        "userId": alice.user_id,
        "name": "Catálogo de verão",
    }
    created = replay(client, spec, alice, "files.create", status=201, json=body).json
    assert [o["path"] for o in created["options"]] == [None, None]  # files come next
    upload = modal_upload(
        created["id"],
        created["options"],
        [("vitrine.png", PNG, "image/png"), ("precos.pdf", PDF, "application/pdf")],
    )
    shown = replay(
        client, spec, alice, "files.upload", status=200, body=upload, id=created["id"]
    ).json
    return shown


@replays("files.create", "files.upload", "files.show")
def test_create_and_upload_as_the_file_modal_does(client, spec, alice, saved, config):
    options = saved["options"]
    assert [o["mediaType"] for o in options] == ["image/png", "application/pdf"]
    assert [o["message"] for o in options] == ["Foto da vitrine", "Tabela de preços"]
    for option, content in zip(options, (PNG, PDF), strict=True):
        stored = _stored(config.media_dir, option)
        assert stored.read_bytes() == content
        assert stored.parent.parent.name == "files" and stored.suffix in (".png", ".pdf")
    shown = replay(client, spec, alice, "files.show", status=200, id=saved["id"]).json
    assert shown == saved


@replays("files.update")
def test_edit_keeps_uploaded_files_and_removing_an_option_deletes_its_file(
    client, spec, alice, saved, config
):
    shown = client.simulate_get(f"/files/{saved['id']}", headers=alice.headers).json
    kept, dropped = shown["options"]
    # FileModal's save of the GET: every option's name null when no new file was picked.
    body = shown | {
        "userId": alice.user_id,
        "message": "Catálogo de inverno",
        "options": [kept | {"name": None, "message": "Vitrine nova"}, {"file": {}, "message": "x"}],
    }
    edited = replay(client, spec, alice, "files.update", status=200, json=body, id=saved["id"]).json
    assert edited["message"] == "Catálogo de inverno"
    first, added = edited["options"]
    assert first["id"] == kept["id"] and first["path"] == kept["path"]  # the file stays
    assert first["name"] == kept["name"] and first["message"] == "Vitrine nova"
    assert added["path"] is None and added["message"] == "x"
    assert _stored(config.media_dir, first).exists()
    assert not _stored(config.media_dir, dropped).exists()  # its option went, with its file


@replays("files.delete")
def test_delete_removes_the_files_and_frees_the_campaigns_pick(client, spec, alice, saved, config):
    paths = [_stored(config.media_dir, o) for o in saved["options"]]
    campaign = client.simulate_post(
        "/campaigns", json={"name": "Com arquivos", "fileListId": saved["id"]},
        headers=alice.headers,
    ).json  # fmt: skip
    assert campaign["fileListId"] == saved["id"]
    replay(client, spec, alice, "files.delete", status=204, id=saved["id"])
    assert not any(p.exists() for p in paths)
    assert_error(
        client.simulate_get(f"/files/{saved['id']}", headers=alice.headers),
        404,
        "ERR_NO_FILE_FOUND",
    )
    again = client.simulate_get(f"/campaigns/{campaign['id']}", headers=alice.headers).json
    assert again["fileListId"] is None


@pytest.mark.parametrize("kind", ["html", "svg", "js function"])
def test_an_upload_that_is_not_media_is_refused_and_keeps_nothing(
    client, alice, saved, config, kind
):
    content, words = REFUSED[kind]
    before = snapshot()
    files_before = sorted(Path(config.media_dir).rglob("*"))
    option = saved["options"][0]
    body, ctype = modal_upload(saved["id"], [option], [("oferta.png", content, "image/png")])
    resp = client.simulate_post(
        f"/files/uploadList/{saved['id']}", body=body,
        headers=alice.headers | {"Content-Type": ctype},
    )  # fmt: skip
    assert_error(resp, 400, "ERR_VALIDATION", field="files", contains=words)
    assert snapshot() == before
    assert sorted(Path(config.media_dir).rglob("*")) == files_before


def test_more_files_than_one_request_holds_is_a_400_that_keeps_nothing(client, alice, config):
    """64 multipart parts (Falcon's limit): the fileId and typeArch, then 12 files of 5 parts."""
    options = [{"name": str(i), "message": "m"} for i in range(13)]
    made = client.simulate_post(
        "/files", json={"name": "Treze", "options": options}, headers=alice.headers
    ).json
    before, files_before = snapshot(), sorted(Path(config.media_dir).rglob("*"))
    body, ctype = modal_upload(made["id"], made["options"], [("a.png", PNG, "image/png")] * 13)
    resp = client.simulate_post(
        f"/files/uploadList/{made['id']}", body=body,
        headers=alice.headers | {"Content-Type": ctype},
    )  # fmt: skip
    assert_error(resp, 400, "ERR_VALIDATION", contains="maximum number of form body parts")
    assert snapshot() == before
    assert sorted(Path(config.media_dir).rglob("*")) == files_before
    body, ctype = modal_upload(made["id"], made["options"][:12], [("a.png", PNG, "image/png")] * 12)
    resp = client.simulate_post(
        f"/files/uploadList/{made['id']}", body=body,
        headers=alice.headers | {"Content-Type": ctype},
    )  # fmt: skip
    assert resp.status_code == 200 and all(o["path"] for o in resp.json["options"][:12])


def test_file_lists_are_per_company(client, alice, bob, saved):
    before = snapshot()
    for method, path, kwargs in (
        ("GET", f"/files/{saved['id']}", {}),
        ("PUT", f"/files/{saved['id']}", {"json": {"name": "Roubado"}}),
        ("DELETE", f"/files/{saved['id']}", {}),
    ):
        resp = client.simulate_request(method, path, headers=bob.headers, **kwargs)
        assert_error(resp, 404, "ERR_NO_FILE_FOUND")
    body, ctype = modal_upload(saved["id"], saved["options"][:1], [("a.png", PNG, "image/png")])
    resp = client.simulate_post(
        f"/files/uploadList/{saved['id']}", body=body, headers=bob.headers | {"Content-Type": ctype}
    )
    assert_error(resp, 404, "ERR_NO_FILE_FOUND")
    # Bob's own list cannot take Alice's options, by JSON or by upload.
    bobs = client.simulate_post(
        "/files", json={"name": "Do Bob", "message": ""}, headers=bob.headers
    ).json
    stolen = {"options": [{"id": saved["options"][0]["id"], "message": "meu"}]}
    resp = client.simulate_put(f"/files/{bobs['id']}", json=stolen, headers=bob.headers)
    assert_error(resp, 400, "ERR_VALIDATION", field="options")
    body, ctype = modal_upload(bobs["id"], saved["options"][:1], [("a.png", PNG, "image/png")])
    resp = client.simulate_post(
        f"/files/uploadList/{bobs['id']}", body=body, headers=bob.headers | {"Content-Type": ctype}
    )
    assert_error(resp, 400, "ERR_VALIDATION", field="id")
    assert snapshot() == {**before, "files": snapshot()["files"]}  # only Bob's new list


def test_a_duplicate_name_has_the_originals_code(client, alice, saved):
    resp = client.simulate_post(
        "/files", json={"name": saved["name"], "message": ""}, headers=alice.headers
    )
    assert_error(resp, 409, "ERR_RATING_NAME_ALREADY_EXISTS", field="name")
    other = client.simulate_post("/files", json={"name": "Outra lista"}, headers=alice.headers)
    resp = client.simulate_put(
        f"/files/{other.json['id']}", json={"name": saved["name"]}, headers=alice.headers
    )
    assert_error(resp, 409, "ERR_RATING_NAME_ALREADY_EXISTS", field="name")


@replays("files.list_for_campaign", "files.list")
def test_the_pickers_list(client, spec, alice):
    empty = replay(
        client, spec, alice, "files.list_for_campaign", status=200,
        query={"companyId": alice.company_id}, empty=True,
    ).json  # fmt: skip
    assert empty == {"files": [], "count": 0, "hasMore": False}  # the form's file.map works
    for name in ("Zeta", "Alfa", "Meio"):
        client.simulate_post("/files", json={"name": name, "message": "m"}, headers=alice.headers)
    page = replay(
        client, spec, alice, "files.list", status=200, query={"searchParam": "", "pageNumber": 1}
    ).json
    assert [f["name"] for f in page["files"]] == [
        "Alfa",
        "Meio",
        "Zeta",
    ]  # by name, as the original
    found = client.simulate_get("/files/?searchParam=me&pageNumber=1", headers=alice.headers)
    assert [f["name"] for f in found.json["files"]] == ["Meio"]


def test_every_file_list_call_is_replayed():
    owned = {name for name in CALLS_BY_NAME if name.startswith("files.")}
    replayed = {name for names in REPLAYED.values() for name in names}
    assert len(owned) == 7 and owned == replayed, owned ^ replayed

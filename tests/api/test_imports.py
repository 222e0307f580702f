"""Contact import routes: upload (inline, queued), progress, rejected rows, bad input, tenancy."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from api.resources import imports as imports_resource
from tests.api.contract import validate
from tests.api.helpers import assert_error, snapshot
from tests.zapx.imports.generate import write_csv, write_xlsx_cells
from zapx import imports
from zapx.db import db


def upload(client, acct, data: bytes, *, name="c.csv", path="/contacts/upload", **params):
    boundary = "zapxboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = acct.headers | {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return client.simulate_post(path, body=body, headers=headers, params=params)


GOOD = b"nome;telefone;plano\nAna;(11) 98765-4321;=1+1\nBia;123;@x\n"


def test_small_file_is_imported_in_the_request(client, alice):
    resp = upload(client, alice, GOOD)
    assert resp.status_code == 201, resp.text
    body = resp.json
    assert body["state"] == "done" and body["importId"] == body["id"]
    assert (body["rowsRead"], body["inserted"], body["rejected"]) == (2, 1, 1)
    contacts = client.simulate_get("/contacts", headers=alice.headers).json["contacts"]
    assert [(c["name"], c["number"]) for c in contacts] == [("Ana", "5511987654321")]
    assert contacts[0]["extraInfo"] == [{"name": "plano", "value": "=1+1"}]
    again = client.simulate_get(f"/imports/{body['id']}", headers=alice.headers)
    assert again.status_code == 200 and again.json["inserted"] == 1
    rejected = client.simulate_get(body["rejectedUrl"], headers=alice.headers)
    assert rejected.status_code == 200
    assert rejected.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(rejected.text.lstrip("\ufeff"))))
    assert rows[0] == ["row", "nome", "telefone", "plano", "reason"]
    assert rows[1][:4] == ["3", "Bia", "123", "'@x"]  # formula cell neutralized


def test_upload_into_a_list(client, alice, bob):
    lst = client.simulate_post("/contact-lists", json={"name": "L"}, headers=alice.headers).json
    resp = upload(client, alice, GOOD, path=f"/contact-lists/{lst['id']}/upload")
    assert resp.status_code == 201, resp.text
    assert resp.json["target"] == "list" and resp.json["contactListId"] == lst["id"]
    got = client.simulate_get(f"/contact-lists/{lst['id']}", headers=alice.headers).json
    assert got["contactsCount"] == 1
    # Another company's list and import are not found, and bob's upload changes nothing.
    import_id = resp.json["id"]
    before = snapshot()
    resp = upload(client, bob, GOOD, path=f"/contact-lists/{lst['id']}/upload")
    assert_error(resp, 404, "ERR_NO_CONTACTLIST_FOUND")
    assert_error(client.simulate_get(f"/imports/{import_id}", headers=bob.headers), 404)
    rejected = client.simulate_get(f"/imports/{import_id}/rejected.csv", headers=bob.headers)
    assert_error(rejected, 404)
    assert snapshot() == before


def test_large_file_is_queued_for_a_worker(client, alice, tmp_path, monkeypatch):
    queued = []
    monkeypatch.setattr(imports_resource, "enqueue", queued.append)
    monkeypatch.setattr(imports.service, "INLINE_CSV_BYTES", 1000)
    path = tmp_path / "big.csv"
    write_csv(path, 500)
    resp = upload(client, alice, path.read_bytes(), name="big.csv")
    assert resp.status_code == 202, resp.text
    assert resp.json["state"] == "queued" and queued == [resp.json["importId"]]
    spec = client.simulate_get("/openapi.json").json  # the 202 is documented as it is
    answer = spec["paths"]["/contacts/upload"]["post"]["responses"]["202"]
    validate(resp.json, answer["content"]["application/json"]["schema"], spec)
    with db.connection_context():  # what the worker's actor does
        assert imports.run_import(queued[0], "BR") == "done"
    done = client.simulate_get(f"/imports/{queued[0]}", headers=alice.headers).json
    assert done["state"] == "done" and done["rowsRead"] == 500
    assert done["inserted"] + done["merged"] + done["rejected"] == 500


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 1024 * 1024))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "c.csv", "file is empty"),
        (b"   \r\n\r\n", "c.csv", "file is empty"),
        (b"nome;email\nAna;a@b.c\n", "c.csv", "no number column"),
        (b"telefone\n", "c.csv", "no rows under it"),
        (b"%PDF-1.4 binary", "c.pdf", "PDF"),
        (bytes(range(256)) * 40, "c.csv", "binary data"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "c.xls", "XLS"),
        (b"PK\x03\x04 not really a zip", "c.xlsx", "not a valid XLSX"),
        (_zip_bomb(), "c.xlsx", "zip bomb"),
    ],
)
def test_bad_files_are_refused_and_change_nothing(client, alice, import_dir, data, name, message):
    before = snapshot()
    resp = upload(client, alice, data, name=name)
    assert_error(resp, 400, "ERR_VALIDATION", field="file", contains=message)
    assert snapshot() == before
    assert not any(p.is_file() for p in Path(import_dir).rglob("*"))


def test_not_multipart_and_no_file_field(client, alice):
    resp = client.simulate_post("/contacts/upload", json={"file": "x"}, headers=alice.headers)
    assert_error(resp, 400, "ERR_VALIDATION", contains="multipart")
    headers = alice.headers | {"Content-Type": "multipart/form-data; boundary=b"}
    body = b'--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n'
    resp = client.simulate_post("/contacts/upload", body=body, headers=headers)
    assert_error(resp, 400, "ERR_VALIDATION", contains="'file'")


def test_file_over_the_limit(client, alice, config, monkeypatch, import_dir):
    before = snapshot()
    big = b"telefone\n" + b"11987654321\n" * (config.upload_max_bytes // 12 + 10)
    resp = upload(client, alice, big)
    assert resp.status_code == 413, resp.text
    assert snapshot() == before


def test_imports_need_auth_and_ids(client, alice):
    assert client.simulate_get("/imports/1").status_code == 401
    assert_error(client.simulate_get("/imports/abc", headers=alice.headers), 400)
    assert_error(client.simulate_get("/imports/999", headers=alice.headers), 404)


def test_an_import_empties_the_cached_contact_pages(client, alice):
    first = client.simulate_get("/contacts", headers=alice.headers).json
    assert first["count"] == 0  # now cached
    data = b"nome;telefone\nAna;11 98888-0001\nBia;11 98888-0002\n"
    assert upload(client, alice, data).status_code == 201
    again = client.simulate_get("/contacts", headers=alice.headers).json
    assert again["count"] == 2


def test_cr_only_csv_imports_inline_and_through_the_worker(client, alice, tmp_path, monkeypatch):
    """Excel's "CSV (Macintosh)" (CR line ends, Mac Roman) in the request and in a worker."""
    small = "nome;telefone;cidade\rJoão;11 98765-4321;São Paulo\rBia;11 98765-4322;Maceió\r"
    resp = upload(client, alice, small.encode("mac_roman"), name="mac.csv")
    assert resp.status_code == 201, resp.text
    assert (resp.json["delimiter"], resp.json["inserted"], resp.json["rejected"]) == (";", 2, 0)
    contacts = client.simulate_get("/contacts", headers=alice.headers).json["contacts"]
    assert sorted(c["name"] for c in contacts) == ["Bia", "João"]
    assert {e["value"] for c in contacts for e in c["extraInfo"]} == {"São Paulo", "Maceió"}
    queued = []
    monkeypatch.setattr(imports_resource, "enqueue", queued.append)
    monkeypatch.setattr(imports.service, "INLINE_CSV_BYTES", 1000)
    path = tmp_path / "big.csv"
    write_csv(path, 500, encoding="mac_roman", delimiter=";", lineterminator="\r")
    resp = upload(client, alice, path.read_bytes(), name="big.csv")
    assert resp.status_code == 202, resp.text
    with db.connection_context():  # what the worker's actor does
        assert imports.run_import(queued[0], "BR") == "done"
    done = client.simulate_get(f"/imports/{queued[0]}", headers=alice.headers).json
    assert (done["encoding"], done["delimiter"], done["rowsRead"]) == ("mac_roman", ";", 500)
    assert done["inserted"] + done["updated"] + done["merged"] + done["rejected"] == 500
    assert done["rejected"] < 10  # the generator's ~1% invalid numbers, not "no number column"


def test_xlsx_with_a_missing_shared_string_is_a_400(client, alice, tmp_path, import_dir):
    path = tmp_path / "bad.xlsx"
    header = [("s", "0"), ("s", "1")]
    write_xlsx_cells(path, [header, [("s", "5"), ("n", "11987654321")]], ["nome", "telefone"])
    before = snapshot()
    resp = upload(client, alice, path.read_bytes(), name="bad.xlsx")
    assert_error(resp, 400, "ERR_VALIDATION", field="file", contains="shared string")
    assert snapshot() == before
    assert not any(p.is_file() for p in Path(import_dir).rglob("*"))


def _raw_upload(client, acct, disposition: bytes, data: bytes = GOOD, path="/contacts/upload"):
    body = (
        b"--zb\r\nContent-Disposition: form-data; name=\"file\"; " + disposition + b"\r\n\r\n"
        + data + b"\r\n--zb--\r\n"
    )  # fmt: skip
    headers = acct.headers | {"Content-Type": "multipart/form-data; boundary=zb"}
    return client.simulate_post(path, body=body, headers=headers)


@pytest.mark.parametrize(
    ("disposition", "message"),
    [
        (b'filename="a\x00b.csv"', "NUL"),
        (b"filename*=utf-8''a%00b.csv", "NUL"),
        (b'filename="\xff\xfe.csv"', "UTF-8"),
        (b"filename*=utf-8''%ff.csv", "UTF-8"),
        (b"filename*=nope''a.csv", "UTF-8"),
    ],
)
def test_hostile_file_names_are_a_400(client, alice, import_dir, disposition, message):
    before = snapshot()
    assert_error(_raw_upload(client, alice, disposition), 400, field="file", contains=message)
    assert snapshot() == before
    assert not any(p.is_file() for p in Path(import_dir).rglob("*"))


def test_file_names_keep_only_their_last_segment(client, alice):
    resp = _raw_upload(client, alice, b'filename="C:\\\\fakepath\\\\../x\x01y.csv"')
    assert resp.status_code == 201, resp.text
    assert resp.json["filename"] == "xy.csv"


def test_a_truncated_multipart_body_is_a_400(client, alice, import_dir):
    boundary = "zb"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n'
    ).encode() + GOOD * 50
    headers = alice.headers | {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    before = snapshot()
    for cut in (len(body), len(body) // 2, 40, 5):
        resp = client.simulate_post("/contacts/upload", body=body[:cut], headers=headers)
        assert_error(resp, 400, field="file", contains="cut short")
    assert snapshot() == before
    assert not any(p.is_file() for p in Path(import_dir).rglob("*"))


def test_the_companys_imports_newest_first_with_percent_and_rate(client, alice, bob):
    ids = [upload(client, alice, GOOD).json["id"] for _ in range(3)]
    bobs = upload(client, bob, GOOD).json["id"]
    page = client.simulate_get("/imports", headers=alice.headers).json
    assert [r["id"] for r in page["records"]] == ids[::-1]
    assert page["count"] == 3 and page["hasMore"] is False
    assert [
        r["id"] for r in client.simulate_get("/imports", headers=bob.headers).json["records"]
    ] == [bobs]
    one = client.simulate_get(f"/imports/{ids[0]}", headers=alice.headers).json
    assert one["state"] == "done" and one["percent"] == 100.0 and one["rowsPerS"] > 0
    assert page["records"][-1] == one
    empty = client.simulate_get("/imports", params={"pageNumber": 2}, headers=alice.headers).json
    assert empty["records"] == [] and empty["count"] == 3
    assert_error(
        client.simulate_get("/imports", params={"pageNumber": "x"}, headers=alice.headers),
        400,
        field="pageNumber",
    )
    assert client.simulate_get("/imports").status_code == 401

"""The import end to end in one process: formats, merging, updates, rejections, resuming."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from tests.zapx.imports.conftest import contacts_of, items_of, make_list
from tests.zapx.imports.generate import number_of, write_csv, write_xlsx_cells
from zapx.db import Contact, ContactImport, ContactListItem, ImportRejection, db
from zapx.errors import ValidationError
from zapx.imports import create_import, get_import, readers, rejected_csv, run_import
from zapx.imports import load as load_module
from zapx.text import search_text


def run(tenant, path, *, list_id=None, sheet=None, chunk_rows=50_000) -> dict:
    with db.connection_context():
        imp = create_import(tenant, str(path), path.name, list_id=list_id, sheet=sheet, owned=False)
        run_import(imp.id, "BR", chunk_rows=chunk_rows)
        return get_import(tenant, imp.id)


def write(path, text: str, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def rejected_rows(tenant, import_id) -> list[list[str]]:
    with db.connection_context():
        text = b"".join(rejected_csv(tenant, import_id)).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_csv_with_aliases_custom_fields_duplicates_and_rejections(company, tmp_path):
    acme = company()
    path = write(
        tmp_path / "c.csv",
        "\ufeffNOME;Número;E-Mail;Condomínio;Plano;Obs\r\n"
        'João da Silva;(11) 98765-4321;JOAO@EX.COM;Sol;Ouro;=HYPERLINK("x")\r\n'
        'Ana;+55 21 99876-5432;;;;"linha 1\nlinha 2"\r\n'
        ";;;;;\r\n"
        "Sem número;;a@b.c;;;\r\n"
        "Ruim;123;;;;\r\n"
        "E-mail ruim;11 91234-5678;not-an-email;;;\r\n"
        ";11987654321;;Lua;Prata;\r\n",
    )
    result = run(acme, path)
    assert result["state"] == "done"
    assert result["delimiter"] == ";" and result["encoding"] == "utf-8-sig"
    assert (result["rowsRead"], result["inserted"], result["rejected"]) == (6, 2, 3)
    assert result["merged"] == 1  # the last row merged into João's
    rows = contacts_of(acme)
    assert set(rows) == {"5511987654321", "5521998765432"}
    joao = rows["5511987654321"]
    assert joao["name"] == "João da Silva" and joao["email"] == "joao@ex.com"
    assert joao["condominio"] == "Lua"  # the later non-empty value wins
    assert joao["extra_info"] == [
        {"name": "Plano", "value": "Prata"},
        {"name": "Obs", "value": '=HYPERLINK("x")'},  # stored as text, as written
    ]
    assert joao["search"] == search_text("João da Silva", "5511987654321", "joao@ex.com")
    assert rows["5521998765432"]["extra_info"] == [{"name": "Obs", "value": "linha 1\nlinha 2"}]
    rejected = rejected_rows(acme, result["id"])
    assert rejected[0] == [
        "row",
        "NOME",
        "Número",
        "E-Mail",
        "Condomínio",
        "Plano",
        "Obs",
        "reason",
    ]
    assert [r[0] for r in rejected[1:]] == ["5", "6", "7"]  # spreadsheet row numbers
    assert "number is empty" in rejected[1][-1]
    assert "not a valid phone number" in rejected[2][-1]
    assert "e-mail" in rejected[3][-1]


def test_latin1_tab_file_and_existing_contacts_updated_not_duplicated(company, tmp_path):
    acme = company()
    with db.connection_context(), db.atomic():
        extra = [{"name": "Plano", "value": "Bronze"}, {"name": "K", "value": "v"}]
        Contact.create(
            company=acme.company_id, name="Old", number="5511987654321", email="old@x.com",
            cargo="Síndico", extra_info=extra, search="old 5511987654321 old@x.com",
        )  # fmt: skip
    path = write(
        tmp_path / "l.csv",
        "nome\ttelefone\temail\tplano\nJosé Conceição\t11987654321\t\tOuro\n"
        "Márcia\t21998765432\tm@x.com\t\n",
        "cp1252",
    )
    result = run(acme, path)
    assert result["encoding"] == "cp1252" and result["delimiter"] == "\t"
    assert (result["inserted"], result["updated"], result["unchanged"]) == (1, 1, 0)
    rows = contacts_of(acme)
    assert len(rows) == 2
    old = rows["5511987654321"]
    assert old["name"] == "José Conceição"
    assert old["email"] == "old@x.com" and old["cargo"] == "Síndico"  # empty cells keep values
    assert old["extra_info"] == [{"name": "Plano", "value": "Ouro"}, {"name": "K", "value": "v"}]
    assert old["search"] == search_text("José Conceição", "5511987654321", "old@x.com")
    again = run(acme, path)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert contacts_of(acme) == rows


@pytest.mark.parametrize(("delimiter", "count"), [(",", 300), (";", 3300), ("\t", 300)])
def test_cr_only_line_ends_read_like_crlf(company, tmp_path, delimiter, count):
    """Excel's "CSV (Macintosh)": lines end in CR alone and the text is Mac Roman. The 3,300-row
    file is larger than the sniffing sample, so the sample's cut-off last line ends in CR too;
    each file is read in several chunks."""
    mac, dos = tmp_path / "mac.csv", tmp_path / "dos.csv"
    write_csv(mac, count, encoding="mac_roman", delimiter=delimiter, lineterminator="\r")
    write_csv(dos, count, delimiter=delimiter)
    data = mac.read_bytes()
    assert b"\n" not in data and (count < 3000 or len(data) > readers.SAMPLE_BYTES)
    assert "Conceição".encode("mac_roman") in data  # accents Windows-1252 would misread
    got, want = company("mac"), company("dos")
    chunk = count // 4
    result, expected = run(got, mac, chunk_rows=chunk), run(want, dos, chunk_rows=chunk)
    assert result["state"] == "done", result["error"]
    assert (result["encoding"], result["delimiter"]) == ("mac_roman", delimiter)
    keys = ("rowsRead", "inserted", "updated", "merged", "rejected", "columns")
    assert {k: result[k] for k in keys} == {k: expected[k] for k in keys}
    assert result["rowsRead"] == count
    assert contacts_of(got) == contacts_of(want)
    rejected = rejected_rows(got, result["id"])
    assert rejected == rejected_rows(want, expected["id"]) and len(rejected) > 1


def test_cr_only_quoted_line_break_and_row_numbers(company, tmp_path):
    acme = company()
    path = write(
        tmp_path / "cr.csv",
        'nome;telefone;obs\rAna;11 98765-4321;"linha 1\rlinha 2"\r\rRuim;123;x\r',
    )
    result = run(acme, path)
    assert (result["delimiter"], result["rowsRead"], result["inserted"]) == (";", 2, 1)
    assert contacts_of(acme)["5511987654321"]["extra_info"] == [
        {"name": "obs", "value": "linha 1\rlinha 2"}
    ]
    # The quoted CR does not start a row; the blank row counts: "Ruim" is row 4.
    assert [r[0] for r in rejected_rows(acme, result["id"])[1:]] == ["4"]


def test_xlsx_cell_pointing_at_a_missing_shared_string_is_refused(company, tmp_path):
    acme = company()
    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    header, strings = [("s", "0"), ("s", "1")], ["nome", "telefone", "Ana"]
    write_xlsx_cells(good, [header, [("s", "2"), ("n", "11987654321")]], strings)
    write_xlsx_cells(bad, [header, [("s", "9"), ("n", "11987654321")]], strings)
    assert run(acme, good)["inserted"] == 1  # the control: the same file, with a valid index
    with pytest.raises(ValidationError, match="shared string") as exc, db.connection_context():
        create_import(acme, str(bad), "bad.xlsx", owned=False)
    assert exc.value.field == "file"
    with db.connection_context():
        assert ContactImport.select().count() == 1  # the refused file recorded nothing


def test_into_a_list(company, tmp_path):
    acme = company()
    list_id = make_list(acme)
    path = tmp_path / "g.csv"
    write_csv(path, 300)
    result = run(acme, path, list_id=list_id)
    assert result["state"] == "done" and result["target"] == "list"
    items = items_of(list_id)
    assert len(items) == result["inserted"] > 250
    assert contacts_of(acme) == {}
    assert items[number_of(0)]["condominio"] == ""


def test_xlsx_numbers_named_sheet_and_formula_text(company, tmp_path):
    acme = company()
    wb = openpyxl.Workbook()
    wb.active.title = "Outra"
    wb.active.append(["x"])
    ws = wb.create_sheet("Contatos")
    ws.append(["Nome", "Celular", "Nascimento", "Nota"])
    ws.append(["Ana", 5511987654321, None, "@SUM(A1)"])
    ws.append(["Bia", 21998765432.0, 3, "-2"])
    path = tmp_path / "w.xlsx"
    wb.save(path)
    with pytest.raises(ValidationError, match="no number column"), db.connection_context():
        create_import(acme, str(path), "w.xlsx", owned=False)
    with pytest.raises(ValidationError, match="no sheet named 'Nope'"), db.connection_context():
        create_import(acme, str(path), "w.xlsx", sheet="Nope", owned=False)
    result = run(acme, path, sheet="Contatos")
    assert result["format"] == "xlsx" and result["inserted"] == 2
    rows = contacts_of(acme)
    assert rows["5511987654321"]["extra_info"] == [{"name": "Nota", "value": "@SUM(A1)"}]
    assert rows["5521998765432"]["extra_info"] == [
        {"name": "Nascimento", "value": "3"},
        {"name": "Nota", "value": "-2"},
    ]


def test_resume_after_a_crash_gives_the_same_rows(company, tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    write_csv(path, 2000)
    whole = company("whole")
    expected = run(whole, path, chunk_rows=300)
    crashed = company("crashed")
    real_load = load_module.Loader.load
    calls = {"n": 0}

    def dying_load(self, chunk, expected_checkpoint):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return real_load(self, chunk, expected_checkpoint)

    monkeypatch.setattr(load_module.Loader, "load", dying_load)
    with db.connection_context():
        imp = create_import(crashed, str(path), "big.csv", owned=False)
        with pytest.raises(RuntimeError, match="killed"):
            run_import(imp.id, "BR", chunk_rows=300)
        halfway = ContactImport.get_by_id(imp.id)
        assert halfway.state == "running" and halfway.checkpoint == 601
        assert 0 < len(contacts_of(crashed)) < len(contacts_of(whole))
        monkeypatch.setattr(load_module.Loader, "load", real_load)
        assert run_import(imp.id, "BR", chunk_rows=300) == "done"
        resumed = get_import(crashed, imp.id)
        rejections = ImportRejection.select().where(ImportRejection.contact_import == imp.id)
        assert rejections.count() == resumed["rejected"] == expected["rejected"]
    assert contacts_of(crashed) == contacts_of(whole)
    for key in ("rowsRead", "inserted", "updated", "unchanged", "rejected"):
        assert resumed[key] == expected[key], key


def test_a_finished_import_does_not_run_again(company, tmp_path):
    acme = company()
    path = write(tmp_path / "a.csv", "telefone\n11987654321\n")
    result = run(acme, path)
    with db.connection_context():
        assert run_import(result["id"], "BR") == "done"
        assert get_import(acme, result["id"])["inserted"] == 1


def test_rejected_values_keep_their_text(company, tmp_path):
    acme = company()
    path = write(tmp_path / "r.csv", "nome,numero\n\"=cmd|' /C calc'!A0\",abc\n")
    result = run(acme, path)
    with db.connection_context():
        row = ImportRejection.get(ImportRejection.contact_import == result["id"])
    assert row.values == ["=cmd|' /C calc'!A0", "abc"]
    assert json.dumps(row.values)
    assert rejected_rows(acme, result["id"])[1][:3] == ["2", "'=cmd|' /C calc'!A0", "abc"]


@pytest.mark.parametrize("skip_row_triggers", [True, False])
def test_into_a_list_again_merges_with_and_without_row_triggers(
    company, tmp_path, monkeypatch, skip_row_triggers
):
    # A role that may not set session_replication_role keeps the foreign-key triggers: the
    # rows must come out the same either way, new, changed and unchanged ones in one chunk.
    monkeypatch.setattr(load_module, "may_skip_row_triggers", lambda: skip_row_triggers)
    acme = company()
    list_id = make_list(acme)
    first = write(
        tmp_path / "1.csv", "nome,numero,cargo\nAna,11987654321,Síndica\nBia,21998765432,\n"
    )
    assert run(acme, first, list_id=list_id)["inserted"] == 2
    again = write(
        tmp_path / "2.csv",
        "nome,numero,cargo\nAna,11987654321,Síndica\nBeatriz,21998765432,\nCaio,31987650000,x\n",
    )
    result = run(acme, again, list_id=list_id)
    assert (result["inserted"], result["updated"], result["unchanged"]) == (1, 1, 1)
    items = items_of(list_id)
    assert {n: (i["name"], i["cargo"]) for n, i in items.items()} == {
        "5511987654321": ("Ana", "Síndica"),
        "5521998765432": ("Beatriz", ""),
        "5531987650000": ("Caio", "x"),
    }
    assert items["5521998765432"]["search"] == search_text("Beatriz", "5521998765432", "")


def test_a_chunk_for_a_list_of_another_company_writes_nothing(company, tmp_path):
    acme, other = company("acme"), company("other")
    theirs = make_list(other)
    path = write(tmp_path / "a.csv", "telefone\n11987654321\n")
    with db.connection_context():
        imp = create_import(acme, str(path), "a.csv", owned=False)
        loader = load_module.Loader(imp.id, "list", acme.company_id, theirs)
        chunk = load_module.Chunk(first_row=imp.checkpoint, last_row=imp.checkpoint + 1)
        chunk.records["5511987654321"] = ["5511987654321", "", "", "", "", "", None]
        loader.skip_row_triggers = True  # the parents are checked before the triggers go
        with pytest.raises(load_module.Superseded, match="is gone"):
            loader.load(chunk, imp.checkpoint)
    assert items_of(theirs) == {}


def test_a_number_added_by_another_writer_during_the_chunk_is_upserted(
    company, tmp_path, monkeypatch
):
    # The existing-rows read misses a row (as if another writer inserted it right after): the
    # straight COPY fails on the unique index, and the chunk goes through the upsert instead.
    acme = company()
    list_id = make_list(acme)
    first = write(tmp_path / "1.csv", "nome,numero\nAna,11987654321\n")
    run(acme, first, list_id=list_id)
    blind = load_module._EXISTING["list"].replace("WHERE", "WHERE false AND")
    monkeypatch.setitem(load_module._EXISTING, "list", blind)
    again = write(tmp_path / "2.csv", "nome,numero\nAna Maria,11987654321\nCaio,31987650000\n")
    result = run(acme, again, list_id=list_id)
    assert (result["inserted"], result["updated"]) == (1, 1)
    items = items_of(list_id)
    assert {n: i["name"] for n, i in items.items()} == {
        "5511987654321": "Ana Maria",
        "5531987650000": "Caio",
    }


def _valid_marks(list_id: int) -> dict[str, bool | None]:
    with db.connection_context():
        rows = ContactListItem.select().where(ContactListItem.contact_list == list_id)
        return {r.number: r.is_whatsapp_valid for r in rows}


def test_a_list_keeps_numbers_not_in_use_marked_and_contacts_reject_them(company, tmp_path):
    """The frontend's sample sheet (numeric cells 5585888889999): a list import keeps its rows,
    marked not on WhatsApp (campaigns skip them), in the fast path and the upsert alike; a
    contacts import rejects them as before."""
    acme = company()
    list_id = make_list(acme)
    book = openpyxl.Workbook()
    book.active.append(["nome", "numero", "e-mail"])
    book.active.append(["Contato 6", 5585888889999, "contato6@test.tom.br"])
    book.active.append(["Contato 12", 5585888889991, None])
    book.active.append(["Valid", "(85) 98888-7777", None])
    book.save(tmp_path / "planilha.xlsx")
    result = run(acme, tmp_path / "planilha.xlsx", list_id=list_id)
    assert (result["rowsRead"], result["inserted"], result["rejected"]) == (3, 3, 0)
    assert _valid_marks(list_id) == {
        "5585888889999": False,
        "5585888889991": False,
        "5585988887777": None,
    }
    # Again, into a list where one of them exists unmarked (made before this rule): the upsert
    # path marks it too.
    with db.connection_context(), db.atomic():
        ContactListItem.update(is_whatsapp_valid=None).where(
            ContactListItem.number == "5585888889999"
        ).execute()
    again = run(acme, tmp_path / "planilha.xlsx", list_id=list_id)
    assert again["state"] == "done" and again["rejected"] == 0
    assert _valid_marks(list_id)["5585888889999"] is False
    contacts = run(acme, tmp_path / "planilha.xlsx")
    assert (contacts["inserted"], contacts["rejected"]) == (1, 2)
    assert set(contacts_of(acme)) == {"5585988887777"}
    assert "not a valid phone number" in rejected_rows(acme, contacts["id"])[1][-1]

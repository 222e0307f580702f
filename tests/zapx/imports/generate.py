"""Brazilian contact files as they come from the field, for tests and ``bench/import.py``.

Deterministic for a seed. Numbers are written in the forms people use; about 1% of rows carry an
invalid number and about 1% repeat an earlier number (a duplicate to merge).
"""

from __future__ import annotations

import csv
import random
import zipfile

FIRST = "Maria José Ana João Antônio Francisca Carlos Paulo Lúcia Conceição Luíz Márcia".split()
LAST = "Silva Santos Oliveira Souza Lima Pereira Ferreira Araújo Gonçalves Magalhães".split()
DDD = ("11", "21", "31", "41", "51", "61", "71", "81", "85", "92")
ASCII = {
    "José": "jose",
    "João": "joao",
    "Antônio": "antonio",
    "Lúcia": "lucia",
    "Conceição": "conceicao",
    "Luíz": "luiz",
    "Márcia": "marcia",
}
HEADER = ("Nome", "Número", "E-mail", "Condomínio", "Endereço", "Cargo", "Plano", "Observação")


def number_of(i: int) -> str:
    """The normalised number of contact ``i`` (what zapx stores)."""
    return f"55{DDD[i % len(DDD)]}9{10_000_000 + i:08d}"


def written(i: int, rnd: random.Random) -> str:
    n = number_of(i)
    ddd, sub = n[2:4], n[4:]
    form = rnd.randrange(5)
    if form == 0:
        return f"({ddd}) {sub[:5]}-{sub[5:]}"
    if form == 1:
        return f"+55 {ddd} {sub[:5]}-{sub[5:]}"
    if form == 2:
        return ddd + sub
    if form == 3:
        return n
    return f"0{ddd} {sub}"


def rows(count: int, seed: int = 1, bad_every: int = 97, dup_every: int = 101):
    """``count`` data rows (lists of cells in HEADER order)."""
    rnd = random.Random(seed)
    for r in range(count):
        i = r
        if dup_every and r % dup_every == dup_every - 1 and r > 0:
            i = r - 50 if r >= 50 else 0
        number = "12345" if bad_every and r % bad_every == bad_every - 1 else written(i, rnd)
        first, last = FIRST[rnd.randrange(len(FIRST))], LAST[rnd.randrange(len(LAST))]
        yield [
            f"{first} {last}",
            number,
            f"{ASCII.get(first, first).lower()}.{i}@exemplo.com.br" if r % 3 else "",
            f"Condomínio {i % 200}" if r % 2 else "",
            f"Rua {last} {i % 1000}",
            "Síndico" if r % 50 == 0 else "",
            ("Ouro", "Prata", "=1+1", "")[r % 4],
            "" if r % 5 else "ligar à tarde; não insistir",
        ]


def write_csv(
    path, count: int, *, encoding="utf-8", delimiter=",", seed=1, lineterminator="\r\n", **kw
) -> None:
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator=lineterminator)
        writer.writerow(HEADER)
        writer.writerows(rows(count, seed, **kw))


def write_xlsx_cells(path, rows: list[list[tuple[str, str]]], shared: list[str]) -> None:
    """A minimal XLSX written part by part, so a test can make its cells say anything: ``rows``
    of ``(type, value)`` cells (``"s"``: an index into ``shared``, the shared-strings table;
    ``"n"``: a number), in columns A, B, ..."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    sheet_rows = "".join(
        f'<row r="{r}">'
        + "".join(
            f'<c r="{chr(65 + c)}{r}" t="{kind}"><v>{value}</v></c>'
            for c, (kind, value) in enumerate(cells)
        )
        + "</row>"
        for r, cells in enumerate(rows, 1)
    )
    strings = "".join(f"<si><t>{s}</t></si>" for s in shared)
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Contatos" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}"><sheetData>{sheet_rows}'
        "</sheetData></worksheet>",
        "xl/sharedStrings.xml": f'<sst xmlns="{main}" count="{len(shared)}" '
        f'uniqueCount="{len(shared)}">{strings}</sst>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, '<?xml version="1.0" encoding="UTF-8"?>' + text)

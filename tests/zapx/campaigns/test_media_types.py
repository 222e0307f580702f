"""Media type detection by content: every accepted type, the refused ones named, names that can
only refuse, and the types stored files are served with."""

from __future__ import annotations

import pytest

from tests.zapx.campaigns.media_samples import ACCEPTED, REFUSED, cfb
from zapx.campaigns import media_types
from zapx.errors import ValidationError


def _detect(tmp_path, content: bytes, name: str = ""):
    path = tmp_path / "upload"
    path.write_bytes(content)
    return media_types.detect(path, name)


@pytest.mark.parametrize("sample", ACCEPTED, ids=list(ACCEPTED))
def test_accepted_types_are_read_from_the_content(tmp_path, sample):
    content, ext, kind = ACCEPTED[sample]
    # The name says something else: the content decides.
    found = _detect(tmp_path, content, "photo.png")
    assert (found.ext, found.kind) == (ext, kind)
    assert found.mime == media_types.served(f"x.{ext}")[0]


@pytest.mark.parametrize("sample", REFUSED, ids=list(REFUSED))
def test_refused_types_are_named_with_the_accepted_ones(tmp_path, sample):
    content, words = REFUSED[sample]
    # Named and claimed as a PNG: still refused for what it is.
    with pytest.raises(ValidationError) as exc:
        _detect(tmp_path, content, "image.png")
    assert exc.value.field == "file"
    assert words.lower() in exc.value.message.lower(), exc.value.message
    assert "accepted are JPEG or PNG images" in exc.value.message


@pytest.mark.parametrize("name", ["x.js", "PAGE.HTML", "a.svg", "run.sh", "x.htm", "setup.exe"])
def test_text_named_as_code_is_refused(tmp_path, name):
    with pytest.raises(ValidationError, match=r"text named like a \.\w+ file"):
        _detect(tmp_path, b"just some words\n", name)
    assert _detect(tmp_path, b"just some words\n", "notes.txt").ext == "txt"  # the control


def test_a_large_text_is_read_whole(tmp_path):
    line = "Promoção válida até sábado.\n".encode()
    assert _detect(tmp_path, line * 100_000).ext == "txt"  # 3 MB, several chunks
    with pytest.raises(ValidationError, match="binary data"):
        _detect(tmp_path, line * 100_000 + b"\x00")  # a NUL at the very end
    # A character across two chunks is whole; one cut at the end of the file is not UTF-8.
    across = b"a" * (media_types.TEXT_CHUNK_BYTES - 1) + "ç".encode()
    assert _detect(tmp_path, across).ext == "txt"
    with pytest.raises(ValidationError, match="not UTF-8"):
        _detect(tmp_path, across[:-1])


def test_ole_directory_spanning_several_sectors(tmp_path):
    # 4 directory entries a sector: the main stream sits in the directory's third sector.
    names = [f"Stream{i}" for i in range(9)] + ["PowerPoint Document"]
    assert _detect(tmp_path, cfb(names)).ext == "ppt"


@pytest.mark.parametrize(
    ("name", "ext", "shown"),
    [
        ("promoção.png", "png", "promoção.png"),
        ("photo.JPEG", "jpg", "photo.JPEG"),
        ("photo.jpeg", "png", "photo.png"),  # a known extension of another type is replaced
        ("report.txt", "pdf", "report.pdf"),
        ("contacts.csv", "txt", "contacts.csv"),
        ("index.html", "pdf", "index.html.pdf"),  # an unknown one is kept, then the type's
        ("sem extensao", "pdf", "sem extensao.pdf"),
        (".pdf", "pdf", ".pdf.pdf"),
        ("", "jpg", "file.jpg"),
    ],
)
def test_display_names_carry_the_detected_extension(name, ext, shown):
    assert media_types.display_name(name, media_types.TYPES[ext]) == shown


def test_served_types_are_fixed_by_the_stored_extension():
    assert media_types.served("a.png") == ("image/png", False)
    assert media_types.served("a.pdf") == ("application/pdf", True)
    assert media_types.served("a.txt") == ("text/plain; charset=utf-8", True)
    assert media_types.served("a.xlsx")[1] is True
    # Files stored before uploads were checked: safe types keep theirs, anything else is bytes.
    assert media_types.served("old.jpeg") == ("image/jpeg", False)
    assert media_types.served("old.webp") == ("image/webp", False)
    for name in ("old.html", "old.svg", "old.js", "old", "old.exe", "old.HTM"):
        assert media_types.served(name) == ("application/octet-stream", True), name

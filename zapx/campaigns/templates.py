"""Campaign message texts: which of message1..5 a contact gets, and the ``{variable}`` rendering.

A contact's choice among message1..5 is fixed when the audience is snapshotted (a hash of campaign
and contact, stored in the row), so a retried or re-planned send renders the same text. Rendering
walks a template split once into parts (a few µs per message), cheap for the delivery hot path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from zapx.errors import ValidationError

#: Variables every contact has: ``{nome}`` and ``{name}`` are the same field.
BUILTIN = {
    "nome": "name",
    "name": "name",
    "numero": "number",
    "email": "email",
    "condominio": "condominio",
    "endereco": "endereco",
    "cargo": "cargo",
}
_VAR = re.compile(r"\{([^{}\s]{1,64})\}")
#: What rendering looks up: also a name with spaces inside (a company variable ``{Empresa X}``,
#: which the frontend's settings page allows, or a custom field ``{Data de nascimento}``), which
#: only a name the contact or the company has replaces: any other stays as written, so a text's
#: own ``{em breve}`` is not a variable (nor checked as one, :func:`variables_in`).
_NAME = re.compile(r"\{([^{}\r\n]{1,64})\}")


def variables_in(text: str) -> set[str]:
    """Every ``{name}`` used in ``text``."""
    return set(_VAR.findall(text or ""))


def check_variables(texts: Mapping[str, str], known: Iterable[str]) -> None:
    """A 400 naming the first unknown variable and the field that uses it."""
    allowed = set(BUILTIN) | set(known)
    for field, text in texts.items():
        unknown = sorted(variables_in(text) - allowed)
        if unknown:
            names = ", ".join("{" + u + "}" for u in unknown)
            raise ValidationError(
                f"{field} uses unknown variable {names}; known: "
                + ", ".join("{" + k + "}" for k in sorted(allowed)),
                field=field,
            )


class Template:
    """A message text split once into literal parts and variable names."""

    __slots__ = ("parts",)

    def __init__(self, text: str):
        # (0, literal text), (1, a variable name), (2, a name with spaces: kept when unknown).
        self.parts: list[tuple[int, str]] = []
        pos = 0
        for match in _NAME.finditer(text):
            if match.start() > pos:
                self.parts.append((0, text[pos : match.start()]))
            name = match.group(1)
            self.parts.append((1 if _VAR.fullmatch(match.group(0)) else 2, name))
            pos = match.end()
        if pos < len(text):
            self.parts.append((0, text[pos:]))

    def render(
        self,
        person: Mapping[str, object],
        extra: Mapping[str, str],
        company_vars: Mapping[str, str],
    ) -> str:
        """``person`` holds the builtin fields; ``extra`` the contact's custom fields.

        A contact's own custom field wins over a company variable of the same name; an unknown
        name (a custom field this contact lacks) renders empty rather than as ``{name}``, except
        one with spaces, which stays as written (it may be the text's own braces).
        """
        out = []
        for kind, value in self.parts:
            if not kind:
                out.append(value)
            elif value in BUILTIN:
                out.append(str(person.get(BUILTIN[value]) or ""))
            elif value in extra:
                out.append(extra[value])
            elif value in company_vars:
                out.append(company_vars[value])
            elif kind == 2:
                out.append("{" + value + "}")
        return "".join(out)


def extra_map(extra_info: list | None) -> dict[str, str]:
    """``[{name, value}]`` custom fields as a dict."""
    return {i["name"]: i.get("value", "") for i in extra_info or () if isinstance(i, dict)}

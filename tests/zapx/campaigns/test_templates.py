"""Message rendering: built-in, custom-field and company variables, and names with spaces."""

from __future__ import annotations

from zapx.campaigns.templates import Template, check_variables, variables_in

PERSON = {"name": "Ana", "number": "5511988887777", "email": ""}


def render(text: str, extra=None, company=None) -> str:
    return Template(text).render(PERSON, extra or {}, company or {})


def test_names_with_spaces_are_replaced_when_someone_has_them():
    """The frontend's settings page lets users name a variable ``Empresa X``; custom fields have
    names like ``Data de nascimento``."""
    company = {"Empresa X": "ACME", "nome": "never: the contact's name wins"}
    assert render("{nome}, a {Empresa X} agradece", company=company) == "Ana, a ACME agradece"
    extra = {"Data de nascimento": "01/02"}
    assert render("Parabéns pelo {Data de nascimento}!", extra=extra) == "Parabéns pelo 01/02!"


def test_unknown_names_with_spaces_stay_as_written_and_are_not_checked():
    assert render("Oferta {em breve} para {nome}") == "Oferta {em breve} para Ana"
    assert render("{a {nome}}") == "{a Ana}"
    assert render("linha {um\ndois}") == "linha {um\ndois}"
    assert variables_in("Oferta {em breve} {Empresa X}") == set()
    check_variables({"message1": "Oferta {em breve}"}, known=())  # no error


def test_unknown_names_without_spaces_render_empty_as_before():
    assert render("Oi {apelido}!") == "Oi !"
    assert variables_in("Oi {apelido}") == {"apelido"}

"""zapx.validation (parse, positive_id, extra_info) and zapx.paging.page_number."""

from __future__ import annotations

import pytest

from zapx.errors import ValidationError
from zapx.paging import MAX_PAGE, page_number
from zapx.validation import Field, extra_info, parse, positive_id


def problem(body, schema, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        parse(body, schema, **kwargs)
    return excinfo.value


# --- parse: types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "good", "bads", "type_name"),
    [
        (str, "x", [1, 1.5, True, [], {}], "a string"),
        (int, 3, ["3", 3.0, True, False, [], None], "an integer"),
        (bool, False, [0, 1, "true", None], "a boolean"),
        (float, 1.5, ["1.5", True, [], None], "a number"),
        (list, [1], ["[1]", {}, (1,)], "an array"),
        (dict, {"a": 1}, ["{}", [], None], "an object"),
    ],
)
def test_types(kind, good, bads, type_name):
    schema = (Field("v", kind),)
    assert parse({"v": good}, schema) == {"v": good}
    for bad in bads:
        error = problem({"v": bad}, schema)
        expected = "v must not be null" if bad is None else f"v must be {type_name}"
        assert error.message == expected, bad
        assert error.field == "v"


def test_bool_is_not_an_int():
    schema = (Field("n", int),)
    assert problem({"n": True}, schema).message == "n must be an integer"
    assert problem({"n": False}, schema).message == "n must be an integer"
    assert parse({"n": 0}, schema) == {"n": 0}


def test_float_accepts_ints_but_not_bools():
    schema = (Field("x", float),)
    assert parse({"x": 2}, schema) == {"x": 2}
    assert problem({"x": True}, schema).message == "x must be a number"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused(value):
    assert problem({"x": value}, (Field("x", float),)).message == "x must be a number"


def test_huge_int_for_a_float_field_is_a_validation_error_not_a_crash():
    # JSON can carry integers too large for a float; math.isfinite(10**400) overflows.
    schema = (Field("x", float, max=100),)
    assert problem({"x": 10**400}, schema).message == "x must be at most 100"
    assert parse({"x": 10**400}, (Field("x", float),)) == {"x": 10**400}


def test_min_and_max():
    schema = (Field("n", int, min=1, max=10),)
    assert parse({"n": 1}, schema) == {"n": 1}
    assert parse({"n": 10}, schema) == {"n": 10}
    assert problem({"n": 0}, schema).message == "n must be at least 1"
    assert problem({"n": 11}, schema).message == "n must be at most 10"
    assert problem({"x": 0.05}, (Field("x", float, min=0.1),)).message == "x must be at least 0.1"


# --- parse: strings -----------------------------------------------------------------------------


def test_strings_are_stripped_unless_told_not_to():
    assert parse({"s": "  hi \n"}, (Field("s"),)) == {"s": "hi"}
    assert parse({"s": "  hi "}, (Field("s", strip=False),)) == {"s": "  hi "}


def test_max_len_counts_characters_after_strip():
    schema = (Field("name", max_len=5),)
    assert parse({"name": "ação!"}, schema) == {"name": "ação!"}
    assert parse({"name": "  abcde  "}, schema) == {"name": "abcde"}
    assert problem({"name": "abcdef"}, schema).message == "name must be at most 5 characters"


def test_max_len_for_lists_counts_items():
    schema = (Field("ids", list, max_len=2),)
    assert parse({"ids": [1, 2]}, schema) == {"ids": [1, 2]}
    assert problem({"ids": [1, 2, 3]}, schema).message == "ids must be at most 2 items"


def test_min_len():
    assert problem({"s": "   "}, (Field("s", min_len=1),)).message == "s must not be empty"
    assert problem({"s": "ab"}, (Field("s", min_len=3),)).message == "s must be at least 3 long"
    assert problem({"l": []}, (Field("l", list, min_len=1),)).message == "l must be at least 1 long"


def test_nul_characters_are_refused():
    error = problem({"s": "a\x00b"}, (Field("s"),))
    assert error.field == "s"
    assert "NUL" in error.message


# --- parse: null, choices, required, partial, attr, clean ---------------------------------------


def test_nullable():
    assert parse({"d": None}, (Field("d", nullable=True),)) == {"d": None}
    assert problem({"d": None}, (Field("d"),)).message == "d must not be null"
    # null skips the other checks (it is not a string to measure)
    assert parse({"d": None}, (Field("d", nullable=True, min_len=1, choices=("a",)),)) == {
        "d": None
    }


def test_choices():
    schema = (Field("profile", choices=("admin", "user")),)
    assert parse({"profile": " admin "}, schema) == {"profile": "admin"}
    error = problem({"profile": "root"}, schema)
    assert error.message == "profile must be one of: admin, user"
    assert problem({"n": 3}, (Field("n", int, choices=(1, 2)),)).message == "n must be one of: 1, 2"


def test_required_and_partial():
    schema = (Field("name", required=True), Field("email"))
    assert problem({"email": "a@b"}, schema).message == "name is required"
    assert parse({}, (Field("email"),)) == {}
    # An update: absent fields are left out, present ones still checked.
    assert parse({"email": "a@b"}, schema, partial=True) == {"email": "a@b"}
    assert parse({}, schema, partial=True) == {}
    assert problem({"name": 5}, schema, partial=True).message == "name must be a string"
    assert problem({"name": None}, schema, partial=True).message == "name must not be null"


def test_attr_renames_and_unknown_keys_are_ignored():
    schema = (Field("isGroup", bool, attr="is_group"),)
    assert parse({"isGroup": True, "id": 9, "createdAt": "x"}, schema) == {"is_group": True}


def test_clean_runs_after_the_checks():
    def upper(value):
        if value == "bad":
            raise ValidationError("v is bad", field="v")
        return value.upper()

    schema = (Field("v", clean=upper),)
    assert parse({"v": " ok "}, schema) == {"v": "OK"}
    assert problem({"v": "bad"}, schema).message == "v is bad"
    assert problem({"v": 1}, schema).message == "v must be a string"


@pytest.mark.parametrize("body", [None, [], "name", 3])
def test_body_must_be_an_object(body):
    assert problem(body, (Field("name"),)).message == "request body must be a JSON object"


# --- positive_id --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), ("1", 1), ("42", 42), ("007", 7), (2**31 - 1, 2**31 - 1), ("2147483647", 2**31 - 1)],
)
def test_positive_id_accepts(value, expected):
    assert positive_id(value, "contactId") == expected


@pytest.mark.parametrize(
    "value",
    [
        "0",
        0,
        "-1",
        -1,
        "2147483648",
        2**31,
        "99999999999",
        True,
        False,
        "12a",
        "",
        " 1",
        "1.0",
        1.0,
        None,
        "²",  # str.isdigit() is true of it
        "٣",  # Arabic-Indic three: int() would read it as 3
        "1" * 5000,
    ],
)
def test_positive_id_refuses(value):
    with pytest.raises(ValidationError) as excinfo:
        positive_id(value, "contactId")
    assert excinfo.value.message == "contactId must be a positive integer id"
    assert excinfo.value.field == "contactId"


# --- extra_info ---------------------------------------------------------------------------------


def test_extra_info_normalises():
    items = [{"name": " Bloco ", "value": " A "}, {"name": "Apto", "value": 12}, {"name": "x"}]
    assert extra_info(items) == [
        {"name": "Bloco", "value": "A"},
        {"name": "Apto", "value": "12"},
        {"name": "x", "value": ""},
    ]
    assert extra_info([]) == []


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        (["x"], "extraInfo[0] must be an object"),
        ([{"name": "a"}, 3], "extraInfo[1] must be an object"),
        ([{"value": "v"}], "extraInfo[0].name must be a non-empty string"),
        ([{"name": "  "}], "extraInfo[0].name must be a non-empty string"),
        ([{"name": 5}], "extraInfo[0].name must be a non-empty string"),
        ([{"name": "n" * 101}], "of at most 100 characters"),
        ([{"name": "a", "value": True}], "extraInfo[0].value must be a string"),
        ([{"name": "a", "value": None}], "extraInfo[0].value must be a string"),
        ([{"name": "a", "value": ["x"]}], "extraInfo[0].value must be a string"),
        ([{"name": "a", "value": "v" * 1001}], "of at most 1000 characters"),
        ([{"name": "a"}, {"name": " a "}], "extraInfo has a duplicate name ' a '"),
        ([{"name": "a", "value": "x\x00"}], "NUL"),
    ],
)
def test_extra_info_refuses(items, reason):
    with pytest.raises(ValidationError) as excinfo:
        extra_info(items)
    assert reason in excinfo.value.message
    assert excinfo.value.field == "extraInfo"


def test_extra_info_limits_are_inclusive():
    out = extra_info([{"name": "n" * 100, "value": "v" * 1000}])
    assert out == [{"name": "n" * 100, "value": "v" * 1000}]


# --- paging.page_number -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 1), ("", 1), ("1", 1), ("2", 2), (str(MAX_PAGE), MAX_PAGE)]
)
def test_page_number_accepts(raw, expected):
    assert page_number(raw) == expected


@pytest.mark.parametrize(
    "raw", ["0", "-1", str(MAX_PAGE + 1), "1.5", "abc", " 2", "²", "٣", "9" * 5000, 2, True]
)
def test_page_number_refuses(raw):
    with pytest.raises(ValidationError) as excinfo:
        page_number(raw)
    assert excinfo.value.message == f"pageNumber must be an integer between 1 and {MAX_PAGE}"
    assert excinfo.value.field == "pageNumber"

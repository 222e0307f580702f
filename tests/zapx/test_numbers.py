"""zapx.numbers.normalize_number: Brazilian written forms, other countries, refusals, region."""

from __future__ import annotations

import pytest

from zapx.errors import ValidationError
from zapx.numbers import normalize_number, read_number

MOBILE = "5511987654321"
LANDLINE = "551132654321"


@pytest.mark.parametrize(
    "raw",
    [
        "(11) 98765-4321",
        "11 98765-4321",
        "11987654321",
        "+55 11 98765-4321",
        "+55 (11) 98765-4321",
        "011987654321",
        "(011) 98765-4321",
        "5511987654321",
        "55 11 9 8765 4321",
        "  +55.11.98765.4321  ",
        5511987654321,
        11987654321,
    ],
)
def test_brazilian_mobile_forms(raw):
    assert normalize_number(raw) == MOBILE


@pytest.mark.parametrize(
    "raw",
    ["(11) 3265-4321", "1132654321", "01132654321", "551132654321", "+55 11 3265-4321"],
)
def test_brazilian_landline_forms(raw):
    assert normalize_number(raw) == LANDLINE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(21) 2345-6789", "552123456789"),  # landlines start with 2-5
        ("(51) 5432-1098", "555154321098"),
        ("(55) 98765-4321", "5555987654321"),  # DDD 55 (RS) is not the country code here
        ("(55) 3222-1234", "555532221234"),
        ("(99) 99876-5432", "5599998765432"),
    ],
)
def test_brazilian_area_codes(raw, expected):
    assert normalize_number(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "(11) 8765-4321",  # a mobile without the 9th digit: no longer a valid number
        "551187654321",
        "11 88765-4321",  # 9 digits must start with 9
        "(10) 98765-4321",  # no DDD 10
        "(11) 6765-4321",  # 8-digit numbers starting 6-9 are not landlines
        "+55 11 98765-432",
        "12345",
        "+999 123",
        "1199999",
    ],
)
def test_invalid_numbers_are_refused(raw):
    with pytest.raises(ValidationError) as excinfo:
        normalize_number(raw)
    assert "is not a valid phone number" in excinfo.value.message
    assert repr(raw) in excinfo.value.message
    assert excinfo.value.field == "number"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "has no digits"),
        ("   ", "has no digits"),
        ("abc", "has no digits"),
        ("1" * 18, "too long to be a phone number"),
        (None, "must be a string of digits"),
        (True, "must be a string of digits"),
        (11.5, "must be a string of digits"),
        (["11987654321"], "must be a string of digits"),
    ],
)
def test_not_numbers_at_all(raw, reason):
    with pytest.raises(ValidationError, match=reason):
        normalize_number(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 202-555-0123", "12025550123"),
        ("+1 (202) 555-0123", "12025550123"),
        ("+49 151 23456789", "4915123456789"),
        ("+44 20 7946 0958", "442079460958"),
        ("+351 912 345 678", "351912345678"),
        ("+54 9 11 2345-6789", "5491123456789"),
        # Digits that already carry a foreign country code.
        ("4915123456789", "4915123456789"),
    ],
)
def test_other_countries(raw, expected):
    assert normalize_number(raw) == expected


def test_plus_means_international_even_for_brazilian_looking_digits():
    # '+11 98765-4321' is country code 1, not DDD 11.
    with pytest.raises(ValidationError, match="not a valid phone number"):
        normalize_number("+11 98765-4321")


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(202) 555-0123", "US", "12025550123"),
        ("202-555-0123", "US", "12025550123"),
        ("020 7946 0958", "GB", "442079460958"),
        ("0151 23456789", "DE", "4915123456789"),
        ("912 345 678", "PT", "351912345678"),
        # An explicit country code wins over the region.
        ("+55 11 98765-4321", "US", MOBILE),
    ],
)
def test_region_is_honoured(raw, region, expected):
    assert normalize_number(raw, region) == expected


def test_region_changes_the_meaning_of_national_digits():
    # The same national form means London in GB and is not a number in BR.
    assert normalize_number("020 7946 0958", "GB") == "442079460958"
    with pytest.raises(ValidationError):
        normalize_number("020 7946 0958", "BR")
    # A Brazilian national form is not read as Brazilian when the region is the US.
    with pytest.raises(ValidationError):
        normalize_number("(11) 98765-4321", "US")


# --- read_number: numbers a list keeps though they are not in use ----------------------------


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        (5585888889999, "5585888889999"),  # the frontend's sample sheet (numeric cells)
        ("5585888889991", "5585888889991"),
        ("+55 85 88888-9999", "5585888889999"),
        ("085 88888 9999", "5585888889999"),
        ("11 88765-4321", "5511887654321"),  # 9 digits not starting with 9
        ("(11) 8765-4321", "551187654321"),  # a mobile of the 8 digits of before 2016
        ("(11) 6765-4321", "551167654321"),
    ],
)
def test_well_formed_brazilian_numbers_not_in_use_are_read_as_unassigned(raw, digits):
    assert read_number(raw) == (digits, False)
    # normalize_number (contacts, campaigns) still refuses them, with the original's code.
    with pytest.raises(ValidationError) as excinfo:
        normalize_number(raw)
    assert excinfo.value.code == "ERR_WAPP_INVALID_CONTACT"


@pytest.mark.parametrize(
    "raw",
    ["(10) 98765-4321", "12345", "1199999", "+999 123", "+11 98765-4321", "0", "+1 202-555-01"],
)
def test_numbers_that_are_not_well_formed_are_refused_by_read_number_too(raw):
    with pytest.raises(ValidationError, match="not a valid phone number") as excinfo:
        read_number(raw)
    assert excinfo.value.code == "ERR_WAPP_INVALID_CONTACT"
    assert excinfo.value.field == "number"


def test_valid_numbers_are_read_as_assigned():
    assert read_number("(11) 98765-4321") == (MOBILE, True)
    assert read_number("+49 151 23456789") == ("4915123456789", True)
    assert read_number("(202) 555-0123", "US") == ("12025550123", True)

"""Phone numbers: normalised to digits with the country code (``5511987654321``).

Brazilian numbers are most of what zapx sees, so their common written forms take a fast path of
plain string checks (about 1 µs); anything else goes through ``phonenumbers`` (about 30 µs).
"""

from __future__ import annotations

import contextlib
import re

import phonenumbers

from zapx.errors import ValidationError

_NON_DIGITS = re.compile(r"\D+")
# Brazilian area codes (DDD) in use.
_BR_DDD = frozenset(
    "11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 41 42 43 44 45 46 47 48 49 "
    "51 53 54 55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 81 82 83 84 85 86 87 88 89 "
    "91 92 93 94 95 96 97 98 99".split()
)
MAX_DIGITS = 15  # E.164


def _fast_br(digits: str) -> str | None:
    """``55`` + DDD + 8 or 9 digits, from the forms people write; None when unsure."""
    if len(digits) in (12, 13) and digits.startswith("55"):
        national = digits[2:]
    elif len(digits) in (10, 11) and not digits.startswith("0"):
        national = digits
    elif len(digits) in (11, 12) and digits.startswith("0"):  # trunk prefix 0 + DDD
        national = digits[1:]
    else:
        return None
    ddd, subscriber = national[:2], national[2:]
    if ddd not in _BR_DDD:
        return None
    if len(subscriber) == 9 and subscriber[0] == "9":
        return "55" + national
    if len(subscriber) == 8 and subscriber[0] in "2345":  # landline
        return "55" + national
    return None


#: The original's code for a number that cannot be a WhatsApp number (the frontend translates it).
INVALID_CODE = "ERR_WAPP_INVALID_CONTACT"


def _invalid(raw: object, why: str) -> ValidationError:
    return ValidationError(f"number {raw!r} {why}", field="number", code=INVALID_CODE)


def normalize_number(raw: object, region: str = "BR") -> str:
    """Digits with country code, or :class:`ValidationError` saying why the number is invalid.

    ``region`` is the default country for numbers written without one (ISO code, e.g. ``BR``).
    """
    digits, assigned = read_number(raw, region)
    if not assigned:
        raise _invalid(raw, "is not a valid phone number")
    return digits


def read_number(raw: object, region: str = "BR") -> tuple[str, bool]:
    """``(digits with country code, assigned)``.

    ``assigned`` is False for a Brazilian number of the right length behind a real area code
    whose subscriber digits are not in use: a mobile of 9 digits not starting with 9
    (``5585888889999``, the frontend's own sample sheet) or of the 8 digits of before 2016
    (``551187654321``). Such a number cannot be a WhatsApp number today, but it is what the
    person wrote; list items keep it, marked as not a WhatsApp number (``zapx/contacts.py``).
    Anything else that is not a valid number (too short or long, an unknown country or area
    code, no digits) is a :class:`ValidationError`.
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise ValidationError("number must be a string of digits", field="number")
    text = raw.strip()
    digits = _NON_DIGITS.sub("", text)
    if not digits:
        raise _invalid(raw, "has no digits")
    if len(digits) > MAX_DIGITS + 2:
        raise _invalid(raw, "is too long to be a phone number")
    if (region == "BR" and not text.startswith("+")) or (
        text.startswith("+55") and len(digits) in (12, 13)
    ):
        fast = _fast_br(digits)
        if fast is not None:
            return fast, True
    try:
        in_region = phonenumbers.parse(text if text.startswith("+") else digits, region)
    except phonenumbers.NumberParseException:
        raise _invalid(raw, "is not a valid phone number") from None
    parsed = in_region
    if not phonenumbers.is_valid_number(parsed) and not text.startswith("+"):
        # Digits that already carry a country code ("4915123456789").
        with contextlib.suppress(phonenumbers.NumberParseException):
            parsed = phonenumbers.parse("+" + digits, None)
    if phonenumbers.is_valid_number(parsed):
        return f"{parsed.country_code}{parsed.national_number}", True
    if _unassigned_br(in_region):
        return f"55{in_region.national_number}", False
    raise _invalid(raw, "is not a valid phone number")


def _unassigned_br(parsed: phonenumbers.PhoneNumber) -> bool:
    """A Brazilian number read as written, of 10 or 11 national digits behind a real area code
    (DDD), that is not in use: a mobile of 8 digits or of 9 not starting with 9."""
    national = str(parsed.national_number)
    return parsed.country_code == 55 and len(national) in (10, 11) and national[:2] in _BR_DDD

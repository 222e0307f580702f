"""Phone numbers: normalised to digits with the country code (``5511987654321``).

Brazilian numbers are most of what zapx sees, so their common written forms take a fast path of
plain string checks (about 1 µs); anything else goes through ``phonenumbers`` (about 30 µs).
"""

from __future__ import annotations

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


def normalize_number(raw: object, region: str = "BR") -> str:
    """Digits with country code, or :class:`ValidationError` saying why the number is invalid.

    ``region`` is the default country for numbers written without one (ISO code, e.g. ``BR``).
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise ValidationError("number must be a string of digits", field="number")
    text = raw.strip()
    digits = _NON_DIGITS.sub("", text)
    if not digits:
        raise ValidationError(f"number {raw!r} has no digits", field="number")
    if len(digits) > MAX_DIGITS + 2:
        raise ValidationError(f"number {raw!r} is too long to be a phone number", field="number")
    if (region == "BR" and not text.startswith("+")) or (
        text.startswith("+55") and len(digits) in (12, 13)
    ):
        fast = _fast_br(digits)
        if fast is not None:
            return fast
    try:
        candidate = text if text.startswith("+") else digits
        parsed = phonenumbers.parse(candidate, region)
        if not phonenumbers.is_valid_number(parsed) and not text.startswith("+"):
            # Digits that already carry a country code ("4915123456789").
            parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            f"number {raw!r} is not a valid phone number", field="number"
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"number {raw!r} is not a valid phone number", field="number")
    return f"{parsed.country_code}{parsed.national_number}"

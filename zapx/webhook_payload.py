"""Reading a Cloud API notification body: the statuses and replies it carries, per phone id.

The body comes from the internet, signed or not, and is read before its signature is checked (the
signature's candidates are the connections of the phone ids it names). So every part zapx uses is
checked for its type here, and anything else is a :class:`~zapx.errors.ValidationError` naming the
JSON path: an ``entry`` that is a number, a ``metadata`` that is a string, an id with a NUL
(PostgreSQL text cannot hold one) or a body nested beyond the JSON parser's recursion limit is a
400, never a 500. Parts zapx does not use (contacts, other change fields) are not looked at.
"""

from __future__ import annotations

import dataclasses
import datetime
import json

from zapx.errors import ValidationError
from zapx.status import RowStatus
from zapx.validation import text_problem

#: The statuses a row can take from a webhook; others (``deleted``, ``warning``) are ignored.
STATUSES = (RowStatus.SENT, RowStatus.DELIVERED, RowStatus.READ, RowStatus.FAILED)
#: ``campaign_shipping.provider_message_id`` is varchar(128): a longer id matches no row.
MAX_ID_CHARS = 128
#: A connection's ``phoneNumberId`` is at most 64 characters.
MAX_PHONE_ID_CHARS = 64
#: A WhatsApp id (``from``) is a phone number: 64 characters is already far beyond one.
MAX_FROM_CHARS = 64
#: A failure's ``title`` kept as the row's error (characters).
MAX_ERROR_CHARS = 500


@dataclasses.dataclass(frozen=True)
class Status:
    message_id: str
    status: str
    at: datetime.datetime
    #: ``"code: title"`` of a failure, else None.
    error: str | None


@dataclasses.dataclass(frozen=True)
class Change:
    """What one ``entry[].changes[].value`` reports for one phone number id."""

    phone_id: str
    statuses: tuple[Status, ...]
    #: The digits of each reply's ``from``.
    replies: tuple[str, ...]


def read(raw: bytes) -> tuple[Change, ...]:
    """The changes of a notification body that carry statuses or replies, in order."""
    try:
        payload = json.loads(raw)
    except RecursionError:
        raise ValidationError("body is nested too deeply") from None
    except ValueError:  # UnicodeDecodeError included
        raise ValidationError("body is not JSON") from None
    if not isinstance(payload, dict):
        raise ValidationError("body must be a JSON object")
    changes = []
    for i, entry in enumerate(_array(payload.get("entry"), "entry")):
        path = f"entry[{i}]"
        entry = _object(entry, path)
        for j, change in enumerate(_array(entry.get("changes"), f"{path}.changes")):
            read_one = _change(_object(change, f"{path}.changes[{j}]"), f"{path}.changes[{j}]")
            if read_one is not None:
                changes.append(read_one)
    return tuple(changes)


def _change(change: dict, path: str) -> Change | None:
    value = change.get("value")
    if value is None:
        return None
    path += ".value"
    value = _object(value, path)
    statuses = [
        _status(item, f"{path}.statuses[{k}]")
        for k, item in enumerate(_array(value.get("statuses"), f"{path}.statuses"))
    ]
    replies = [
        _reply(item, f"{path}.messages[{k}]")
        for k, item in enumerate(_array(value.get("messages"), f"{path}.messages"))
    ]
    statuses, replies = [s for s in statuses if s], [r for r in replies if r]
    metadata = value.get("metadata")
    phone_id = None
    if metadata is not None:
        metadata = _object(metadata, f"{path}.metadata")
        phone_id = _ident(
            metadata.get("phone_number_id"),
            f"{path}.metadata.phone_number_id",
            MAX_PHONE_ID_CHARS,
            required=False,
        )
    if phone_id is None:
        if statuses or replies:
            raise ValidationError(
                f"{path}.metadata.phone_number_id is required with statuses or messages",
                field=f"{path}.metadata.phone_number_id",
            )
        return None
    return Change(phone_id, tuple(statuses), tuple(replies))


def _status(item: object, path: str) -> Status | None:
    item = _object(item, path)
    status = item.get("status")
    if status is not None and not isinstance(status, str):
        raise ValidationError(f"{path}.status must be a string", field=f"{path}.status")
    message_id = _ident(item.get("id"), f"{path}.id", MAX_ID_CHARS, required=False)
    if message_id is None or status not in STATUSES:
        return None
    error = None
    if status == RowStatus.FAILED:
        errors = _array(item.get("errors"), f"{path}.errors")
        first = _object(errors[0], f"{path}.errors[0]") if errors else {}
        code, title = first.get("code"), first.get("title")
        error = f"{code}: {title if isinstance(title, str) else ''}".strip()[:MAX_ERROR_CHARS]
        problem = text_problem(error)
        if problem:
            raise ValidationError(f"{path}.errors[0] {problem}", field=f"{path}.errors")
    return Status(message_id, status, _timestamp(item.get("timestamp")), error)


def _reply(item: object, path: str) -> str | None:
    item = _object(item, path)
    sender = _ident(item.get("from"), f"{path}.from", MAX_FROM_CHARS, required=False)
    if sender is None:
        return None
    digits = "".join(c for c in sender if c.isascii() and c.isdigit())
    return digits or None


def _array(value: object, path: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(f"{path} must be an array", field=path)
    return value


def _object(value: object, path: str) -> dict:
    if not isinstance(value, dict):
        raise ValidationError(f"{path} must be an object", field=path)
    return value


def _ident(value: object, path: str, max_chars: int, *, required: bool) -> str | None:
    """An id as Meta sends it: a string (a number is read as its digits), printable, bounded."""
    if value is None or value == "":
        if required:
            raise ValidationError(f"{path} is required", field=path)
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationError(f"{path} must be a string", field=path)
    if len(value) > max_chars:
        raise ValidationError(f"{path} is longer than {max_chars} characters", field=path)
    if not value.isprintable():
        raise ValidationError(f"{path} contains a control character", field=path)
    problem = text_problem(value)
    if problem:
        raise ValidationError(f"{path} {problem}", field=path)
    return value


def _timestamp(raw: object) -> datetime.datetime:
    """Meta's ``timestamp`` (Unix seconds, as a string); the arrival time when it is unusable."""
    try:
        return datetime.datetime.fromtimestamp(int(raw), datetime.UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.datetime.now(datetime.UTC)

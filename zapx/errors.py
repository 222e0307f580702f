"""Domain exceptions, all under :class:`ZapxError`.

The API maps each class to one HTTP status in a single place (``api/errors.py``); workers and the
engine use the same classes, so a rule is stated once whatever process enforces it.
"""


class ZapxError(Exception):
    """Base of every error zapx raises on purpose."""

    #: A short machine-readable code, returned to clients as ``error``. Where the original
    #: Whaticket backend has a code for the case, it is that code (the frontend translates it;
    #: docs/API.md has the table); ``code=`` gives one raise its own.
    code = "ERR_ZAPX"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        """``code`` replaces the class's where the original backend had its own for the case
        (``ERR_NO_CAMPAIGN_FOUND``): the frontend shows ``error``, translated when it knows it;
        the class still decides the HTTP status."""
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class ConfigError(ZapxError):
    """A configuration value is missing or malformed; the process must not start."""

    code = "ERR_CONFIG"


class ValidationError(ZapxError):
    """Input is malformed: wrong type, missing, too long, not a valid phone number..."""

    code = "ERR_VALIDATION"


class NotFound(ZapxError):
    """No such object *in the caller's company* (another tenant's object is also NotFound)."""

    code = "ERR_NOT_FOUND"


#: The original backend's code for a missing object, by the label or model name zapx uses.
NOT_FOUND_CODES = {
    "Campaign": "ERR_NO_CAMPAIGN_FOUND",
    "Company": "ERR_NO_COMPANY_FOUND",
    "Contact": "ERR_NO_CONTACT_FOUND",
    "ContactList": "ERR_NO_CONTACTLIST_FOUND",
    "ContactListItem": "ERR_NO_CONTACTLISTITEM_FOUND",
    "File": "ERR_NO_FILE_FOUND",
    "FileList": "ERR_NO_FILE_FOUND",
    "FileOption": "ERR_NO_FILE_FOUND",
    "User": "ERR_NO_USER_FOUND",
    "Whatsapp": "ERR_NO_WAPP_FOUND",
    "WhatsappConnection": "ERR_NO_WAPP_FOUND",
}


def not_found(kind: str, object_id: object, *, model: str | None = None) -> NotFound:
    """``"<kind> <id> not found"`` with the original's code for the ``model`` name (``kind`` when
    none is given), else ERR_NOT_FOUND."""
    return NotFound(f"{kind} {object_id} not found", code=NOT_FOUND_CODES.get(model or kind))


class Conflict(ZapxError):
    """The request clashes with existing state (a duplicate number, a forbidden transition)."""

    code = "ERR_CONFLICT"


class LimitExceeded(ZapxError):
    """A plan limit (users, connections, campaigns) would be exceeded (a 400, as the original's:
    a 403 makes the frontend refresh its token and retry)."""

    code = "ERR_PLAN_LIMIT"


class AuthError(ZapxError):
    """Missing, malformed, expired or wrong credentials."""

    code = "ERR_AUTH"


class InvalidToken(AuthError):
    """A token this install never issued: a bad signature or claims of the wrong shape (a
    ``companyId`` of 0, -1, text or none). A 401: no refresh can make it valid, so the frontend
    logs out, where an expired or revoked token is a :class:`TokenRejected` it tries to refresh."""

    code = "ERR_SESSION_EXPIRED"


class TokenRejected(AuthError):
    """A request's access token was refused (expired, bad signature, revoked): a 403, as the
    original's ``isAuth``, which the frontend answers by refreshing its token once."""

    code = "ERR_SESSION_EXPIRED"


class Forbidden(ZapxError):
    """Authenticated, but the profile does not allow this action."""

    code = "ERR_NO_PERMISSION"


class TooManyRequests(ZapxError):
    """Too many attempts (failed logins); ``retry_after_s`` says when to try again (seconds)."""

    code = "ERR_TOO_MANY_REQUESTS"

    def __init__(self, message: str, *, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(ZapxError):
    """A dependency (PostgreSQL, Redis) does not answer."""

    code = "ERR_UNAVAILABLE"

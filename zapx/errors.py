"""Domain exceptions, all under :class:`ZapxError`.

The API maps each class to one HTTP status in a single place (``api/errors.py``); workers and the
engine use the same classes, so a rule is stated once whatever process enforces it.
"""


class ZapxError(Exception):
    """Base of every error zapx raises on purpose."""

    #: A short machine-readable code, returned to clients as ``error``.
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


class Conflict(ZapxError):
    """The request clashes with existing state (a duplicate number, a forbidden transition)."""

    code = "ERR_CONFLICT"


class LimitExceeded(ZapxError):
    """A plan limit (users, connections, campaigns) would be exceeded."""

    code = "ERR_PLAN_LIMIT"


class AuthError(ZapxError):
    """Missing, malformed, expired or wrong credentials."""

    code = "ERR_AUTH"


class Forbidden(ZapxError):
    """Authenticated, but the profile does not allow this action."""

    code = "ERR_FORBIDDEN"


class TooManyRequests(ZapxError):
    """Too many attempts (failed logins); ``retry_after_s`` says when to try again (seconds)."""

    code = "ERR_TOO_MANY_REQUESTS"

    def __init__(self, message: str, *, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(ZapxError):
    """A dependency (PostgreSQL, Redis) does not answer."""

    code = "ERR_UNAVAILABLE"

"""Companies, users, login and plan limits."""

from __future__ import annotations

import datetime

from peewee import IntegrityError, fn

from zapx import auth, realtime
from zapx.db import Company, Tenant, User, db, utcnow
from zapx.errors import (
    AuthError,
    Conflict,
    Forbidden,
    LimitExceeded,
    ValidationError,
    not_found,
)
from zapx.login_limits import LoginLimiter
from zapx.paging import paginate
from zapx.text import folded, like_pattern
from zapx.validation import Field, parse


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _due_date(value: str) -> datetime.datetime:
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("dueDate must be an ISO 8601 date", field="dueDate") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _password(value: str) -> str:
    if len(value.encode()) > auth.MAX_PASSWORD_BYTES:
        raise ValidationError("password must be at most 72 bytes", field="password")
    return value


def _email(value: str) -> str:
    value = value.lower()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or " " in value:
        raise ValidationError(f"email {value!r} is not a valid e-mail address", field="email")
    return value


COMPANY_FIELDS = (
    Field("name", required=True, min_len=1, max_len=255),
    Field("phone", max_len=32),
    Field("email", max_len=255),
    Field("status", bool),
    Field("dueDate", attr="due_date", nullable=True, clean=_due_date),
    Field("maxUsers", int, attr="max_users", min=0, max=100_000),
    Field("maxConnections", int, attr="max_connections", min=0, max=10_000),
    Field("maxCampaigns", int, attr="max_campaigns", min=0, max=1_000_000),
    Field("useCampaigns", bool, attr="use_campaigns"),
)

USER_FIELDS = (
    Field("name", required=True, min_len=1, max_len=255),
    Field("email", required=True, max_len=255, clean=_email),
    Field("password", required=True, min_len=8, strip=False, clean=_password),
    Field("profile", choices=("admin", "user")),
)

LOGIN_FIELDS = (
    Field("email", required=True, min_len=1, max_len=255),
    Field("password", required=True, min_len=1, max_len=1024, strip=False),
)


def company_dict(c: Company) -> dict:
    return {
        "id": c.id,
        "name": c.name,
        "phone": c.phone,
        "email": c.email,
        "status": c.status,
        "dueDate": _iso(c.due_date),
        "maxUsers": c.max_users,
        "maxConnections": c.max_connections,
        "maxCampaigns": c.max_campaigns,
        "useCampaigns": c.use_campaigns,
        "createdAt": _iso(c.created_at),
        "updatedAt": _iso(c.updated_at),
    }


def user_dict(u: User) -> dict:
    return {
        "id": u.id,
        "name": u.name,
        "email": u.email,
        "profile": u.profile,
        "super": u.super,
        "companyId": u.company_id,
        "createdAt": _iso(u.created_at),
        "updatedAt": _iso(u.updated_at),
    }


# --- what the Whaticket frontend keeps of a session -------------------------------------------

#: The ``dueDate`` the frontend is shown for a company without one (zapx: the plan never ends).
#: The frontend refuses a login whose company's ``dueDate`` is null or past ("Sua assinatura
#: venceu"), so "none" must be a date; zapx itself never refuses a request over a due date.
NO_DUE_DATE = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


def session_company(c: Company) -> dict:
    """The company as the login answers it: its row, the due date shown (:data:`NO_DUE_DATE` when
    none) and the original's ``settings[]``, of which the frontend reads ``campaignsEnabled``
    (the Campaign menu when ``GET /companies/listPlan`` fails)."""
    enabled = "true" if c.use_campaigns else "false"
    return company_dict(c) | {
        "dueDate": _iso(c.due_date or NO_DUE_DATE),
        "settings": [{"key": "campaignsEnabled", "value": enabled, "companyId": c.id}],
    }


def session_user(u: User, c: Company) -> dict:
    """The user of login, refresh and ``/auth/me``, with the keys the frontend reads: zapx has no
    ticket queues (``queues: []``; the landing page maps over them) and no ticket settings."""
    return user_dict(u) | {
        "allTicket": "disable",
        "whatsappId": None,
        "queues": [],
        "company": session_company(c),
    }


def me(principal: auth.Principal) -> dict:
    """``GET /auth/me``: the caller as :func:`session_user`."""
    user = Tenant(principal.company_id).get(User, principal.user_id, label="User")
    return session_user(user, Company.get_by_id(principal.company_id))


def company_plan(principal: auth.Principal, company_id: int) -> dict:
    """``GET /companies/listPlan/{id}``: the company and its plan as the original's
    ShowPlanCompanyService answers them; the frontend shows the Campaign menu on
    ``plan.useCampaigns``. zapx's plan is the company's own limits, so ``plan.id`` is the
    company's id and the flags of modules zapx does not have are false. Another company's is a
    404 unless the caller is a platform administrator."""
    if company_id != principal.company_id and not principal.is_super:
        raise not_found("Company", company_id)
    c = Company.get_or_none(Company.id == company_id)
    if c is None:
        raise not_found("Company", company_id)
    return {
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "status": c.status,
        "dueDate": _iso(c.due_date or NO_DUE_DATE),
        "createdAt": _iso(c.created_at),
        "phone": c.phone,
        "plan": {
            "id": c.id,
            "name": c.name,
            "users": c.max_users,
            "connections": c.max_connections,
            "campaigns": c.max_campaigns,
            "queues": 0,
            "value": 0,
            "useCampaigns": c.use_campaigns,
            **dict.fromkeys(OTHER_PLAN_FLAGS, False),
        },
    }


#: The original's plan flags for modules zapx does not serve (tickets, chat, kanban...).
OTHER_PLAN_FLAGS = (
    "useSchedules",
    "useInternalChat",
    "useExternalApi",
    "useKanban",
    "useOpenAi",
    "useIntegrations",
    "useInternal",
)


# --- login -------------------------------------------------------------------------------------


def authenticate(body: object, limiter: LoginLimiter | None = None, address: str = "") -> User:
    """The user of valid credentials; one vague 401 ``ERR_INVALID_CREDENTIALS`` for every wrong
    e-mail or password (the original's code, which the frontend translates).

    With a ``limiter``, the attempt from client ``address`` is counted as a failure before the
    password is checked (:class:`TooManyRequests` when too many came before it) and forgiven when
    the password is right.
    """
    data = parse(body, LOGIN_FIELDS)
    email = data["email"].lower()
    if limiter is not None:
        limiter.begin(email, address)
    user = User.get_or_none(User.email == email)
    if user is None:
        auth.dummy_check(data["password"])
        raise AuthError("invalid e-mail or password", code="ERR_INVALID_CREDENTIALS")
    if not auth.check_password(data["password"], user.password_hash):
        raise AuthError("invalid e-mail or password", code="ERR_INVALID_CREDENTIALS")
    if limiter is not None:
        limiter.succeeded(email, address)
    if not user.super and not Company.get_by_id(user.company_id).status:
        raise AuthError("company is inactive", code="ERR_COMPANY_INACTIVE")
    return user


def principal_of(user: User) -> auth.Principal:
    return auth.Principal(user.id, user.company_id, user.profile, user.super, user.token_version)


def standing(user_id: int) -> tuple[auth.Principal, bool] | None:
    """The user's current principal and whether their company is active; None for a deleted user.

    One query by primary keys (users, then companies): the API makes it once per user and cache
    window (``api/auth.py``), so what the database says, not the token, decides a request's rights.
    """
    row = (
        User.select(User.company, User.profile, User.super, User.token_version, Company.status)
        .join(Company, on=(Company.id == User.company))
        .where(User.id == user_id)
        .tuples()
        .first()
    )
    if row is None:
        return None
    company_id, profile, is_super, version, active = row
    return auth.Principal(user_id, company_id, profile, is_super, version), active


def live_principal(
    claimed: auth.Principal, current: tuple[auth.Principal, bool] | None
) -> auth.Principal:
    """Who a verified token's bearer is now: the user's ``current`` :func:`standing`, unless the
    token was revoked since it was issued or the company is inactive (:class:`AuthError`).

    The API (per request) and the socket.io server (per connection) both decide with it.
    """
    if current is None:
        raise AuthError("token revoked; log in again")
    principal, company_active = current
    # A password, profile or company change bumps the version; a company moved by hand in the
    # database is caught by the comparison of companies.
    if (principal.token_version, principal.company_id) != (
        claimed.token_version,
        claimed.company_id,
    ):
        raise AuthError("token revoked; log in again")
    if not company_active and not principal.is_super:
        raise AuthError("company is inactive")
    return principal


# --- companies (super admins only) -------------------------------------------------------------


def require_super(principal: auth.Principal) -> None:
    if not principal.is_super:
        raise Forbidden("only platform administrators (super) may manage companies")


def list_companies(principal: auth.Principal, search: str | None, number: int) -> dict:
    require_super(principal)
    query = Company.select().order_by(Company.name, Company.id)
    if search:
        query = query.where(folded(Company.name) % like_pattern(search))
    return paginate(query, number, company_dict)


def get_company(principal: auth.Principal, company_id: int) -> dict:
    require_super(principal)
    company = Company.get_or_none(Company.id == company_id)
    if company is None:
        raise not_found("Company", company_id)
    return company_dict(company)


def create_company(principal: auth.Principal, body: object) -> dict:
    require_super(principal)
    data = parse(body, COMPANY_FIELDS)
    with db.atomic():
        company = Company.create(**data)
    return company_dict(company)


def update_company(principal: auth.Principal, company_id: int, body: object) -> dict:
    require_super(principal)
    data = parse(body, COMPANY_FIELDS, partial=True)
    with db.atomic():
        company = Company.select().where(Company.id == company_id).for_update().first()
        if company is None:
            raise not_found("Company", company_id)
        for key, value in data.items():
            setattr(company, key, value)
        company.save()
    return company_dict(company)


def delete_company(principal: auth.Principal, company_id: int) -> None:
    require_super(principal)
    if company_id == principal.company_id:
        raise Conflict("a super administrator cannot delete their own company")
    with db.atomic():
        if not Company.delete().where(Company.id == company_id).execute():
            raise not_found("Company", company_id)


# --- users -------------------------------------------------------------------------------------


def _lock_company(company_id: int) -> Company:
    """Lock the company row for the transaction: plan-limit checks must not race."""
    company = Company.select().where(Company.id == company_id).for_update().first()
    if company is None:
        raise not_found("Company", company_id)
    return company


def _require_admin(principal: auth.Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only company administrators may manage users")


def list_users(principal: auth.Principal, search: str | None, number: int) -> dict:
    _require_admin(principal)
    query = Tenant(principal.company_id).select(User).order_by(User.name, User.id)
    if search:
        pattern = like_pattern(search)
        query = query.where((folded(User.name) % pattern) | User.email.ilike(pattern))
    return paginate(query, number, user_dict)


def get_user(principal: auth.Principal, user_id: int) -> dict:
    if user_id != principal.user_id:
        _require_admin(principal)
    return user_dict(Tenant(principal.company_id).get(User, user_id, label="User"))


def create_user(principal: auth.Principal, body: object, company_id: int | None = None) -> dict:
    """Create a user in the caller's company, or (super only) in ``company_id``."""
    _require_admin(principal)
    if company_id is not None and company_id != principal.company_id:
        require_super(principal)
    target = company_id or principal.company_id
    data = parse(body, USER_FIELDS)
    data["password_hash"] = auth.hash_password(data.pop("password"))
    with db.atomic():
        company = _lock_company(target)
        count = User.select(fn.COUNT(User.id)).where(User.company == target).scalar()
        if count >= company.max_users:
            raise LimitExceeded(
                f"the plan allows {company.max_users} users and the company has {count}"
            )
        try:
            with db.atomic():
                user = User.create(company=target, **data)
        except IntegrityError:
            raise _email_conflict() from None
    return user_dict(user)


def update_user(principal: auth.Principal, user_id: int, body: object) -> dict:
    """Update a user; a new password or profile revokes their tokens (``token_version`` + 1).

    A ``user`` profile may update only itself and may send its own current profile (a form that
    saves the whole record), not another one.
    """
    if user_id != principal.user_id:
        _require_admin(principal)
    data = parse(body, USER_FIELDS, partial=True)
    if "password" in data:
        data["password_hash"] = auth.hash_password(data.pop("password"))
    tenant = Tenant(principal.company_id)
    with db.atomic():
        user = tenant.select(User).where(User.id == user_id).for_update().first()
        if user is None:
            raise not_found("User", user_id)
        new_profile = data.get("profile", user.profile) != user.profile
        if new_profile and not principal.is_admin:
            raise Forbidden("only administrators may change a profile")
        if new_profile or "password_hash" in data:
            data["token_version"] = User.token_version + 1
        try:
            with db.atomic():
                tenant.update(User, user_id, updated_at=utcnow(), **data)
        except IntegrityError:
            raise _email_conflict() from None
    out = user_dict(tenant.get(User, user_id, label="User"))
    realtime.publish_from(tenant.company_id, lambda: [("user", _user_event(user_id))])
    return out


def _user_event(user_id: int) -> dict:
    """``company-{id}-user`` ``update``: the frontend replaces its logged-in user with ``user``
    when the ids match, so it is the login's shape (:func:`session_user`)."""
    user = User.get_by_id(user_id)
    return {"action": "update", "user": session_user(user, user.company)}


def _email_conflict() -> Conflict:
    # E-mails are unique in the whole install (login asks for no company), so a taken address
    # cannot be given; the message does not say whether it is taken here or in another company.
    return Conflict("this e-mail cannot be used; choose another", field="email")


def delete_user(principal: auth.Principal, user_id: int) -> None:
    _require_admin(principal)
    if user_id == principal.user_id:
        raise Conflict("you cannot delete your own user")
    with db.atomic():
        Tenant(principal.company_id).delete(User, user_id, label="User")

"""The demo tenant ``zapx demo`` creates: a company, its admin and a sandbox connection."""

from __future__ import annotations

import secrets

from zapx import auth
from zapx.connections import create_connection
from zapx.db import Company, Tenant, User, WhatsappConnection, db
from zapx.outbound import Outbound

DEMO_COMPANY = "Demo"
DEMO_EMAIL = "admin@demo.zapx"


def ensure_demo(password: str | None, outbound: Outbound) -> dict:
    """Create what is missing; returns ``{companyId, email, password or None, created}``.

    ``password`` resets the admin's password when given; a new admin without one gets a random
    password, returned once (it is stored hashed only).
    """
    with db.connection_context(), db.atomic():
        company = Company.get_or_none(Company.name == DEMO_COMPANY)
        created = company is None
        if created:
            company = Company.create(name=DEMO_COMPANY, email=DEMO_EMAIL)
        user = User.get_or_none(User.email == DEMO_EMAIL)
        shown = None
        if user is None:
            shown = password or secrets.token_urlsafe(12)
            User.create(
                company=company.id,
                name="Demo admin",
                email=DEMO_EMAIL,
                password_hash=auth.hash_password(shown),
                profile="admin",
                super=True,
            )
        elif password:
            shown = password
            User.update(
                password_hash=auth.hash_password(password),
                token_version=User.token_version + 1,
            ).where(User.id == user.id).execute()
        tenant = Tenant(company.id)
        if not tenant.select(WhatsappConnection).exists():
            create_connection(tenant, {"name": "Sandbox", "provider": "sandbox"}, outbound)
    return {"companyId": company.id, "email": DEMO_EMAIL, "password": shown, "created": created}

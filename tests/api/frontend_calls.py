"""What the ZapExpress frontend's campaign journey sends and reads, taken from its code (issue 11).

Plain data for the contract tests: how calls travel (:data:`HTTP`), every HTTP call
(:data:`CALLS`), the socket.io contract (:data:`SOCKET`, :data:`EVENTS`), what makes the Campaign
menu appear and a login succeed (:data:`GATES`), the sample import sheet (:data:`SAMPLE_SHEET`),
and the error codes the frontend translates (:data:`BACKEND_ERRORS`) or the original backend
throws (:data:`THROWN`, :data:`TEXT_ERRORS`). docs/FRONTEND_CONTRACT.md explains it page by page.

Source: github.com/flaviokalleu/zapexpress2 at :data:`FRONTEND_COMMIT`; every reference is
``path:line`` or ``path:first-last`` from that repository's root (``frontend/src/...`` for the
caller, ``backend/src/...`` for the original's answer).

Notation:

- ``reads``: response fields the code uses, as paths. ``a.b`` is key ``b`` of object ``a``;
  ``a[]`` every element of array ``a``; a path starting with ``[]`` means the body is an array.
  A path the frontend only reads when another field is set says so after ``when``.
- ``body``: request keys and the JSON types the frontend puts in them. ``str|null`` means the form
  sends ``null`` for an empty field (``""`` is turned into ``null`` before sending); ``echo`` means
  the key is whatever the matching GET returned (the forms send whole objects back on PUT).
- ``original_shape``: the original backend's response, keys and nesting. Types: ``int``,
  ``str``, ``bool``, ``date`` (ISO 8601 string), ``decimal`` (a string such as ``"0.00"``:
  Sequelize returns PostgreSQL numerics as strings), ``bigint`` (a count, also a string),
  ``X|null``; ``[{...}]`` is an array of objects.
"""

from __future__ import annotations

import dataclasses

FRONTEND_REPO = "flaviokalleu/zapexpress2"
FRONTEND_COMMIT = "8f51ff3d35646042264c5c41168577d2c8e62d52"


@dataclasses.dataclass(frozen=True)
class Call:
    """One HTTP call of the frontend, and what the original backend answers."""

    name: str
    caller: str  # frontend file:line of the request
    page: str  # the frontend route it runs on ("every page" for the logged-in layout)
    method: str
    path: str  # as axios sends it; {x} are placeholders (trailing slashes are the frontend's)
    #: "campaign": the campaign module zapx serves; "shell": login, session and the layout's own
    #: calls, needed for any page to work; "out": the original backend's (tickets, queues, chat...)
    scope: str = "campaign"
    query: tuple[str, ...] = ()
    body: dict[str, str] = dataclasses.field(default_factory=dict)
    body_kind: str = "none"  # "json", "multipart" or "none"
    reads: tuple[str, ...] = ()
    crashes: tuple[str, ...] = ()  # what breaks when the answer is not the original's shape
    on_error: str = "toastError"  # what the page does with a non-2xx answer
    original_status: int = 200
    original_shape: object = None
    original_source: tuple[str, ...] = ()
    notes: str = ""
    #: True when tests/api/test_frontend_contract.py makes this call against zapx (it then has
    #: a ``call_<name>`` setup fixture there) and checks every ``reads`` path on the answer.
    covered: bool = False


#: The connection form's body (components/WhatsAppModal/index.js:67-83, :133-138).
WHATSAPP_FORM = {
    "name": "Meu zap",
    "greetingMessage": "",
    "complationMessage": "",
    "outOfHoursMessage": "",
    "ratingMessage": "",
    "isDefault": False,
    "token": "",
    "provider": "beta",
    "expiresInactiveMessage": "",
    "expiresTicket": 0,
    "timeUseBotQueues": 0,
    "maxUseBotQueues": 3,
    "wavoip": "",
    "queueIds": [],
    "transferQueueId": None,
    "promptId": None,
}


#: How every call travels (frontend/src/services/api.js:3-6, hooks/useAuth.js/index.js:18-56).
HTTP = {
    "base_url": "REACT_APP_BACKEND_URL, baked in at build time; paths joined with one '/'",
    "credentials": "withCredentials: true (the jrt cookie goes along; CORS must allow credentials "
    "for the exact origin)",
    "authorization": "Bearer <JSON.parse(localStorage.token)> on every request",
    "preflight": {
        "Access-Control-Request-Method": ("GET", "POST", "PUT", "DELETE"),
        "Access-Control-Request-Headers": ("authorization", "content-type"),
    },
    "status_401": "token and companyId removed from localStorage, logged out (useAuth.js:48-53)",
    "status_403": "POST /auth/refresh_token, store the new token, retry once (useAuth.js:38-46)",
    "status_500": "no toast (errors/toastError.js:11-14)",
    "error_field": "response.data.error: translated through backendErrors when known, else "
    "shown as it is (toastError.js:16-48); message and field are never read",
    "original_cors": "cors({credentials: true, origin: FRONTEND_URL}) (backend/src/app.ts:35-40)",
}

#: The sample sheet both list pages link to (frontend/src/assets/planilha.xlsx): sheet
#: "Planilha1", numbers as numeric cells. Its numbers are fictitious (not valid BR mobiles).
SAMPLE_SHEET = {
    "path": "frontend/src/assets/planilha.xlsx",
    "header": ("nome", "numero", "e-mail"),
    "rows": (
        ("Contato 6", 5585888889999, "contato6@test.tom.br"),
        ("Contato 12", 5585888889991, None),
    ),
}


# --- the original's row shapes (Sequelize models + migrations) ----------------------------------

CAMPAIGN_ROW = {
    # backend/src/models/Campaign.ts:21-123, database/migrations/20220315110002, 20230924212337,
    # 20240320000001 (successRate, lastDeliveryAt, timeoutAt), 20240320000002 (DECIMAL(5,2))
    "id": "int",
    "name": "str",
    **{f"message{i}": "str|null" for i in range(1, 6)},
    **{f"confirmationMessage{i}": "str|null" for i in range(1, 6)},
    "status": "str",  # INATIVA PROGRAMADA EM_ANDAMENTO CANCELADA FINALIZADA PARCIALMENTE_CONCLUÍDA
    "confirmation": "bool|null",
    "mediaPath": "str|null",
    "mediaName": "str|null",
    "scheduledAt": "date|null",
    "completedAt": "date|null",
    "successRate": "decimal|null",
    "lastDeliveryAt": "date|null",
    "timeoutAt": "date|null",
    "createdAt": "date",
    "updatedAt": "date",
    "companyId": "int",
    "contactListId": "int|null",
    "whatsappId": "int|null",
    "fileListId": "int|null",
}
CONTACT_LIST_ROW = {  # backend/src/models/ContactList.ts:17-45
    "id": "int",
    "name": "str",
    "companyId": "int",
    "createdAt": "date",
    "updatedAt": "date",
}
CONTACT_LIST_ITEM_ROW = {  # backend/src/models/ContactListItem.ts:19-67
    "id": "int",
    "name": "str",
    "number": "str",
    "email": "str",
    "isWhatsappValid": "bool|null",
    "companyId": "int",
    "contactListId": "int",
    "groupId": "int|null",
    "createdAt": "date",
    "updatedAt": "date",
}
CAMPAIGN_SHIPPING_ROW = {  # backend/src/models/CampaignShipping.ts:16-65
    "id": "int",
    "jobId": "str|null",
    "number": "str",
    "message": "str",
    "confirmationMessage": "str|null",
    "confirmation": "bool|null",
    "contactId": "int",
    "campaignId": "int",
    "confirmationRequestedAt": "date|null",
    "confirmedAt": "date|null",
    "deliveredAt": "date|null",
    "createdAt": "date",
    "updatedAt": "date",
}
WHATSAPP_ROW = {  # backend/src/models/Whatsapp.ts:28-156 ("session" left out when session=0)
    "id": "int",
    "name": "str",
    "session": "str (only without ?session=0)",
    "qrcode": "str|null",
    "status": "str",  # OPENING qrcode CONNECTED DISCONNECTED TIMEOUT PAIRING PENDING
    "battery": "str|null",
    "plugged": "bool|null",
    "retries": "int",
    "greetingMessage": "str",
    "farewellMessage": "str",
    "complationMessage": "str",
    "outOfHoursMessage": "str",
    "ratingMessage": "str",
    "provider": "str",
    "isDefault": "bool",
    "createdAt": "date",
    "updatedAt": "date",
    "companyId": "int",
    "token": "str|null",
    "transferQueueId": "int|null",
    "timeToTransfer": "int|null",
    "promptId": "int|null",
    "integrationId": "int|null",
    "maxUseBotQueues": "int|null",
    "timeUseBotQueues": "str|null",
    "expiresTicket": "int|null",
    "number": "str|null",
    "expiresInactiveMessage": "str|null",
    "type": "str|null",  # null for WhatsApp; "Instagram"/"Facebook" for hub channels
    "wavoip": "str|null",
}
QUEUE_BRIEF = {"id": "int", "name": "str", "color": "str", "greetingMessage": "str"}
SETTING_ROW = {  # backend/src/models/Setting.ts:18-40
    "id": "int",
    "key": "str",
    "value": "str",
    "companyId": "int",
    "createdAt": "date",
    "updatedAt": "date",
}
# backend/src/models/Company.ts:28-139 (every column: the login's include names no attributes)
COMPANY_ROW = {
    "id": "int",
    "name": "str",
    "phone": "str",
    "email": "str",
    "status": "bool",
    # timestamptz: backend/src/database/migrations/20220406000000-add-column-dueDate-to-Companies.ts
    "dueDate": "date|null",
    "recurrence": "str",
    "schedules": "array",
    "planId": "int",
    "createdAt": "date",
    "updatedAt": "date",
}
PLAN_FLAGS = (
    "useCampaigns",
    "useSchedules",
    "useInternalChat",
    "useExternalApi",
    "useKanban",
    "useOpenAi",
    "useIntegrations",
    "useInternal",
)
FILES_ROW = {  # backend/src/models/Files.ts:18-42
    "id": "int",
    "companyId": "int",
    "name": "str",
    "message": "str",
    "createdAt": "date",
    "updatedAt": "date",
}
FILES_OPTION_ROW = {  # backend/src/models/FilesOptions.ts:17-47
    "id": "int",
    "fileId": "int",
    "name": "str",
    "path": "str|null",
    "mediaType": "str|null",
    "message": "str|null",
    "createdAt": "date",
    "updatedAt": "date",
}
CONTACT_ROW = {  # backend/src/models/Contact.ts:26-104
    "id": "int",
    "name": "str",
    "number": "str|null",
    "email": "str",
    "profilePicUrl": "str",
    "isGroup": "bool",
    "active": "bool",
    "companyId": "int",
    "disableBot": "bool",
    "whatsappId": "int|null",
    "messengerId": "str|null",
    "instagramId": "str|null",
    "groupId": "int|null",
    "createdAt": "date",
    "updatedAt": "date",
}

#: The user the login answers: SerializeUser (backend/src/helpers/SerializeUser.ts:18-30) of
#: User + queues + company + company.settings (services/UserServices/AuthUserService.ts:36-39).
LOGIN_USER = {
    "id": "int",
    "name": "str",
    "email": "str",
    "profile": "str",  # "admin" | "user"
    "companyId": "int",
    "company": {**COMPANY_ROW, "settings": [SETTING_ROW]},
    "super": "bool",
    "queues": [{"id": "int", "name": "str", "color": "str", "UserQueue": "object", "...": "..."}],
    "allTicket": "str",
}
#: The user the refresh answers: ShowUserService (services/UserServices/ShowUserService.ts:6-30).
REFRESH_USER = {
    "id": "int",
    "name": "str",
    "email": "str",
    "companyId": "int",
    "profile": "str",
    "super": "bool",
    "tokenVersion": "int",
    "whatsappId": "int|null",
    "allTicket": "str",
    "queues": [{"id": "int", "name": "str", "color": "str", "UserQueue": "object"}],
    "company": {"id": "int", "name": "str", "dueDate": "date|null"},
}
#: What the logged-in layout and the campaign pages read of the user (login or refresh).
USER_READS = (
    "id",  # layout/index.js:397, MainListItems.js:284, useAuth.js/index.js:84
    "name",  # layout/index.js:371-375
    "profile",  # rules.js:1-20 through components/Can; MainListItems.js:343,428,459
    "super",  # MainListItems.js:562,594
    "companyId",  # MainListItems.js:241, CampaignModal/index.js:93, Files/index.js:137
    "company.name",  # layout/index.js:371-375
    "company.dueDate",  # layout/index.js:369-371 (admins: "Ativo até ...")
    "queues[].id",  # components/TicketsManagerTabs/index.js:232 (the /tickets landing page)
    "allTicket",  # components/NotificationsPopOver/index.js:73
)

CAMPAIGN_LIST_ITEM = {
    **CAMPAIGN_ROW,
    "contactList": {**CONTACT_LIST_ROW, "when": "contactListId set, else null"},
    "whatsapp": {"id": "int", "name": "str", "when": "whatsappId set, else null"},
}
CAMPAIGN_SHOW = {
    **CAMPAIGN_ROW,
    "shipping": [CAMPAIGN_SHIPPING_ROW],  # every row of the campaign, unbounded
    "contactList": {**CONTACT_LIST_ROW, "contacts": [CONTACT_LIST_ITEM_ROW], "when": "or null"},
    "whatsapp": {"id": "int", "name": "str", "when": "or null"},
}
CAMPAIGN_BODY = {
    "name": "str",
    **{f"message{i}": "str|null" for i in range(1, 6)},
    **{f"confirmationMessage{i}": "str|null" for i in range(1, 6)},
    "status": "str",  # "INATIVA" on create; the stored status on edit
    "confirmation": "bool",
    "scheduledAt": "str|null",  # "YYYY-MM-DD HH:mm:ss", the browser's local time, no offset
    "whatsappId": "int|null",
    "contactListId": "int|null",
    "tagListId": "str|int|null",  # "Nenhuma" unless a tag is picked (tags come from /tags)
    "companyId": "int",
    "fileListId": "int|null (only once the picker was touched)",
}
PAGE = {"count": "int", "hasMore": "bool"}


CALLS: tuple[Call, ...] = (
    # --- login, session, the layout every logged-in page mounts ---------------------------------
    Call(
        name="auth.login",
        caller="frontend/src/hooks/useAuth.js/index.js:100",
        page="/login (pages/Login/index.js:157-165)",
        method="POST",
        path="/auth/login",
        scope="shell",
        body={"email": "str", "password": "str", "recaptchaToken": "str"},
        body_kind="json",
        reads=(
            "token",
            "user.id",
            "user.companyId",
            "user.company.dueDate",
            "user.company.settings[].key",
            "user.company.settings[].value",
            *(f"user.{p}" for p in USER_READS),
        ),
        crashes=(
            "user.company.dueDate null, absent or past: login refused client-side with "
            "'Opss! Sua assinatura venceu' (useAuth.js/index.js:114-142); nothing is stored",
            "user.company absent: TypeError at useAuth.js/index.js:115, caught, toast 'An error "
            "occurred!'",
            "user.queues absent: the /tickets landing page (history.push at :136) throws at "
            "components/TicketsManagerTabs/index.js:232 (user.queues.map): blank page",
        ),
        original_shape={"token": "str (JWT, 15 min)", "user": LOGIN_USER},
        original_source=(
            "backend/src/controllers/SessionController.ts:12-97",
            "backend/src/services/UserServices/AuthUserService.ts:33-59",
            "backend/src/helpers/SerializeUser.ts:18-30",
            "backend/src/helpers/SendRefreshToken.ts:3-5 (Set-Cookie jrt: httpOnly, no Max-Age "
            "or SameSite; the JWT in it lasts 7 days)",
            "backend/src/helpers/CreateTokens.ts:5-36 (access {usarname, profile, id, "
            "companyId}; refresh {id, tokenVersion, companyId})",
        ),
        notes="Stores token (JSON-encoded), companyId, userId, companyDueDate in localStorage "
        "(:125-128) and 'cshow' when company.settings has campaignsEnabled == 'true' (:105-112). "
        "The original also emits company-{companyId}-auth to room user-{id}, which logs out the "
        "user's other sessions (layout/index.js:238-246). reCAPTCHA: recaptchaToken is required "
        "by the page (Login/index.js:159-162) and checked with Google by the original "
        "(SessionController.ts:16-59).",
        covered=True,
    ),
    Call(
        name="auth.refresh_token",
        caller="frontend/src/hooks/useAuth.js/index.js:65 (on load); :41 (on every 403, once)",
        page="every page (app load)",
        method="POST",
        path="/auth/refresh_token",
        scope="shell",
        reads=("token", *(f"user.{p}" for p in USER_READS)),
        crashes=(
            "on load (:65-71) user replaces the login's: the same user fields are read",
            "on a 403 (:38-46) only token is read; it goes to localStorage and the request is "
            "retried once. A failed refresh rejects with the refresh's own error",
        ),
        original_shape={"token": "str", "user": REFRESH_USER},
        original_source=(
            "backend/src/controllers/SessionController.ts:100-118 (reads cookie jrt)",
            "backend/src/services/AuthServices/RefreshTokenService.ts:23-48",
            "backend/src/services/UserServices/ShowUserService.ts:6-30",
        ),
        notes="Credentials: the httpOnly cookie jrt (withCredentials, services/api.js:3-6), no "
        "body, Authorization carries the stored (maybe expired) token. No cookie: 401 "
        "ERR_SESSION_EXPIRED; bad or old-version cookie: clearCookie + 401 ERR_SESSION_EXPIRED. "
        "A 401 anywhere removes token and companyId and logs out (useAuth.js/index.js:48-53). "
        "The on-load refresh does NOT write the new token to localStorage (:66): requests keep "
        "using the stored one until it expires and a 403 refreshes it.",
        covered=True,
    ),
    Call(
        name="auth.me",
        caller="frontend/src/hooks/useAuth.js/index.js:173",
        page="/settings only (pages/SettingsCustom/index.js:110; not the campaign journey)",
        method="GET",
        path="/auth/me",
        scope="shell",
        reads=("id", "profile", "super"),
        original_shape={"id": "int", "profile": "str", "super": "bool"},
        original_source=("backend/src/controllers/SessionController.ts:120-130 (from jrt)",),
        covered=True,
    ),
    Call(
        name="auth.logout",
        caller="frontend/src/hooks/useAuth.js/index.js:155",
        page="every page (menu 'Sair', layout/MainListItems.js:620-632)",
        method="DELETE",
        path="/auth/logout",
        scope="shell",
        reads=(),
        original_shape="empty body",
        original_source=("backend/src/controllers/SessionController.ts:132-143 (clears jrt)",),
        notes="A failed logout keeps the user logged in (toastError, :165-168).",
        covered=True,
    ),
    Call(
        name="companies.listPlan",
        caller="frontend/src/layout/MainListItems.js:242 (hooks/usePlans/index.js:57-64)",
        page="every page (the menu)",
        method="GET",
        path="/companies/listPlan/{companyId}",
        scope="shell",
        reads=tuple(f"plan.{f}" for f in PLAN_FLAGS if f != "useInternal"),
        crashes=(
            "plan absent or the call fails: unhandled rejection at MainListItems.js:244; the "
            "Campaign menu then depends on localStorage 'cshow' alone (:297-301)",
        ),
        on_error="unhandled rejection (no toast)",
        original_shape={
            "id": "int",
            "name": "str",
            "email": "str",
            "status": "bool",
            "dueDate": "date|null",
            "createdAt": "date",
            "phone": "str",
            "plan": {
                "id": "int",
                "name": "str",
                "users": "int",
                "connections": "int",
                "queues": "int",
                "value": "number",
                **dict.fromkeys(PLAN_FLAGS, "bool"),
            },
        },
        original_source=(
            "backend/src/controllers/CompanyController.ts:177-196 (another company: 400, "
            "unless super)",
            "backend/src/services/CompanyService/ShowPlanCompanyService.ts:4-33",
        ),
        covered=True,
    ),
    Call(
        name="version",
        caller="frontend/src/layout/MainListItems.js:228 (hooks/useVersion/index.js:5-11)",
        page="every page (the menu)",
        method="GET",
        path="/version",
        scope="shell",
        reads=("version",),
        on_error="unhandled rejection (no toast); the menu shows a fixed 'Versão: 11.0'",
        original_shape={"version": "str"},
        original_source=("backend/src/controllers/VersionController.ts:3-7 (no auth)",),
        covered=True,
    ),
    Call(
        name="settings.system_title",
        caller="frontend/src/App.js:34",
        page="every page, the login page included",
        method="GET",
        path="/settings/system_title",
        scope="shell",
        reads=("value",),
        on_error="toastError: a toast on every app load",
        original_shape={**SETTING_ROW, "or": "{key, value, companyId} default"},
        original_source=("backend/src/controllers/SettingController.ts:73-88 (no auth)",),
        covered=True,
    ),
    Call(
        name="settings.viewregister",
        caller="frontend/src/pages/Login/index.js:148",
        page="/login",
        method="GET",
        path="/settings/viewregister",
        scope="shell",
        reads=("value",),
        on_error="console only",
        original_shape=SETTING_ROW,
        original_source=("backend/src/controllers/SettingController.ts:73-88",),
        covered=True,
    ),
    Call(
        name="whatsapp.provider_list",
        caller="frontend/src/hooks/useWhatsApps/index.js:66",
        page="every page (WhatsAppsProvider, routes/index.js:70)",
        method="GET",
        path="/whatsapp/",
        scope="shell",
        query=("session",),  # the literal query string "?session=0"
        reads=(
            "[].id",
            "[].name",
            "[].status",
            "[].number",
            "[].updatedAt",
            "[].isDefault",
            "[].type",
            "[].qrcode",
            "[].retries",
        ),
        crashes=(
            "not an array: [...whatsApps] throws in the reducer (useWhatsApps/index.js:8-12): "
            "every logged-in page goes blank",
            "updatedAt missing or not ISO: format(parseISO(...)) throws at "
            "pages/Connections/index.js:484: /connections goes blank",
            "type absent (undefined !== null): the edit button is disabled "
            "(pages/Connections/index.js:501-503); only type null is WhatsApp",
        ),
        original_shape=[{**WHATSAPP_ROW, "queues": [QUEUE_BRIEF]}],
        original_source=(
            "backend/src/controllers/WhatsAppController.ts:39-45",
            "backend/src/services/WhatsappService/ListWhatsAppsService.ts:10-33",
        ),
        notes="Status values the pages know: CONNECTED, qrcode, DISCONNECTED, OPENING, TIMEOUT, "
        "PAIRING (Connections/index.js:259-357; MainListItems.js:306-313 warns on qrcode, "
        "PAIRING, DISCONNECTED, TIMEOUT, OPENING).",
        covered=True,
    ),
    Call(
        name="layout.chats",
        caller="frontend/src/layout/MainListItems.js:327; pages/Chat/ChatPopover.js:185",
        page="every page (out of scope: internal chat)",
        method="GET",
        path="/chats/",
        scope="out",
        query=("searchParam", "pageNumber"),
        reads=("records", "hasMore", "records[].users[].userId", "records[].users[].unreads"),
        on_error="toastError: a toast on every page",
        original_shape={"records": "[chat]", **PAGE},
        original_source=("backend/src/controllers/ChatController.ts",),
        notes="records is guarded by isArray (MainListItems.js:147, ChatPopover.js:47).",
    ),
    Call(
        name="layout.announcements",
        caller="frontend/src/components/AnnouncementsPopover/index.js:191",
        page="every page (out of scope)",
        method="GET",
        path="/announcements/",
        scope="out",
        query=("searchParam", "pageNumber"),
        reads=("records", "hasMore"),
        on_error="toastError: a toast on every page",
        original_shape={"records": "[announcement]", **PAGE},
        original_source=("backend/src/controllers/AnnouncementController.ts",),
        notes="records is guarded by isArray (AnnouncementsPopover/index.js:95).",
    ),
    Call(
        name="layout.tickets",
        caller="frontend/src/hooks/useTickets/index.js:27 (NotificationsPopOver/index.js:60)",
        page="every page (out of scope: tickets)",
        method="GET",
        path="/tickets",
        scope="out",
        query=("withUnreadMessages",),
        reads=("tickets", "hasMore"),
        crashes=(
            "a 2xx without tickets[]: tickets.filter throws in an effect "
            "(NotificationsPopOver/index.js:99): every page blank. A 404 is only a toast",
        ),
        original_shape={"tickets": "[ticket]", "count": "int", "hasMore": "bool"},
        original_source=("backend/src/controllers/TicketController.ts",),
    ),
    # --- campaigns --------------------------------------------------------------------------------
    Call(
        name="campaigns.list",
        caller="frontend/src/pages/Campaigns/index.js:149",
        page="/campaigns",
        method="GET",
        path="/campaigns/",
        query=("searchParam", "pageNumber"),
        reads=(
            "records[].id",
            "records[].name",
            "records[].status",
            "records[].contactListId",
            "records[].contactList.name when contactListId",
            "records[].whatsappId",
            "records[].whatsapp.name when whatsappId",
            "records[].scheduledAt",
            "records[].completedAt",
            "hasMore",
        ),
        crashes=(
            "contactListId set and contactList absent, or whatsappId set and whatsapp absent: "
            "TypeError in render (Campaigns/index.js:349-356): blank page",
            "records not an array: the list stays empty (isArray guard, :47)",
        ),
        original_shape={"records": [CAMPAIGN_LIST_ITEM], **PAGE},
        original_source=(
            "backend/src/controllers/CampaignController.ts:47-58",
            "backend/src/services/CampaignService/ListService.ts:19-64 (20 a page, name ASC, "
            "LOWER(name) LIKE %term%, include ContactList (all columns) and Whatsapp [id, name])",
        ),
        notes="searchParam is sent lower-cased (:171). Status labels: INATIVA, PROGRAMADA, "
        "EM_ANDAMENTO, CANCELADA, FINALIZADA, PARCIALMENTE_CONCLUÍDA (:203-220); any other "
        "(zapx's PAUSADA) is shown as it is. Cancel shows only for EM_ANDAMENTO, restart only "
        "for CANCELADA (:372-389). The page never refetches after a create or an edit: the "
        "socket event company-{id}-campaign adds or replaces the row.",
    ),
    Call(
        name="campaigns.show_for_edit",
        caller="frontend/src/components/CampaignModal/index.js:179",
        page="/campaigns (edit dialog)",
        method="GET",
        path="/campaigns/{id}",
        reads=(
            "*: every key is copied into the form (null becomes '')",
            "id",
            "name",
            "status",
            "confirmation",
            "scheduledAt",
            "contactListId",
            "whatsappId",
            "fileListId",
            *(f"message{i}" for i in range(1, 6)),
            *(f"confirmationMessage{i}" for i in range(1, 6)),
            "mediaPath",
            "mediaName",
        ),
        on_error="unhandled rejection (no catch)",
        original_shape=CAMPAIGN_SHOW,
        original_source=(
            "backend/src/controllers/CampaignController.ts:157-163",
            "backend/src/services/CampaignService/ShowService.ts:8-22",
        ),
        notes="Editable when INATIVA, or PROGRAMADA more than an hour ahead (:197-207); the save "
        "button also shows for CANCELADA (:743).",
    ),
    Call(
        name="campaigns.create",
        caller="frontend/src/components/CampaignModal/index.js:242",
        page="/campaigns (new campaign dialog)",
        method="POST",
        path="/campaigns",
        body=CAMPAIGN_BODY,
        body_kind="json",
        reads=("id",),
        original_shape=CAMPAIGN_LIST_ITEM,
        original_source=(
            "backend/src/controllers/CampaignController.ts:60-155 (Yup name required; a numeric "
            "tagListId builds a list from the tag's tickets)",
            "backend/src/services/CampaignService/CreateService.ts:27-56 (name min 3 "
            "ERR_CAMPAIGN_INVALID_NAME; scheduledAt set -> PROGRAMADA)",
        ),
        notes="Body built at CampaignModal/index.js:221-230: every form value, '' -> null, "
        "scheduledAt formatted 'YYYY-MM-DD HH:mm:ss' in the browser's local time. Empty "
        "message2..5 and confirmationMessage1..5 are null. Then media-upload when a file was "
        "attached (:244-248).",
    ),
    Call(
        name="campaigns.update",
        caller="frontend/src/components/CampaignModal/index.js:233",
        page="/campaigns (edit dialog)",
        method="PUT",
        path="/campaigns/{id}",
        body={
            **CAMPAIGN_BODY,
            "*": "echo of campaigns.show_for_edit: id, companyId, createdAt, updatedAt, "
            "successRate, completedAt, mediaPath, mediaName, contactList{...}, whatsapp{...}, "
            "shipping[...] too ('' -> null)",
        },
        body_kind="json",
        reads=(),
        original_shape=CAMPAIGN_LIST_ITEM,
        original_source=(
            "backend/src/controllers/CampaignController.ts:165-196",
            "backend/src/services/CampaignService/UpdateService.ts:25-59 (:36-40 status must be "
            "INATIVA, PROGRAMADA or CANCELADA: 400 'Só é permitido alterar campanha Inativa e "
            "Programada')",
        ),
        notes="The status sent is the stored one, so editing a CANCELADA campaign sends "
        "status CANCELADA.",
    ),
    Call(
        name="campaigns.media_upload",
        caller="frontend/src/components/CampaignModal/index.js:238 and :247",
        page="/campaigns (dialog)",
        method="POST",
        path="/campaigns/{id}/media-upload",
        body={"file": "file"},
        body_kind="multipart",
        reads=(),
        original_shape={"mensagem": "str"},
        original_source=(
            "backend/src/routes/campaignRoutes.ts:28-33 (multer upload.array('file'))",
            "backend/src/controllers/CampaignController.ts:248-265",
        ),
    ),
    Call(
        name="campaigns.media_delete",
        caller="frontend/src/components/CampaignModal/index.js:268",
        page="/campaigns (dialog)",
        method="DELETE",
        path="/campaigns/{id}/media-upload",
        reads=(),
        on_error="unhandled rejection (no catch)",
        original_shape={"mensagem": "str"},
        original_source=("backend/src/controllers/CampaignController.ts:267-289",),
    ),
    Call(
        name="campaigns.cancel",
        caller="frontend/src/pages/Campaigns/index.js:224; components/CampaignModal/index.js:311",
        page="/campaigns",
        method="POST",
        path="/campaigns/{id}/cancel",
        reads=(),
        on_error="toast.error(err.message): axios' own text, not the body",
        original_status=204,
        original_shape="empty (204)",
        original_source=(
            "backend/src/controllers/CampaignController.ts:198-207",
            "backend/src/services/CampaignService/CancelService.ts:6-30 (no status check)",
        ),
        notes="The list refetches page 1 after it (:226-227), merged into the rows it has.",
    ),
    Call(
        name="campaigns.restart",
        caller="frontend/src/pages/Campaigns/index.js:235; components/CampaignModal/index.js:322",
        page="/campaigns",
        method="POST",
        path="/campaigns/{id}/restart",
        reads=(),
        on_error="toast.error(err.message)",
        original_status=204,
        original_shape="empty (204)",
        original_source=(
            "backend/src/controllers/CampaignController.ts:209-218",
            "backend/src/services/CampaignService/RestartService.ts:4-12 (no status check)",
        ),
    ),
    Call(
        name="campaigns.delete",
        caller="frontend/src/pages/Campaigns/index.js:181",
        page="/campaigns",
        method="DELETE",
        path="/campaigns/{id}",
        reads=(),
        original_shape={"message": "str"},
        original_source=(
            "backend/src/controllers/CampaignController.ts:220-236",
            "backend/src/services/CampaignService/DeleteService.ts:4-18 (EM_ANDAMENTO: 400 'Não "
            "é permitido excluir campanha em andamento'; missing: 404 ERR_NO_CAMPAIGN_FOUND)",
        ),
        notes="No refetch when search and page are already '' and 1 (:186-188): the row goes "
        "away through the socket delete event.",
    ),
    Call(
        name="campaigns.report",
        caller="frontend/src/pages/CampaignReport/index.js:125",
        page="/campaign/{id}/report",
        method="GET",
        path="/campaigns/{id}",
        reads=(
            "name",
            "status",
            "successRate",
            "confirmation",
            "whatsappId",
            "whatsapp.name when whatsappId",
            "contactListId",
            "contactList.name when contactListId",
            "contactList.contacts[].isWhatsappValid when shipping and contactList keys exist",
            "shipping[].deliveredAt",
            "shipping[].confirmationRequestedAt",
            "scheduledAt",
            "completedAt",
        ),
        crashes=(
            "shipping and contactList present but contactList.contacts absent: TypeError in an "
            "effect (CampaignReport/index.js:75): blank page",
            "whatsappId set without whatsapp, contactListId set without contactList: TypeError "
            "in render (:211, :221): blank page",
            "deliveredAt or confirmationRequestedAt absent (not null): lodash isNull(undefined) "
            "is false, so the row counts as delivered / asked (:81-87)",
        ),
        on_error="unhandled rejection (no catch); the page stays loading",
        original_shape=CAMPAIGN_SHOW,
        original_source=(
            "backend/src/controllers/CampaignController.ts:157-163",
            "backend/src/services/CampaignService/ShowService.ts:8-22 (include CampaignShipping, "
            "ContactList + ContactListItem, Whatsapp [id, name]; every row, unbounded)",
        ),
        notes="Counters (:71-98): valid = contactList.contacts with isWhatsappValid truthy; "
        "delivered = shipping with deliveredAt not null; asked = confirmationRequestedAt not "
        "null; confirmed = both not null; progress bar = delivered / valid * 100. successRate: a "
        "number is shown with toFixed(2), a string as it is (:160). The page never calls "
        "/campaigns/{id}/report.",
    ),
    Call(
        name="campaign_settings.get",
        caller="frontend/src/pages/CampaignsConfig/index.js:65",
        page="/campaigns-config",
        method="GET",
        path="/campaign-settings",
        reads=("[].key", "[].value (JSON.parse'd)"),
        crashes=(
            "not an array, or empty: the page keeps its defaults {messageInterval: 20, "
            "longerIntervalAfter: 20, greaterInterval: 60, variables: []} (:48-53, :67)",
            "an array without a 'variables' entry: settings.variables.length throws in render "
            "(:283): blank page",
            "a value that is not valid JSON text: JSON.parse throws in the promise (unhandled), "
            "defaults shown",
        ),
        on_error="unhandled rejection (no catch)",
        original_shape=[
            {
                "id": "int",
                "key": "str",
                "value": "str (JSON text)",
                "companyId": "int",
                "createdAt": "date",
                "updatedAt": "date",
            }
        ],
        original_source=(
            "backend/src/controllers/CampaignSettingController.ts:11-19",
            "backend/src/services/CampaignSettingServices/ListService.ts:21-35",
        ),
        notes="Keys the page uses: messageInterval, longerIntervalAfter, greaterInterval "
        "(seconds, Select values :147-224) and variables ([{key, value}], shown as {key}). Every "
        "key of the array lands in the settings object and is posted back on save.",
    ),
    Call(
        name="campaign_settings.save",
        caller="frontend/src/pages/CampaignsConfig/index.js:111",
        page="/campaigns-config",
        method="POST",
        path="/campaign-settings",
        body={
            "settings": "object",
            "settings.messageInterval": "int (0, 5, 10, 15, 20)",
            "settings.longerIntervalAfter": "int (0, 1, 5 ... 120)",
            "settings.greaterInterval": "int (0, 1, 5 ... 120)",
            "settings.variables": "array of {key: str, value: str} (key: any text the user typed)",
            "settings.*": "any other key the GET returned, as the GET's value parsed",
        },
        body_kind="json",
        reads=(),
        on_error="unhandled rejection: no toast at all; success toast 'Configurações salvas'",
        original_shape=[{"id": "int", "key": "str", "value": "str|number", "companyId": "int"}],
        original_source=(
            "backend/src/controllers/CampaignSettingController.ts:21-34",
            "backend/src/services/CampaignSettingServices/CreateService.ts:8-34 (arrays and "
            "objects JSON.stringify'd, others stored as given: 20 -> '20')",
        ),
    ),
    # --- the campaign form's pickers ----------------------------------------------------------
    Call(
        name="files.list_for_campaign",
        caller="frontend/src/components/CampaignModal/index.js:136",
        page="/campaigns (mounted with the page; rendered when the dialog opens)",
        method="GET",
        path="/files/",
        query=("companyId",),
        reads=("files[].id", "files[].name"),
        crashes=(
            "the call fails, or files is absent: file stays null and file.map throws when the "
            "dialog renders (CampaignModal/index.js:94, :140, :557): blank page on 'Adicionar'",
        ),
        original_shape={"files": [FILES_ROW], **PAGE},
        original_source=(
            "backend/src/controllers/FilesController.ts:21-32",
            "backend/src/services/FileServices/ListService.ts:14-43 (20 a page, name ASC; "
            "companyId query ignored, the token's company is used)",
        ),
        notes="Only the first page (20 files) ever reaches the picker.",
    ),
    Call(
        name="contact_lists.picker",
        caller="frontend/src/components/CampaignModal/index.js:156",
        page="/campaigns (dialog)",
        method="GET",
        path="/contact-lists/list",
        query=("companyId",),
        reads=("[].id", "[].name"),
        crashes=("not an array: contactLists.map throws when the dialog renders (:449-457)",),
        on_error="unhandled rejection (no catch)",
        original_shape=[{**CONTACT_LIST_ROW, "company": {"id": "int", "name": "str"}}],
        original_source=(
            "backend/src/controllers/ContactListController.ts:133-141",
            "backend/src/services/ContactListService/FindService.ts:8-18 (companyId from the "
            "query string, not the token)",
        ),
        covered=True,
    ),
    Call(
        name="whatsapp.picker",
        caller="frontend/src/components/CampaignModal/index.js:160",
        page="/campaigns (dialog)",
        method="GET",
        path="/whatsapp",
        query=("companyId", "session"),
        reads=("[].id", "[].name"),
        crashes=("not an array: whatsapps.map throws when the dialog renders (:512-517)",),
        on_error="unhandled rejection (no catch)",
        original_shape=[{**WHATSAPP_ROW, "queues": [QUEUE_BRIEF]}],
        original_source=("backend/src/controllers/WhatsAppController.ts:39-45",),
        covered=True,
    ),
    Call(
        name="tags.picker",
        caller="frontend/src/components/CampaignModal/index.js:163",
        page="/campaigns (dialog; out of scope: tags)",
        method="GET",
        path="/tags",
        scope="out",
        query=("companyId",),
        reads=("tags[].id", "tags[].name"),
        on_error="console.error only (caught at :173-175)",
        original_shape={"tags": "[tag]", **PAGE},
        original_source=("backend/src/controllers/TagController.ts",),
    ),
    # --- contact lists --------------------------------------------------------------------------
    Call(
        name="contact_lists.list",
        caller="frontend/src/pages/ContactLists/index.js:118",
        page="/contact-lists",
        method="GET",
        path="/contact-lists/",
        query=("searchParam", "pageNumber"),
        reads=("records[].id", "records[].name", "records[].contactsCount", "hasMore"),
        crashes=(
            "records not an array: contactLists.forEach throws in the reducer "
            "(ContactLists/index.js:44): blank page",
        ),
        original_shape={
            "records": [{"id": "int", "name": "str", "contactsCount": "bigint"}],
            "count": "[{count}] (Sequelize with group: an array, not a number)",
            "hasMore": "bool",
        },
        original_source=(
            "backend/src/controllers/ContactListController.ts:33-44",
            "backend/src/services/ContactListService/ListService.ts:18-74 (20 a page, name ASC, "
            "attributes id, name, count(contacts.id) AS contactsCount, GROUP BY id)",
        ),
        notes="Shown as contactsCount || 0. Rows are added and renamed only through the socket "
        "event company-{id}-ContactList (the dialog does not refetch).",
        covered=True,
    ),
    Call(
        name="contact_lists.show",
        caller="frontend/src/components/ContactListDialog/index.js:72; "
        "pages/ContactListItems/index.js:126 (hooks/useContactLists/index.js:30-36)",
        page="/contact-lists (edit dialog); /contact-lists/{id}/contacts (title)",
        method="GET",
        path="/contact-lists/{id}",
        reads=("name", "*: the dialog keeps every key and PUTs it back"),
        on_error="dialog: toastError; items page: unhandled rejection",
        original_shape=CONTACT_LIST_ROW,
        original_source=(
            "backend/src/controllers/ContactListController.ts:74-80",
            "backend/src/services/ContactListService/ShowService.ts:4-12 (404 "
            "ERR_NO_TICKETNOTE_FOUND; no company check)",
        ),
        covered=True,
    ),
    Call(
        name="contact_lists.create",
        caller="frontend/src/components/ContactListDialog/index.js:95",
        page="/contact-lists (dialog)",
        method="POST",
        path="/contact-lists",
        body={"name": "str"},
        body_kind="json",
        reads=(),
        original_shape=CONTACT_LIST_ROW,
        original_source=(
            "backend/src/controllers/ContactListController.ts:46-72",
            "backend/src/services/ContactListService/CreateService.ts:9-26 (min 3 "
            "ERR_CONTACTLIST_INVALID_NAME)",
        ),
        covered=True,
    ),
    Call(
        name="contact_lists.update",
        caller="frontend/src/components/ContactListDialog/index.js:93",
        page="/contact-lists (dialog)",
        method="PUT",
        path="/contact-lists/{id}",
        body={"name": "str", "*": "echo of contact_lists.show (id, companyId, createdAt, ...)"},
        body_kind="json",
        reads=(),
        original_shape=CONTACT_LIST_ROW,
        original_source=(
            "backend/src/controllers/ContactListController.ts:82-113",
            "backend/src/services/ContactListService/UpdateService.ts:9-23",
        ),
        covered=True,
    ),
    Call(
        name="contact_lists.delete",
        caller="frontend/src/pages/ContactLists/index.js:173",
        page="/contact-lists",
        method="DELETE",
        path="/contact-lists/{id}",
        reads=(),
        original_shape={"message": "str"},
        original_source=("backend/src/controllers/ContactListController.ts:115-131",),
        notes="The row goes away through the socket delete event only.",
        covered=True,
    ),
    Call(
        name="contact_lists.upload",
        caller="frontend/src/pages/ContactListItems/index.js:224-228",
        page="/contact-lists/{id}/contacts (Importar)",
        method="POST",
        path="contact-lists/{id}/upload",
        body={"file": "file (.xls or .xlsx, input accept at :356)"},
        body_kind="multipart",
        reads=(),
        original_shape=[CONTACT_LIST_ITEM_ROW],
        original_source=(
            "backend/src/routes/contactListRoutes.ts:20-25 (multer upload.array('file'))",
            "backend/src/controllers/ContactListController.ts:143-159",
            "backend/src/services/ContactListService/ImportContacts.ts:9-108 (first sheet; "
            "columns nome/Nome, numero/número/Numero/Número (digits kept), email/e-mail/Email/"
            "E-mail, grupo/Grupo/group/Group; findOrCreate by number; answers the created items)",
        ),
        notes="No toast and no refetch: the items appear through the socket event "
        "company-{id}-ContactListItem-{listId} {action: 'reload', records}. The sample sheet "
        "(frontend/src/assets/planilha.xlsx, linked at ContactLists/index.js:285 and "
        "ContactListItems/index.js:279) has the header row nome | numero | e-mail and numbers as "
        "numeric cells (5585888889999).",
        covered=True,
    ),
    # --- contact list items ---------------------------------------------------------------------
    Call(
        name="contact_list_items.list",
        caller="frontend/src/pages/ContactListItems/index.js:142",
        page="/contact-lists/{id}/contacts",
        method="GET",
        path="contact-list-items",
        query=("searchParam", "pageNumber", "contactListId"),
        reads=(
            "contacts[].id",
            "contacts[].name",
            "contacts[].number",
            "contacts[].email",
            "contacts[].isWhatsappValid",
            "hasMore",
        ),
        crashes=(
            "contacts not an array (zapx's {records}): contacts.forEach throws in the reducer "
            "(ContactListItems/index.js:53): blank page",
        ),
        original_shape={"contacts": [CONTACT_LIST_ITEM_ROW], **PAGE},
        original_source=(
            "backend/src/controllers/ContactListItemController.ts:36-48",
            "backend/src/services/ContactListItemService/ListService.ts:17-55 (20 a page, name "
            "ASC, LOWER(name) LIKE or number LIKE %term%)",
        ),
        covered=True,
    ),
    Call(
        name="contact_list_items.show",
        caller="frontend/src/components/ContactListItemModal/index.js:104",
        page="/contact-lists/{id}/contacts (edit dialog)",
        method="GET",
        path="/contact-list-items/{id}",
        reads=("name", "number", "email", "*: kept and PUT back"),
        original_shape=CONTACT_LIST_ITEM_ROW,
        original_source=(
            "backend/src/controllers/ContactListItemController.ts:78-84",
            "backend/src/services/ContactListItemService/ShowService.ts:4-12",
        ),
        covered=True,
    ),
    Call(
        name="contact_list_items.create",
        caller="frontend/src/components/ContactListItemModal/index.js:131",
        page="/contact-lists/{id}/contacts (dialog)",
        method="POST",
        path="/contact-list-items",
        body={
            "name": "str",
            "number": "str (may be '')",
            "email": "str (may be '')",
            "companyId": "int",
            "contactListId": "str (the route parameter, e.g. '3')",
        },
        body_kind="json",
        reads=(),
        original_shape=CONTACT_LIST_ITEM_ROW,
        original_source=(
            "backend/src/controllers/ContactListItemController.ts:50-76",
            "backend/src/services/ContactListItemService/CreateService.ts:14-49 (findOrCreate "
            "by number+list; isWhatsappValid from the WhatsApp check)",
        ),
        notes="No refetch: the row appears through company-{id}-ContactListItem.",
        covered=True,
    ),
    Call(
        name="contact_list_items.update",
        caller="frontend/src/components/ContactListItemModal/index.js:124",
        page="/contact-lists/{id}/contacts (dialog)",
        method="PUT",
        path="/contact-list-items/{id}",
        body={
            "name": "str",
            "number": "str",
            "email": "str",
            "companyId": "int",
            "contactListId": "str (the route parameter)",
            "*": "echo of contact_list_items.show",
        },
        body_kind="json",
        reads=(),
        original_shape=CONTACT_LIST_ITEM_ROW,
        original_source=(
            "backend/src/controllers/ContactListItemController.ts:86-117",
            "backend/src/services/ContactListItemService/UpdateService.ts:13-39",
        ),
        covered=True,
    ),
    Call(
        name="contact_list_items.delete",
        caller="frontend/src/pages/ContactListItems/index.js:210",
        page="/contact-lists/{id}/contacts",
        method="DELETE",
        path="/contact-list-items/{id}",
        reads=(),
        original_shape={"message": "str"},
        original_source=("backend/src/controllers/ContactListItemController.ts:119-135",),
        notes="The delete button needs profile admin (Can contacts-page:deleteContact, :410-424).",
        covered=True,
    ),
    # --- contacts -------------------------------------------------------------------------------
    Call(
        name="contacts.list",
        caller="frontend/src/pages/Contacts/index.js:189",
        page="/contacts",
        method="GET",
        path="/contacts/",
        query=("searchParam", "pageNumber", "groupId"),
        reads=(
            "contacts[].id",
            "contacts[].name",
            "contacts[].number",
            "contacts[].email",
            "contacts[].profilePicUrl",
            "contacts[].messengerId",
            "contacts[].instagramId",
            "contacts[].group.name",
            "contacts[].active",
            "hasMore",
        ),
        crashes=(
            "contacts not an array (zapx's {records}): contacts.forEach throws in the reducer "
            "(Contacts/index.js:68): blank page",
        ),
        original_shape={
            "contacts": [
                {
                    **CONTACT_ROW,
                    "tickets": [
                        {"id": "int", "status": "str", "createdAt": "date", "updatedAt": "date"}
                    ],
                    "group": {"id": "int", "name": "str", "when": "or null"},
                }
            ],
            **PAGE,
        },
        original_source=(
            "backend/src/controllers/ContactController.ts:47-59",
            "backend/src/services/ContactServices/ListContactsService.ts:17-71 (30 a page, name "
            "ASC, include tickets and group)",
        ),
        notes="The same hook shape is read by hooks/useContacts/index.js:26-29 "
        "(contacts, hasMore, count) and components/NewTicketModal/index.js:103.",
        covered=True,
    ),
    Call(
        name="groups.list",
        caller="frontend/src/pages/Contacts/index.js:170; components/ContactModal/index.js:100",
        page="/contacts (out of scope: contact groups)",
        method="GET",
        path="/groups",
        scope="out",
        reads=("[].id", "[].name"),
        crashes=(
            "a 2xx that is not an array: groups.map throws in render (Contacts/index.js:434)",
        ),
        original_shape=[{"id": "int", "name": "str"}],
        original_source=("backend/src/controllers/GroupController.ts",),
    ),
    Call(
        name="contacts.show",
        caller="frontend/src/components/ContactModal/index.js:120",
        page="/contacts (edit dialog)",
        method="GET",
        path="/contacts/{id}",
        reads=(
            "name",
            "number",
            "email",
            "groupId",
            "disableBot",
            "extraInfo[].name",
            "extraInfo[].value",
            "*: kept and PUT back",
        ),
        original_shape={
            **CONTACT_ROW,
            "extraInfo": "[{id, name, value, contactId}]",
            "whatsapp": "object|null",
        },
        original_source=(
            "backend/src/controllers/ContactController.ts:133-140",
            "backend/src/services/ContactServices/ShowContactService.ts:4-19 (another "
            "company's: 400 'Não é possível excluir registro de outra empresa')",
        ),
        covered=True,
    ),
    Call(
        name="contacts.create",
        caller="frontend/src/components/ContactModal/index.js:144",
        page="/contacts (dialog)",
        method="POST",
        path="/contacts",
        body={
            "name": "str",
            "number": "str",
            "email": "str (may be '')",
            "disableBot": "bool",
            "groupId": "int or '' (not nulled)",
            "extraInfo": "array of {name, value} (when added)",
        },
        body_kind="json",
        reads=(),
        original_shape={**CONTACT_ROW, "or": "{alreadyExists: true, existingContact} (200)"},
        original_source=(
            "backend/src/controllers/ContactController.ts:77-131 (WhatsApp check: "
            "ERR_WAPP_INVALID_CONTACT / ERR_WAPP_CHECK_CONTACT; CheckNumber's Error "
            "ERR_CHECK_NUMBER is a 500)",
        ),
        covered=True,
    ),
    Call(
        name="contacts.update",
        caller="frontend/src/components/ContactModal/index.js:141",
        page="/contacts (dialog)",
        method="PUT",
        path="/contacts/{id}",
        body={"*": "echo of contacts.show with the form's changes"},
        body_kind="json",
        reads=(),
        original_shape=CONTACT_ROW,
        original_source=("backend/src/controllers/ContactController.ts:142-183",),
        covered=True,
    ),
    Call(
        name="contacts.delete",
        caller="frontend/src/pages/Contacts/index.js:294 (one), :308 (each selected, in turn)",
        page="/contacts",
        method="DELETE",
        path="/contacts/{id}",
        reads=(),
        original_shape={"message": "str"},
        original_source=("backend/src/controllers/ContactController.ts:185-203",),
        covered=True,
    ),
    Call(
        name="contacts.upload",
        caller="frontend/src/pages/Contacts/index.js:327-331",
        page="/contacts (Importar)",
        method="POST",
        path="/contacts/upload",
        body={"file": "file"},
        body_kind="multipart",
        reads=(),
        original_shape="[contact]",
        original_source=("backend/src/controllers/ContactController.ts:214-229",),
        notes="Then history.go(0): the page reloads. Without a file it posts /contacts/import "
        "(the phone's contacts; out of scope).",
        covered=True,
    ),
    Call(
        name="contacts.list_all",
        caller="frontend/src/components/ScheduleModal/index.js:110",
        page="/schedules (out of scope: schedules; zapx serves the call)",
        method="GET",
        path="/contacts/list",
        scope="out",
        query=("companyId",),
        reads=("[].id", "[].name"),
        crashes=("not an array: contactList.map throws in the dialog's effect (:111)",),
        original_shape=[CONTACT_ROW],
        original_source=(
            "backend/src/controllers/ContactController.ts:205-212",
            "backend/src/services/ContactServices/SimpleListService.ts (the company's contacts, "
            "name ASC; companyId from the token)",
        ),
        covered=True,
    ),
    # --- connections ----------------------------------------------------------------------------
    Call(
        name="whatsapp.show_for_edit",
        caller="frontend/src/components/WhatsAppModal/index.js:96",
        page="/connections (edit dialog)",
        method="GET",
        path="whatsapp/{id}",
        query=("session",),
        reads=("queues[].id", "transferQueueId", "promptId", "*: every key goes into the form"),
        original_shape={**WHATSAPP_ROW, "queues": "[queue + options]", "prompt": "object|null"},
        original_source=(
            "backend/src/controllers/WhatsAppController.ts:110-118",
            "backend/src/services/WhatsappService/ShowWhatsAppService.ts:8-44",
        ),
        covered=True,
    ),
    Call(
        name="whatsapp.create",
        caller="frontend/src/components/WhatsAppModal/index.js:146",
        page="/connections (Adicionar > Canal WhatsApp)",
        method="POST",
        path="/whatsapp",
        body={
            "name": "str",
            "greetingMessage": "str",
            "complationMessage": "str",
            "outOfHoursMessage": "str",
            "ratingMessage": "str",
            "isDefault": "bool",
            "token": "str",
            "provider": "str ('beta')",
            "expiresInactiveMessage": "str",
            "expiresTicket": "int",
            "timeUseBotQueues": "int",
            "maxUseBotQueues": "int",
            "wavoip": "str",
            "timeToTransfer": "int (only once typed)",
            "queueIds": "array of int",
            "transferQueueId": "int|null",
            "promptId": "int|null",
        },
        body_kind="json",
        reads=(),
        original_shape={**WHATSAPP_ROW, "queues": "[queue]"},
        original_source=(
            "backend/src/routes/whatsappRoutes.ts:10 (POST /whatsapp/; Express also matches "
            "/whatsapp)",
            "backend/src/controllers/WhatsAppController.ts:47-108",
            "backend/src/services/WhatsappService/CreateWhatsAppService.ts:61-180 (plan "
            "connections: 400 'Número máximo de conexões já alcançado: N'; name taken: 400; "
            "several queues without greeting: ERR_WAPP_GREETING_REQUIRED)",
        ),
        notes="Form initial state: WhatsAppModal/index.js:67-83; payload built at :133-138 "
        "(queues and session keys dropped). Empty strings are sent as ''. No refetch: the row "
        "appears through company-{id}-whatsapp {action: 'update', whatsapp}.",
        covered=True,
    ),
    Call(
        name="whatsapp.update",
        caller="frontend/src/components/WhatsAppModal/index.js:144",
        page="/connections (edit dialog)",
        method="PUT",
        path="/whatsapp/{id}",
        body={
            "*": "echo of whatsapp.show_for_edit without queues and session",
            "queueIds": "array of int (undefined when the GET had no queues)",
            "transferQueueId": "int|null",
            "promptId": "int|null",
        },
        body_kind="json",
        reads=(),
        original_shape={**WHATSAPP_ROW, "queues": "[queue]"},
        original_source=(
            "backend/src/controllers/WhatsAppController.ts:120-148",
            "backend/src/services/WhatsappService/UpdateWhatsAppService.ts",
        ),
        covered=True,
    ),
    Call(
        name="whatsapp.delete",
        caller="frontend/src/pages/Connections/index.js:227",
        page="/connections",
        method="DELETE",
        path="/whatsapp/{id}",
        reads=(),
        original_shape={"message": "str"},
        original_source=("backend/src/controllers/WhatsAppController.ts:150-169",),
        notes="The row goes away through company-{id}-whatsapp {action: 'delete', whatsappId}.",
        covered=True,
    ),
    Call(
        name="whatsapp.qrcode",
        caller="frontend/src/components/QrcodeModal/index.js:21",
        page="/connections (QR dialog, status qrcode)",
        method="GET",
        path="/whatsapp/{id}",
        reads=("qrcode",),
        original_shape=WHATSAPP_ROW,
        original_source=("backend/src/controllers/WhatsAppController.ts:110-118",),
        covered=True,
    ),
    Call(
        name="whatsappsession.start",
        caller="frontend/src/pages/Connections/index.js:145 (DISCONNECTED: 'tentar novamente')",
        page="/connections",
        method="POST",
        path="/whatsappsession/{id}",
        scope="out",
        original_shape={"message": "str"},
        original_source=("backend/src/controllers/WhatsAppSessionController.ts:14",),
    ),
    Call(
        name="whatsappsession.new_qr",
        caller="frontend/src/pages/Connections/index.js:153 (DISCONNECTED: 'novo QR')",
        page="/connections",
        method="PUT",
        path="/whatsappsession/{id}",
        scope="out",
        original_shape={"message": "str"},
        original_source=("backend/src/controllers/WhatsAppSessionController.ts:27",),
    ),
    Call(
        name="whatsappsession.disconnect",
        caller="frontend/src/pages/Connections/index.js:219 (CONNECTED/PAIRING/TIMEOUT button)",
        page="/connections",
        method="DELETE",
        path="/whatsappsession/{id}",
        scope="out",
        original_shape={"message": "str"},
        original_source=("backend/src/controllers/WhatsAppSessionController.ts:41",),
    ),
    Call(
        name="whatsapp.restart_all",
        caller="frontend/src/pages/Connections/index.js:136",
        page="/connections",
        method="POST",
        path="/whatsapp-restart/",
        scope="out",
        original_shape={"message": "str"},
        original_source=(
            "backend/src/controllers/WhatsAppController.ts:172-185 (403 "
            "ERR_NO_PERMISSION unless admin)",
        ),
    ),
    Call(
        name="connections.prompts",
        caller="frontend/src/components/WhatsAppModal/index.js:113",
        page="/connections (dialog; out of scope: prompts)",
        method="GET",
        path="/prompt",
        scope="out",
        reads=("prompts[].id", "prompts[].name"),
        crashes=("a 2xx without prompts[]: prompts.map throws when the dialog renders (:349)",),
        original_shape={"prompts": "[prompt]", "count": "int", "hasMore": "bool"},
        original_source=("backend/src/controllers/PromptController.ts",),
    ),
    Call(
        name="connections.queues",
        caller="frontend/src/components/WhatsAppModal/index.js:124; "
        "components/QueueSelect/index.js:34",
        page="/connections (dialog; out of scope: queues)",
        method="GET",
        path="/queue",
        scope="out",
        reads=("[].id", "[].name", "[].color"),
        crashes=("a 2xx that is not an array: queues.map throws (QueueSelect/index.js:101)",),
        original_shape=[{"id": "int", "name": "str", "color": "str", "...": "..."}],
        original_source=("backend/src/controllers/QueueController.ts",),
    ),
    # --- files ----------------------------------------------------------------------------------
    Call(
        name="files.list",
        caller="frontend/src/pages/Files/index.js:110",
        page="/files",
        method="GET",
        path="/files/",
        query=("searchParam", "pageNumber"),
        reads=("files[].id", "files[].name", "hasMore"),
        crashes=("files not an array: files.forEach throws in the reducer (Files/index.js:45)",),
        original_shape={"files": [FILES_ROW], **PAGE},
        original_source=("backend/src/controllers/FilesController.ts:21-32",),
    ),
    Call(
        name="files.show",
        caller="frontend/src/components/FileModal/index.js:181",
        page="/files (edit dialog)",
        method="GET",
        path="/files/{id}",
        reads=(
            "name",
            "message",
            "options[].id",
            "options[].name",
            "options[].message",
            "options[].path",
            "*: becomes the form",
        ),
        on_error="unhandled rejection (the try does not cover the async body)",
        original_shape={**FILES_ROW, "options": [FILES_OPTION_ROW]},
        original_source=("backend/src/services/FileServices/ShowService.ts:5-23",),
    ),
    Call(
        name="files.create",
        caller="frontend/src/components/FileModal/index.js:240",
        page="/files (dialog)",
        method="POST",
        path="/files",
        body={
            "name": "str (name, else the message's first 50 characters, else 'Lista de Arquivos')",
            "message": "str",
            "userId": "int",
            "options": "array of {file: {} (a File serialised by JSON), message: str, name: "
            "str|null}",
        },
        body_kind="json",
        reads=("id", "options[].id", "options.length"),
        crashes=("options absent: data.data.options.length throws, caught: toastError (:241)",),
        original_shape={**FILES_ROW, "options": [FILES_OPTION_ROW]},
        original_source=(
            "backend/src/controllers/FilesController.ts:34-52",
            "backend/src/services/FileServices/CreateService.ts:14-60 (name min 3, unique per "
            "company: 400 ERR_RATING_NAME_ALREADY_EXISTS; options upserted)",
        ),
    ),
    Call(
        name="files.update",
        caller="frontend/src/components/FileModal/index.js:235",
        page="/files (dialog)",
        method="PUT",
        path="/files/{id}",
        body={"*": "as files.create, over the echo of files.show"},
        body_kind="json",
        reads=("options[].id", "options.length"),
        original_shape={**FILES_ROW, "options": [FILES_OPTION_ROW]},
        original_source=(
            "backend/src/controllers/FilesController.ts:103-124 (admins only: "
            "403 ERR_NO_PERMISSION)",
        ),
    ),
    Call(
        name="files.upload",
        caller="frontend/src/components/FileModal/index.js:213",
        page="/files (dialog)",
        method="POST",
        path="/files/uploadList/{id}",
        body={
            "fileId": "str (the list id)",
            "typeArch": "str ('fileList')",
            "files": "file (repeated, one per option with a file)",
            "mediaType": "str (repeated: the file's MIME type)",
            "name": "str (repeated: generated, e.g. image_1700000000000)",
            "message": "str (repeated)",
            "id": "str (repeated: the option id from the create/update answer)",
        },
        body_kind="multipart",
        reads=(),
        original_shape={"mensagem": "str"},
        original_source=(
            "backend/src/routes/filesRoutes.ts:19 (multer upload.array('files'))",
            "backend/src/controllers/FilesController.ts:63-101",
        ),
    ),
    Call(
        name="files.delete",
        caller="frontend/src/pages/Files/index.js:175",
        page="/files",
        method="DELETE",
        path="/files/{id}",
        reads=(),
        original_shape={"message": "str"},
        original_source=("backend/src/controllers/FilesController.ts:127-143",),
        notes="Then refetches (:184-186).",
    ),
)


# --- socket.io ----------------------------------------------------------------------------------

SOCKET = {
    "client": "frontend/src/context/Socket/SocketContext.js:118-123 (socket.io-client 4.7.5)",
    "url": "REACT_APP_BACKEND_URL; a path in it (https://host/api) becomes the NAMESPACE "
    "'/api', the HTTP path stays /socket.io/",
    "path": "/socket.io/",
    "transports": ("websocket",),  # no long-polling fallback, so no HTTP CORS on the socket
    "query": {
        "token": "the access token from localStorage (JSON.parse'd), JWT with exp",
        "EIO": "4",
        "transport": "websocket",
        "r": "'1' on reconnects (SocketContext.js:126, :150)",
    },
    "namespace": "/",
    "before_connect": "isExpired(token) reloads the page after 1 s instead of connecting "
    "(SocketContext.js:107-113); no token: a dummy socket, nothing connects",
    "server_on_connect": "verify the token (else disconnect), join rooms "
    "company-{companyId}-mainchannel and user-{userId}, then emit 'ready' "
    "(backend/src/libs/socket.ts:21-55, :167)",
    "ready": "the client waits for 'ready' before its 'ready'/'connect' callbacks "
    "(SocketContext.js:172-181; NotificationsPopOver/index.js:115 joins notifications on it)",
    "client_emits": (
        "userStatus (every 5 min, layout/index.js:248-251)",
        "joinNotification / leaveNotification (NotificationsPopOver)",
        "joinTickets / leaveTickets, joinChatBox / leaveChatBox (ticket pages)",
    ),
    "origin": "the original: new SocketIO(httpServer, {cors: {origin: FRONTEND_URL}}) "
    "(libs/socket.ts:15-19)",
    "reconnect": "on 'io server disconnect' the client reconnects with the stored token "
    "(SocketContext.js:137-153); an expired one reloads the page",
}


@dataclasses.dataclass(frozen=True)
class SocketEvent:
    """An event a page listens to: the payload keys it reads per action."""

    name: str  # {companyId}, {listId} are placeholders
    listeners: tuple[str, ...]
    actions: dict[str, tuple[str, ...]]
    original_emitters: tuple[str, ...]
    notes: str = ""


EVENTS: tuple[SocketEvent, ...] = (
    SocketEvent(
        name="company-{companyId}-campaign",
        listeners=(
            "frontend/src/pages/Campaigns/index.js:134-141",
            "frontend/src/pages/CampaignReport/index.js:104-115",
        ),
        actions={
            "create": ("record (a campaigns.list row: contactList and whatsapp nested)",),
            "update": (
                "record (list page: the row replaces the old one; report page: the whole "
                "campaign, record.id compared with +campaignId, record.status == FINALIZADA "
                "refetches after 5 s)",
            ),
            "delete": ("id (a string or a number: +data.id)",),
        },
        original_emitters=(
            "backend/src/controllers/CampaignController.ts:128-131, :148-151 (create)",
            "backend/src/controllers/CampaignController.ts:190-193 (update)",
            "backend/src/controllers/CampaignController.ts:230-233 (delete, id from the URL)",
            "backend/src/queues.ts:588-591, :604-607, :624-627 (progress: Campaign + "
            "contactList{contacts} only, no whatsapp)",
            "backend/src/queues.ts:934-937 (per message: getCampaign, queues.ts:355-383: "
            "contactList{id, name, contacts(valid)}, whatsapp{id, name}, shipping[+contact])",
        ),
        notes="The report listener reads data.record.id for every action: a delete event "
        "(no record) throws inside the listener (not a render crash). A record with whatsappId "
        "but no whatsapp (queues.ts:588) blanks both pages in the original too. A record "
        "without shipping leaves the report's counters as they were (has(campaign, "
        "'shipping') is false) but updates status, successRate and completedAt.",
    ),
    SocketEvent(
        name="company-{companyId}-ContactList",
        listeners=("frontend/src/pages/ContactLists/index.js:137-145",),
        actions={
            "create": ("record (id, name, contactsCount shown as || 0)",),
            "update": ("record",),
            "delete": ("id",),
        },
        original_emitters=(
            "backend/src/controllers/ContactListController.ts:66-69, :107-110, :125-128",
        ),
        notes="Capital C and L: not 'contactList'.",
    ),
    SocketEvent(
        name="company-{companyId}-ContactListItem",
        listeners=("frontend/src/pages/ContactListItems/index.js:161-173",),
        actions={
            "create": ("record (a contact_list_items.list row)",),
            "update": ("record",),
            "delete": ("id",),
            "reload": ("records (array, merged into the rows shown)",),
        },
        original_emitters=(
            "backend/src/controllers/ContactListItemController.ts:70-73, :111-114, :129-132",
        ),
        notes="The page does not filter by list: a create in another list of the company is "
        "shown too.",
    ),
    SocketEvent(
        name="company-{companyId}-ContactListItem-{listId}",
        listeners=("frontend/src/pages/ContactListItems/index.js:175-182",),
        actions={"reload": ("records (array, merged into the rows shown, not a refetch)",)},
        original_emitters=(
            "backend/src/controllers/ContactListController.ts:153-156 (after "
            "an upload: the items it created)",
        ),
    ),
    SocketEvent(
        name="company-{companyId}-whatsapp",
        listeners=("frontend/src/hooks/useWhatsApps/index.js:81-91",),
        actions={
            "update": ("whatsapp (a whole row: added when its id is new)",),
            "delete": ("whatsappId",),
        },
        original_emitters=(
            "backend/src/controllers/WhatsAppController.ts:95-105, :135-145, :163-166",
        ),
    ),
    SocketEvent(
        name="company-{companyId}-whatsappSession",
        listeners=(
            "frontend/src/hooks/useWhatsApps/index.js:93-97",
            "frontend/src/components/QrcodeModal/index.js:35-43",
        ),
        actions={
            "update": (
                "session.id",
                "session.status",
                "session.updatedAt",
                "session.qrcode ('' closes the QR dialog)",
                "session.retries",
            ),
        },
        original_emitters=(
            "backend/src/services/WbotServices/StartWhatsAppSession.ts:16-19",
            "backend/src/libs/wbot.ts:204, :217, :237, :261, :288",
        ),
        notes="The original broadcasts these with io.emit to every socket of every company.",
    ),
    SocketEvent(
        name="company-{companyId}-user",
        listeners=("frontend/src/hooks/useAuth.js/index.js:83-87",),
        actions={"update": ("user.id", "user (replaces the logged-in user when the ids match)")},
        original_emitters=("backend/src/controllers/UserController.ts:86-89, :119-122, :138-141",),
        notes="A user without queues or company here breaks the pages that read them.",
    ),
    SocketEvent(
        name="company-{companyId}-auth",
        listeners=("frontend/src/layout/index.js:238-246",),
        actions={
            "update": (
                "user.id (== the stored userId: 'Sua conta foi acessada em outro "
                "computador', localStorage cleared, reload)",
            )
        },
        original_emitters=(
            "backend/src/controllers/SessionController.ts:71-79 (on login, to room user-{id})",
        ),
    ),
    SocketEvent(
        name="company-{companyId}-contact",
        listeners=("frontend/src/pages/Contacts/index.js:208-216",),
        actions={"create": ("contact",), "update": ("contact",), "delete": ("contactId",)},
        original_emitters=(
            "backend/src/controllers/ContactController.ts:125-128, :177-180, "
            ":197-200, :223-226 (upload: records, read as contact: undefined)",
        ),
    ),
    SocketEvent(
        name="company-{companyId}-file",
        listeners=("frontend/src/pages/Files/index.js:139-146",),
        actions={"create": ("files",), "update": ("files",), "delete": ("fileId",)},
        original_emitters=(
            "backend/src/controllers/FilesController.ts:46, :118, :137 (emits "
            "'company{companyId}-file', no dash, payload fileList: never heard)",
        ),
    ),
)


# --- what the menu and the login need -------------------------------------------------------------

GATES = {
    "login_due_date": "user.company.dueDate must parse as a moment after now; else the login is "
    "refused in the browser (useAuth.js/index.js:114-142). A date only (YYYY-MM-DD) counts from "
    "its midnight, local time; under 5 days left adds a warning toast (:133-135)",
    "campaign_menu": "profile 'admin' (Can drawer-admin-items:view, layout/MainListItems.js:458-"
    "496; rules.js:6-18) AND showCampaigns: plan.useCampaigns from companies.listPlan "
    "(MainListItems.js:239-253) — or, when that call fails, localStorage 'cshow' set at login "
    "from company.settings[key=campaignsEnabled].value == 'true' (useAuth.js/index.js:105-112, "
    "MainListItems.js:297-301). The listPlan answer, when it comes, wins",
    "campaign_routes": "always mounted: routes/index.js:51-58 tests getItem('cshow') !== "
    "undefined, and getItem returns null, never undefined",
    "connections_menu": "profile 'admin' (MainListItems.js:509-517); add/edit/delete buttons "
    "need admin too (rules.js:15-17)",
    "files_menu": "profile 'admin' (MainListItems.js:569-573)",
    "landing": "after login: /tickets (useAuth.js/index.js:136), a ticket page that reads "
    "user.queues; '/' (Dashboard) when a logged-in user opens /login",
}


# --- error codes ---------------------------------------------------------------------------------

#: backendErrors of frontend/src/translate/languages/pt.js:1021-1057 and en.js:371-407 (es.js:931
#: has en's keys). toastError (frontend/src/errors/toastError.js:5-82) shows the translation of
#: ``response.data.error`` when there is one, else ``error`` as it is; a 500 shows nothing.
BACKEND_ERRORS: dict[str, tuple[str, str | None]] = {
    "ERR_NO_OTHER_WHATSAPP": (
        "Deve haver pelo menos um WhatsApp padrão.",
        "There must be at lest one default WhatsApp connection.",
    ),
    "ERR_NO_DEF_WAPP_FOUND": (
        "Nenhum WhatsApp padrão encontrado. Verifique a página de conexões.",
        "No default WhatsApp found. Check connections page.",
    ),
    "ERR_WAPP_NOT_INITIALIZED": (
        "Esta sessão do WhatsApp não foi inicializada. Verifique a página de conexões.",
        "This WhatsApp session is not initialized. Check connections page.",
    ),
    "ERR_WAPP_CHECK_CONTACT": (
        "Não foi possível verificar o contato do WhatsApp. Verifique a página de conexões",
        "Could not check WhatsApp contact. Check connections page.",
    ),
    "ERR_WAPP_INVALID_CONTACT": (
        "Este não é um número de Whatsapp válido.",
        "This is not a valid whatsapp number.",
    ),
    "ERR_WAPP_DOWNLOAD_MEDIA": (
        "Não foi possível baixar mídia do WhatsApp. Verifique a página de conexões.",
        "Could not download media from WhatsApp. Check connections page.",
    ),
    "ERR_INVALID_CREDENTIALS": (
        "Erro de autenticação. Por favor, tente novamente.",
        "Authentication error. Please try again.",
    ),
    "ERR_SENDING_WAPP_MSG": (
        "Erro ao enviar mensagem do WhatsApp. Verifique a página de conexões.",
        "Error sending WhatsApp message. Check connections page.",
    ),
    "ERR_DELETE_WAPP_MSG": (
        "Não foi possível excluir a mensagem do WhatsApp.",
        "Couldn't delete message from WhatsApp.",
    ),
    "ERR_OTHER_OPEN_TICKET": (
        "Já existe um tíquete aberto para este contato.",
        "There's already an open ticket for this contact.",
    ),
    "ERR_SESSION_EXPIRED": ("Sessão expirada. Por favor entre.", "Session expired. Please login."),
    "ERR_USER_CREATION_DISABLED": (
        "A criação do usuário foi desabilitada pelo administrador.",
        "User creation was disabled by administrator.",
    ),
    "ERR_NO_PERMISSION": (
        "Você não tem permissão para acessar este recurso.",
        "You don't have permission to access this resource.",
    ),
    "ERR_DUPLICATED_CONTACT": (
        "Já existe um contato com este número.",
        "A contact with this number already exists.",
    ),
    "ERR_NO_SETTING_FOUND": (
        "Nenhuma configuração encontrada com este ID.",
        "No setting found with this ID.",
    ),
    "ERR_NO_CONTACT_FOUND": (
        "Nenhum contato encontrado com este ID.",
        "No contact found with this ID.",
    ),
    "ERR_NO_TICKET_FOUND": (
        "Nenhum tíquete encontrado com este ID.",
        "No ticket found with this ID.",
    ),
    "ERR_NO_USER_FOUND": ("Nenhum usuário encontrado com este ID.", "No user found with this ID."),
    "ERR_NO_WAPP_FOUND": (
        "Nenhum WhatsApp encontrado com este ID.",
        "No WhatsApp found with this ID.",
    ),
    "ERR_CREATING_MESSAGE": (
        "Erro ao criar mensagem no banco de dados.",
        "Error while creating message on database.",
    ),
    "ERR_CREATING_TICKET": (
        "Erro ao criar tíquete no banco de dados.",
        "Error while creating ticket on database.",
    ),
    "ERR_FETCH_WAPP_MSG": (
        "Erro ao buscar a mensagem no WhtasApp, talvez ela seja muito antiga.",
        "Error fetching the message in WhtasApp, maybe it is too old.",
    ),
    "ERR_QUEUE_COLOR_ALREADY_EXISTS": (
        "Esta cor já está em uso, escolha outra.",
        "This color is already in use, pick another one.",
    ),
    "ERR_WAPP_GREETING_REQUIRED": (
        "A mensagem de saudação é obrigatória quando há mais de uma Fila.",
        "Greeting message is required if there is more than one queue.",
    ),
    "ERR_CHECK_NUMBER": ("Número inválido. Verifique o número e tente novamente.", None),
}

#: ``AppError("ERR_...")`` the original throws on the campaign journey: (code, HTTP status,
#: where, under backend/src/). Codes not in BACKEND_ERRORS reach the user as the raw code.
THROWN: tuple[tuple[str, int, str], ...] = (
    ("ERR_SESSION_EXPIRED", 401, "middleware/isAuth.ts:20 (no Authorization)"),
    ("ERR_SESSION_EXPIRED", 401, "controllers/SessionController.ts:107, :126"),
    ("ERR_SESSION_EXPIRED", 401, "services/AuthServices/RefreshTokenService.ts:37, :46"),
    ("ERR_INVALID_CREDENTIALS", 401, "services/UserServices/AuthUserService.ts:42, :46"),
    ("ERR_RECAPTCHA_TOKEN_MISSING", 400, "controllers/SessionController.ts:17"),
    ("ERR_RECAPTCHA_VALIDATION_FAILED", 400, "controllers/SessionController.ts:46"),
    ("ERR_RECAPTCHA_INVALID_HOSTNAME", 400, "controllers/SessionController.ts:58"),
    ("ERR_INTERNAL_SERVER_ERROR", 500, "controllers/SessionController.ts:95"),
    ("ERR_NO_USER_FOUND", 404, "services/UserServices/ShowUserService.ts:26"),
    ("ERR_NO_PERMISSION", 403, "controllers/WhatsAppController.ts:179"),
    ("ERR_NO_PERMISSION", 403, "controllers/FilesController.ts:108"),
    ("ERR_NO_PERMISSION", 403, "controllers/UserController.ts:68, :132"),
    ("ERR_NO_CAMPAIGN_FOUND", 404, "services/CampaignService/UpdateService.ts:33"),
    ("ERR_NO_CAMPAIGN_FOUND", 404, "services/CampaignService/DeleteService.ts:10"),
    ("ERR_NO_TICKETNOTE_FOUND", 404, "services/CampaignService/ShowService.ts:18"),
    ("ERR_CAMPAIGN_INVALID_NAME", 400, "services/CampaignService/CreateService.ts:32"),
    ("ERR_CAMPAIGN_REQUIRED", 400, "services/CampaignService/CreateService.ts:33"),
    ("ERR_NO_TICKETNOTE_FOUND", 404, "services/ContactListService/ShowService.ts:8"),
    ("ERR_NO_CONTACTLIST_FOUND", 404, "services/ContactListService/UpdateService.ts:15"),
    ("ERR_NO_CONTACTLIST_FOUND", 404, "services/ContactListService/DeleteService.ts:10"),
    ("ERR_CONTACTLIST_INVALID_NAME", 400, "services/ContactListService/CreateService.ts:15"),
    ("ERR_CONTACTLIST_REQUIRED", 400, "services/ContactListService/CreateService.ts:16"),
    ("ERR_NO_CONTACTLISTITEM_FOUND", 404, "services/ContactListItemService/ShowService.ts:8"),
    ("ERR_NO_CONTACTLISTITEM_FOUND", 404, "services/ContactListItemService/UpdateService.ts:19"),
    ("ERR_NO_CONTACTLISTITEM_FOUND", 404, "services/ContactListItemService/DeleteService.ts:10"),
    (
        "ERR_CONTACTLISTITEM_INVALID_NAME",
        400,
        "services/ContactListItemService/CreateService.ts:20",
    ),
    ("ERR_CONTACTLISTITEM_REQUIRED", 400, "services/ContactListItemService/CreateService.ts:21"),
    ("ERR_NO_CONTACT_FOUND", 404, "services/ContactServices/ShowContactService.ts:15"),
    ("ERR_NO_CONTACT_FOUND", 404, "services/ContactServices/UpdateContactService.ts:44"),
    ("ERR_NO_CONTACT_FOUND", 404, "services/ContactServices/DeleteContactService.ts:10"),
    ("ERR_DUPLICATED_CONTACT", 400, "services/ContactServices/CreateContactService.ts:35"),
    ("ERR_WAPP_INVALID_CONTACT", 400, "services/WbotServices/CheckIsValidContact.ts:20"),
    ("ERR_WAPP_CHECK_CONTACT", 400, "services/WbotServices/CheckIsValidContact.ts:22"),
    ("ERR_CHECK_NUMBER", 500, "services/WbotServices/CheckNumber.ts:28 (new Error)"),
    ("ERR_NO_WAPP_FOUND", 404, "services/WhatsappService/ShowWhatsAppService.ts:40"),
    ("ERR_NO_WAPP_FOUND", 404, "services/WhatsappService/DeleteWhatsAppService.ts:10"),
    ("ERR_WAPP_GREETING_REQUIRED", 400, "services/WhatsappService/CreateWhatsAppService.ts:123"),
    ("ERR_WAPP_GREETING_REQUIRED", 400, "services/WhatsappService/UpdateWhatsAppService.ts:85"),
    ("ERR_WAPP_NOT_INITIALIZED", 400, "libs/wbot.ts:88"),
    ("ERR_NO_DEF_WAPP_FOUND", 400, "helpers/GetDefaultWhatsApp.ts:37 (+ ' in COMPANY n')"),
    ("ERR_NO_FILE_FOUND", 404, "services/FileServices/ShowService.ts:19"),
    ("ERR_NO_RATING_FOUND", 404, "services/FileServices/DeleteService.ts:10"),
    ("ERR_RATING_NAME_ALREADY_EXISTS", 400, "services/FileServices/CreateService.ts:27"),
    ("ERR_NO_COMPANY_FOUND", 404, "services/CompanyService/ShowCompanyService.ts:8"),
    ("ERR_NO_PLAN_FOUND", 404, "services/PlanService/ShowPlanService.ts:8"),
)

#: The original's other failures on the journey carry human text in ``error`` (AppError's default
#: status is 400, backend/src/errors/AppError.ts:1-11): Yup messages such as "name is a required
#: field"; "Só é permitido alterar campanha Inativa e Programada"; "Não é permitido excluir
#: campanha em andamento"; "Número máximo de conexões já alcançado: N"; "Número máximo de
#: usuários já alcançado: N"; "Invalid token. We'll try to assign a new one on next request"
#: (403, isAuth.ts:34: the status that makes the frontend refresh its token). (where, status,
#: text); paths under backend/src/.
TEXT_ERRORS = (
    (
        "middleware/isAuth.ts:34",
        403,
        "Invalid token. We'll try to assign a new one on next request",
    ),
    (
        "services/CampaignService/UpdateService.ts:36-40",
        400,
        "Só é permitido alterar campanha Inativa e Programada",
    ),
    (
        "services/CampaignService/DeleteService.ts:14",
        400,
        "Não é permitido excluir campanha em andamento",
    ),
    (
        "services/WhatsappService/CreateWhatsAppService.ts:76-79",
        400,
        "Número máximo de conexões já alcançado: {count}",
    ),
    (
        "services/UserServices/CreateUserService.ts:54-57",
        400,
        "Número máximo de usuários já alcançado: {count}",
    ),
    (
        "controllers/CompanyController.ts:190",
        400,
        "Você não possui permissão para acessar este recurso!",
    ),
)

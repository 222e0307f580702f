"""CORS for the frontend's origins (``FRONTEND_URL``): Falcon's own middleware, two fixes.

The ZapExpress frontend calls the API from its own origin with ``withCredentials``, so every
answer to it — errors included, or the browser hides a 401 or 403 from the page, which decides
on them — needs ``Access-Control-Allow-Origin: <that exact origin>`` and
``Access-Control-Allow-Credentials: true``. Falcon's :class:`falcon.CORSMiddleware` does that
and answers preflights from the responder's ``Allow`` header; on top of it:

- ``Vary: Origin`` on every answer: with several origins, the headers differ by caller, and a
  shared cache must not hand one origin's answer to another;
- ``Access-Control-Max-Age`` from ``CORS_MAX_AGE_S`` instead of Falcon's fixed 24 h (browsers cap
  it: Chromium at 2 h, Firefox at 24 h).

Other origins get no ``Access-Control-*`` header at all; the app installs nothing when
``FRONTEND_URL`` is empty. Preflights must pass authentication (``api/auth.py``).
"""

from __future__ import annotations

import falcon

#: Response headers of zapx a page may read: the request id (support), Retry-After (the login
#: limit's 429), the rejected-rows CSV's file name.
EXPOSE_HEADERS = ("X-Request-Id", "Retry-After", "Content-Disposition")


class Cors(falcon.CORSMiddleware):
    """Allow ``origins`` (exact ``scheme://host[:port]`` strings), credentials included."""

    def __init__(self, origins: tuple[str, ...], max_age_s: int):
        super().__init__(
            allow_origins=origins, allow_credentials=origins, expose_headers=EXPOSE_HEADERS
        )
        self.max_age = str(max_age_s)

    def process_response(self, req, resp, resource, req_succeeded):
        resp.append_header("Vary", "Origin")
        super().process_response(req, resp, resource, req_succeeded)
        if resp.get_header("Access-Control-Max-Age") is not None:
            resp.set_header("Access-Control-Max-Age", self.max_age)

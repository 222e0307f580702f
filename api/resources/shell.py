"""The public calls the frontend's shell makes on every load: ``/version`` and two settings.

The original backend answers them from its platform settings (``SettingController.show``, company
1, no token) and a fixed version. Without them the frontend shows an error toast on every load
(``App.js``: ``GET /settings/system_title``) or logs one (the login page's
``GET /settings/viewregister``). Other settings belong to the original backend's settings page.
"""

from __future__ import annotations

import falcon

from api import schemas
from api.openapi import doc
from api.resources.base import Resource
from zapx import __version__


class VersionResource(Resource):
    auth_required = False
    uses_db = False

    @doc("zapx's version, as the frontend's menu reads it", public=True, response=schemas.VERSION)
    def on_get(self, req, resp):
        resp.media = {"version": __version__}


class PublicSettingResource(Resource):
    auth_required = False
    uses_db = False

    def _values(self) -> dict[str, str]:
        # viewregister: the login page's "sign up" link; zapx has no sign-up.
        return {"system_title": self.deps.config.system_title, "viewregister": "disabled"}

    @doc(
        "The two public settings the frontend reads (system_title, viewregister); other keys are "
        "the original backend's",
        public=True,
        response=schemas.PUBLIC_SETTING,
    )
    def on_get(self, req, resp, key: str):
        value = self._values().get(key)
        if value is None:
            raise falcon.HTTPRouteNotFound()  # answered as any path zapx has no route for
        resp.media = {"key": key, "value": value}
